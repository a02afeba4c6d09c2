"""Complaint filing under a burst: 100 residents press "Kirim" at once, each with a photo.

Against gunicorn with the project's settings (4 workers) on SQLite and, with a PostgreSQL URL,
on PostgreSQL. Every client first loads its own form (its session, CSRF token, captcha and
idempotency token); then all send together. A filing counts when it is answered with the
redirect to the code page and that page shows a code; afterwards the database must hold every
acknowledged code with its photo (`evidence` row and the file on disk).

    .venv/bin/python benchmarks/complaint_bench.py [--quick] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402 - the path above first
    Client,
    Server,
    add_options,
    first_group,
    form_tokens,
    gunicorn,
    latency_ms,
    log,
    lookup_fields,
    seeded_databases,
    write_part,
)

CODE_RE = re.compile(r'id="kode-aduan"[^>]*>(ADU-[A-Z0-9]{4}-[A-Z0-9]{4})<')
TOKEN_RE = re.compile(r'name="token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="token"')
WORKERS = 4


def photo_jpeg() -> bytes:
    """A phone-like photo: 1600 x 1200, noisy (so it does not compress to nothing), JPEG."""
    from PIL import Image

    noise = Image.effect_noise((1600, 1200), 48).convert("RGB")
    gradient = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    out = io.BytesIO()
    Image.blend(noise, gradient, 0.5).save(out, "JPEG", quality=85)
    return out.getvalue()


def _nik(serial: int) -> str:
    # Kecamatan 32.04.05, born 12 May 1990: a NIK the form accepts; serials keep complainants apart.
    return f"320405120590{serial:04d}"


class Filer:
    """One resident: loads the form, then files when told to."""

    def __init__(self, server: Server, serial: int) -> None:
        self.client = Client(server, timeout=120)
        self.serial = serial
        page = self.client.get("/aduan/baru").text
        region_and_captcha = lookup_fields(*form_tokens(page))
        region_and_captcha.pop("nama")
        self.fields = {
            **region_and_captcha, "token": first_group(TOKEN_RE.search(page)) or "", "jenis": "usul",
            "pelapor_nama": f"Pelapor Uji Nomor {self._letters()}", "pelapor_nik": _nik(serial),
            "subjek_nama": f"Warga Belum Terdaftar {self._letters()}",
            "uraian": "Keluarga ini belum terdaftar padahal termasuk keluarga tidak mampu di RT kami.",
            "persetujuan": "y",
        }

    def _letters(self) -> str:
        # Names hold letters only: the serial spelled with letters A-J.
        return "".join("ABCDEFGHIJ"[int(d)] for d in f"{self.serial:03d}").title()

    def file(self, photo: bytes) -> tuple[float, str | None]:
        started = time.perf_counter()
        reply = self.client.post_multipart("/aduan/kirim", self.fields, {"foto": ("bukti.jpg", "image/jpeg", photo)})
        seconds = time.perf_counter() - started
        code = None
        if reply.status == 303 and reply.headers.get("location", "").endswith("/aduan/terkirim"):
            code = first_group(CODE_RE.search(self.client.get("/aduan/terkirim").text))
        self.client.close()
        return seconds, code


def stored(database_url: str, codes: list[str], upload_dir: Path) -> dict[str, int]:
    """How many of the acknowledged codes the database holds, with their photos."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "SELECT c.code, e.stored_name FROM complaint c LEFT JOIN evidence e ON e.complaint_id = c.id"
        )).all()
    engine.dispose()
    wanted = set(codes)
    with_photo = {code for code, name in rows if code in wanted and name and (upload_dir / name).exists()}
    in_db = {code for code, _ in rows}
    return {"complaints_in_db": len(in_db), "acknowledged_in_db": len(wanted & in_db),
            "acknowledged_with_photo_on_disk": len(with_photo)}


def burst(env: dict[str, str], filings: int, workdir: Path) -> dict[str, Any]:
    photo = photo_jpeg()
    with gunicorn(env, workers=WORKERS, log=workdir / "gunicorn.log") as server:
        with ThreadPoolExecutor(max_workers=8) as pool:
            filers = list(pool.map(lambda n: Filer(server, n), range(1, filings + 1)))
        gate = threading.Barrier(filings)

        def go(filer: Filer) -> tuple[float, str | None]:
            gate.wait()
            return filer.file(photo)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=filings) as pool:
            outcomes = list(pool.map(go, filers))
        wall = time.perf_counter() - started
    codes = [code for _, code in outcomes if code]
    return {
        "filings": filings, "acknowledged": len(codes), "unique_codes": len(set(codes)),
        "photo_bytes": len(photo), "workers": WORKERS, "wall_s": round(wall, 2),
        **latency_ms([seconds for seconds, _ in outcomes]),
        **stored(env["DATABASE_URL"], codes, Path(env["UPLOAD_FOLDER"])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, database=True)
    parser.add_argument("--filings", type=int, default=None)
    args = parser.parse_args(argv)
    filings = args.filings or (20 if args.quick else 100)
    figures: dict[str, Any] = {}
    for name, workdir, env in seeded_databases("complaints", args.database_url):
        figures[name] = burst(env, filings, workdir)
        log(f"  {figures[name]}")
    log(f"wrote {write_part('complaints', figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
