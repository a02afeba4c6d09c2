"""The official Kemendagri region tree: provinsi → kabupaten/kota → kecamatan → desa/kelurahan."""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class RegionLevel(enum.IntEnum):
    PROVINSI = 1
    KABUPATEN = 2
    KECAMATAN = 3
    DESA = 4


class Region(db.Model):
    __tablename__ = "region"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 4", name="level_range"),)

    #: Dotted Kemendagri code: "32", "32.01", "32.01.01", "32.01.01.2001".
    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(SmallInteger)
    #: provinsi, kabupaten, kota, kecamatan, distrik, desa, kelurahan, desa_adat.
    kind: Mapped[str] = mapped_column(
        Enum(
            "provinsi", "kabupaten", "kota", "kecamatan", "distrik", "desa", "kelurahan", "desa_adat",
            name="region_kind", native_enum=False, create_constraint=True, length=12,
        )
    )
    parent_code: Mapped[str | None] = mapped_column(
        String(13), ForeignKey("region.code"), index=True
    )

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
