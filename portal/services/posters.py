"""QR posters that send residents of one desa to the lookup with their desa already chosen.

Dinas Sosial and village offices already hang posters with a QR code ("barkot") for the
ministry's checker. Ours is drawn here, on the server, with segno: no outside QR service ever
sees which villages are being printed, and the code holds the portal's configured real address
itself — never a link shortener, which would teach residents to trust links they cannot read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from portal.models import Region, RegionLevel

_MAX_QUERY_LENGTH = 60


@dataclass(frozen=True, slots=True)
class PosterDesa:
    """A desa a poster can be printed for, with the names residents know it by."""

    code: str
    name: str
    kecamatan: str
    kabupaten: str
    provinsi: str


def lookup_url(base_url: str, desa_code: str) -> str:
    """The lookup with this desa chosen: `https://<real address>/?desa=32.04.05.2001`."""
    return f"{base_url.rstrip('/')}/?{urlencode({'desa': desa_code}, safe='.')}"


def qr_svg(url: str) -> str:
    """The QR code of `url` as an inline SVG that scales with its box (no width or height of its own).

    Error correction Q (25 %): a printed poster gets creased, taped over and rained on."""
    buffer = io.BytesIO()
    segno.make(url, error="q", micro=False).save(
        buffer, kind="svg", xmldecl=False, svgns=True, nl=False, omitsize=True, border=4,
        dark="#000", light="#fff", svgclass="qr",
    )
    return buffer.getvalue().decode()


def _with_parents():
    kecamatan, kabupaten, provinsi = (aliased(Region) for _ in range(3))
    return (
        select(Region.code, Region.name, kecamatan.name, kabupaten.name, provinsi.name)
        .join(kecamatan, kecamatan.code == Region.parent_code)
        .join(kabupaten, kabupaten.code == kecamatan.parent_code)
        .join(provinsi, provinsi.code == kabupaten.parent_code)
        .where(Region.level == RegionLevel.DESA)
    )


def poster_desa(session: Session, code: str) -> PosterDesa | None:
    """The desa `code` with its parents' names, or None when it is not a desa."""
    row = session.execute(_with_parents().where(Region.code == code)).one_or_none()
    return PosterDesa(*row) if row else None


def desa_for_posters(session: Session, scope: str | None, text: str, *, limit: int = 30) -> list[PosterDesa]:
    """Desa inside `scope` (a region code; None for all of Indonesia) whose name holds `text`.

    With an empty `text`, the first desa of the scope by name: a desa operator sees their one
    desa, a kecamatan its ten or twenty.
    """
    query = _with_parents()
    if scope:
        query = query.where((Region.code == scope) | Region.code.startswith(scope + ".", autoescape=True))
    words = " ".join(text.split())[:_MAX_QUERY_LENGTH].lower()
    if words:
        query = query.where(func.lower(Region.name).contains(words, autoescape=True))
    query = query.order_by(Region.name, Region.code).limit(limit)
    return [PosterDesa(*row) for row in session.execute(query)]
