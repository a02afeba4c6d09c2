#!/usr/bin/env bash
# Regenerate the Indonesian digit voices for the audio captcha (portal/captcha_voice/id/<digit>/*.wav).
#
# A development-time tool only: the files are committed and the portal never runs espeak-ng or sox.
# Needs:  apt-get install -y espeak-ng sox
#
# Output format is what portal/services/captcha_media.py reads (and writes): RIFF/WAVE, PCM, mono,
# 8000 Hz, 8-bit unsigned.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=portal/captcha_voice/id
WORDS=(nol satu dua tiga empat lima enam tujuh delapan sembilan)
# Six renditions per digit, in different voices, so that the renderer can draw a voice per digit:
# name, espeak-ng voice variant ("-": the plain Indonesian voice), words per minute, pitch (0-99).
# The renderer then bends each one further (portal/services/captcha_media.py); the files alone
# are not the defence, since anyone can read them.
VARIANTS=("a - 150 45" "b - 175 60" "c m3 140 30" "d f2 160 55" "e f4 150 70" "f klatt2 155 50")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for digit in "${!WORDS[@]}"; do
    word=${WORDS[$digit]}
    mkdir -p "$OUT/$digit"
    rm -f "$OUT/$digit"/*.wav
    for variant in "${VARIANTS[@]}"; do
        read -r name voice speed pitch <<<"$variant"
        if [[ $voice == - ]]; then voice=id; else voice=id+$voice; fi
        espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp/raw.wav" "$word"
        # Normalise to -1 dBFS; trim leading silence (below 1 % for 20 ms) and fade in over 5 ms;
        # reverse to do the same at the end (15 ms fade-out, so the cut does not click: sox
        # cannot fade out after `silence`, whose output length it does not know); resample to
        # 8 kHz mono 8-bit unsigned PCM. -R: repeatable dither, so a rerun gives identical files.
        sox -R "$tmp/raw.wav" \
            -r 8000 -c 1 -b 8 -e unsigned-integer "$OUT/$digit/$name.wav" \
            gain -n -1 \
            silence 1 0.02 1% fade t 0.005 \
            reverse silence 1 0.02 1% fade t 0.015 reverse
    done
done

ls -l "$OUT"/*/*.wav
