"""A synthetic DTSEN extract for demonstrations, written as CSV for the real importer.

Every number is invented: NIKs are consistent with the desa's kecamatan, the birth date and
the sex; their serials count up from 9000, apart from the usual low serials.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Programme, Region, RegionLevel
from portal.secrets import private_file
from portal.services.regions import normalise_region_code
from portal.services.registry_import import PROGRAMME_COLUMNS, REQUIRED_COLUMNS

DEMO_PERIOD = "2025-Q4"
#: A desa in Kabupaten Bandung, a kelurahan in Kabupaten Bogor and one in Kota Kupang.
DEFAULT_DESA = ("32.04.05.2001", "32.01.01.1001", "53.71.01.1001")
#: Names every demo desa contains: old spelling, an abbreviated Muhammad, and two namesakes.
SHOWCASE_NAMES = (("Moch. Djoenaedi", "L"), ("Sri Wahyuni", "P"), ("Sri Wahyuni", "P"))

_HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6, 7)
_HOUSEHOLD_WEIGHTS = (8, 15, 20, 24, 18, 10, 5)
# The extract holds mostly the lower deciles: that is who registers for aid.
_DESIL_WEIGHTS = (16, 16, 15, 13, 11, 9, 7, 6, 4, 3)


class UnknownDesa(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class DemoPerson:
    name: str
    desa_path: str


def _nik(kecamatan: str, birth: dt.date, sex: str, serial: int) -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return f"{kecamatan}{day:02d}{birth.month:02d}{birth.year % 100:02d}{_serial(serial)}"


def _serial(counter: int) -> str:
    """Four digits, never 0000 (an invalid serial)."""
    return f"{counter % 10000 or 1:04d}"


def _programmes(rng: random.Random, desil: int, has_children: bool) -> dict[str, str]:
    chance = {
        Programme.PKH: 0.7 if desil <= 3 and has_children else 0.05,
        Programme.BPNT: 0.75 if desil <= 4 else 0.05,
        Programme.PBI_JK: 0.85 if desil <= 5 else 0.1,
        Programme.BLT: 0.35 if desil <= 2 else 0.02,
    }
    return {p.value: "YA" if rng.random() < chance[p] else "TIDAK" for p in Programme}


def write_extract(session: Session, path: Path, desa: Sequence[str], *, people_per_desa: int,
                  seed: int, today: dt.date | None = None) -> list[DemoPerson]:
    """Write a realistic extract (mode 0600) for the given desa codes; return a few names worth looking up."""
    today = today or dt.date.today()
    rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not secrets
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    columns = [*REQUIRED_COLUMNS, *PROGRAMME_COLUMNS]
    examples: list[DemoPerson] = []
    serial = 9000
    with private_file(path).open("w", newline="", encoding="utf-8") as f:  # 0600: it holds NIKs
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for raw_code in desa:
            code = normalise_region_code(raw_code)
            region = session.scalar(
                select(Region).where(Region.code == code, Region.level == RegionLevel.DESA)
            )
            if region is None:
                raise UnknownDesa(raw_code)
            path_names = [region.name]
            parent = region.parent_code
            while parent:
                up = session.get(Region, parent)
                path_names.append(up.name)
                parent = up.parent_code
            desa_path = ", ".join(path_names)
            kecamatan = region.parent_code.replace(".", "")
            showcase = list(SHOWCASE_NAMES)
            written = 0
            while written < people_per_desa:
                size = min(rng.choices(_HOUSEHOLD_SIZES, _HOUSEHOLD_WEIGHTS)[0], people_per_desa - written)
                desil = rng.choices(range(1, 11), _DESIL_WEIGHTS)[0]
                rt, rw = f"{rng.randint(1, 12):03d}", f"{rng.randint(1, 6):03d}"
                head_age = rng.randint(22, 78)
                head_sex = "L" if rng.random() < 0.82 else "P"
                members: list[tuple[str, int]] = [(head_sex, head_age)]
                if size >= 2:
                    members.append(("P" if head_sex == "L" else "L", max(18, head_age + rng.randint(-8, 4))))
                for _ in range(size - len(members)):
                    members.append((rng.choice("LP"), rng.randint(0, max(0, head_age - 18))))
                kk_issued = today - dt.timedelta(days=rng.randint(200, 6000))
                serial += 1
                kk = f"{kecamatan}{kk_issued:%d%m%y}{_serial(serial)}"
                flags = _programmes(rng, desil, has_children=any(age < 18 for _, age in members))
                for sex, age in members:
                    if showcase and written % 50 == 7:
                        name, sex = showcase.pop()
                    elif sex == "L":
                        name = f"{fake.first_name_male()} {fake.last_name_male()}"
                    else:
                        name = f"{fake.first_name_female()} {fake.last_name_female()}"
                    birth = today.replace(month=1, day=1) - dt.timedelta(days=365 * age + rng.randint(0, 364))
                    serial += 1
                    writer.writerow({
                        "nik": _nik(kecamatan, birth, sex, serial),
                        "no_kk": kk, "nama": name, "tanggal_lahir": birth.isoformat(),
                        "jenis_kelamin": sex, "kode_desa": code, "rt": rt, "rw": rw,
                        "desil": desil, **flags,
                    })
                    written += 1
                    if len(examples) < 2 * (desa.index(raw_code) + 1) and age >= 18 and rng.random() < 0.1:
                        examples.append(DemoPerson(name, desa_path))
    return examples
