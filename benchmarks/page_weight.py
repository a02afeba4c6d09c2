"""Page weight: the bytes a browser fetches on load, for the pages residents and staff open most.

For `/`, a result page (a found lookup), `/aduan/baru` and `/staf/antrian` (a desa operator with
a full first page of 25 complaints) it fetches the HTML and what loads with it: stylesheets,
scripts and images (the captcha). The audio captcha loads only when played (`preload="none"`) and
is left out. Sizes are as served (the app compresses nothing) and gzip-compressed at level 6 for
text (HTML, CSS, JS), as an nginx with `gzip on; gzip_comp_level 6;` and those types would send
them; PNG images are sent as they are.

    .venv/bin/python benchmarks/page_weight.py
"""

from __future__ import annotations

import gzip
import io
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402 - the path above first
    CSRF_RE,
    STAFF_PASSWORD,
    STAFF_USER,
    Client,
    Reply,
    first_group,
    form_tokens,
    gunicorn,
    is_found_page,
    log,
    lookup_fields,
    portal_env,
    seed_portal,
    write_part,
)
from benchmarks.complaint_bench import Filer  # noqa: E402

ASSET_RE = re.compile(r'<(?:link[^>]*rel="stylesheet"[^>]*href|script[^>]*src|img[^>]*src)="([^"]+)"')
TEXT_TYPES = ("text/", "application/javascript", "application/json")
QUEUE_ROWS = 25


def _gzip_size(reply: Reply) -> int:
    content_type = reply.headers.get("content-type", "")
    if content_type.startswith(TEXT_TYPES):
        return len(gzip.compress(reply.body, compresslevel=6))
    return len(reply.body)


def weigh(client: Client, page: Reply) -> dict[str, Any]:
    """HTML plus every stylesheet, script and image it references, raw and compressed."""
    parts = {"html": page}
    for url in dict.fromkeys(ASSET_RE.findall(page.text)):
        parts[url.split("?")[0].rsplit("/", 1)[-1] if "captcha" not in url else "captcha image"] = client.get(url)
    return {
        "bytes": sum(len(r.body) for r in parts.values()),
        "gzip_bytes": sum(_gzip_size(r) for r in parts.values()),
        "parts": {name: {"bytes": len(r.body), "gzip_bytes": _gzip_size(r), "status": r.status}
                  for name, r in parts.items()},
    }


def _small_photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.linear_gradient("L").resize((320, 240)).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def _staff_client(client: Client) -> Reply:
    login = client.get("/staf/masuk")
    reply = client.post_form("/staf/masuk", {"csrf_token": first_group(CSRF_RE.search(login.text)) or "",
                                             "username": STAFF_USER, "password": STAFF_PASSWORD})
    if reply.status != 302:
        raise RuntimeError(f"staff login failed with status {reply.status}")
    return client.get("/staf/antrian")


def main(argv: list[str] | None = None) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-weight-"))
    env = portal_env(workdir)
    log(f"page weight: seeding {workdir} ...")
    seed_portal(env)
    figures: dict[str, Any] = {}
    with gunicorn(env, workers=2, log=workdir / "gunicorn.log") as server:
        photo = _small_photo()
        for serial in range(1, QUEUE_ROWS + 1):
            Filer(server, serial).file(photo)
        client = Client(server)
        form = client.get("/")
        figures["/"] = weigh(client, form)
        result = client.post_form("/cek", lookup_fields(*form_tokens(form.text)))
        if not is_found_page(result):
            raise RuntimeError("the lookup for the result page found nobody")
        figures["result page"] = weigh(client, result)
        figures["/aduan/baru"] = weigh(client, client.get("/aduan/baru"))
        figures["/staf/antrian"] = weigh(client, _staff_client(client))
        client.close()
    for page, weight in figures.items():
        log(f"  {page:<14} {weight['bytes']:>8,} B   gzip {weight['gzip_bytes']:>7,} B")
    log(f"wrote {write_part('page_weight', figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
