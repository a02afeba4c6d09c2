"""CPU time and size of the captcha renderings (`portal.services.captcha_media`).

Renders ``--count`` images and audio clips of ``--digits`` digits, each with its own random seed,
and prints the median and 90th percentile of the CPU time per rendering (``time.process_time``,
so other processes on a shared machine count less than in wall time), the PNG and WAV sizes, and
the audio's signal-to-noise figures: per spoken digit, the speech's power against the murmur and
noise under it. The one-off costs (glyph atlas, voice bank) are paid before timing and reported
apart. Targets (issue 11): image well under 2 ms, audio at most 20 ms, PNG at most 6 KB. Exits 0
either way: it is a measurement, not a test. ``--json`` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.services import captcha_media  # noqa: E402


def _cpu_ms(render, jobs: list[tuple[str, bytes]]) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for digits, seed in jobs:
        start = time.process_time()
        data = render(digits, seed)
        times.append((time.process_time() - start) * 1000)
        sizes.append(len(data))
    return times, sizes


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p90": ordered[int(0.9 * (len(ordered) - 1))],
            "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="renderings of each kind (default 300)")
    parser.add_argument("--digits", type=int, default=5, help="digits per challenge (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    start = time.process_time()
    captcha_media._glyph_atlas()
    atlas_ms = (time.process_time() - start) * 1000
    start = time.process_time()
    captcha_media._voice_bank()
    voices_ms = (time.process_time() - start) * 1000

    jobs = [("".join(secrets.choice("0123456789") for _ in range(args.digits)), secrets.token_bytes(32))
            for _ in range(args.count)]
    image_ms, png_bytes = _cpu_ms(captcha_media.render_image, jobs)
    audio_ms, wav_bytes = _cpu_ms(captcha_media.render_audio, jobs)

    snr, seconds = [], []
    for digits, seed in jobs[:100]:
        rendering = captcha_media._compose(digits, seed)
        seconds.append(len(rendering.speech) / captcha_media.AUDIO_RATE)
        for begin, end in rendering.spans:
            speech = np.mean(rendering.speech[begin:end] ** 2)
            masker = np.mean(rendering.masker[begin:end] ** 2)
            snr.append(float(10 * np.log10(speech / masker)))

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU, load {os.getloadavg()[0]:.1f}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "count": args.count,
        "digits": args.digits,
        "once_ms": {"glyph_atlas": atlas_ms, "voice_bank": voices_ms},
        "image_cpu_ms": _summary(image_ms),
        "audio_cpu_ms": _summary(audio_ms),
        "png_bytes": _summary(png_bytes),
        "wav_bytes": _summary(wav_bytes),
        "audio_seconds": _summary(seconds),
        "digit_snr_db": {"min": min(snr), "p5": float(np.percentile(snr, 5)), "median": statistics.median(snr)},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"date          {result['date']}")
    print(f"machine       {result['machine']}   python {result['python']}   numpy {result['numpy']}")
    print(f"renderings    {args.count} of each, {args.digits} digits; once per process: glyph atlas "
          f"{atlas_ms:.0f} ms, voice bank {voices_ms:.0f} ms")
    for name, key, unit, target in (
        ("image CPU", "image_cpu_ms", "ms", "target < 2 ms"),
        ("audio CPU", "audio_cpu_ms", "ms", "target <= 20 ms"),
        ("PNG size", "png_bytes", "B", "target <= 6 KB"),
        ("WAV size", "wav_bytes", "B", ""),
        ("audio length", "audio_seconds", "s", ""),
    ):
        s = result[key]
        print(f"{name:13} median {s['median']:8.2f} {unit:2}  p90 {s['p90']:8.2f}  max {s['max']:8.2f}   {target}")
    s = result["digit_snr_db"]
    print(f"digit SNR     min {s['min']:.1f} dB  p5 {s['p5']:.1f} dB  median {s['median']:.1f} dB "
          "(speech against murmur + noise, per spoken digit)")


if __name__ == "__main__":
    main()
