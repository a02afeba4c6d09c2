"""The public statistics page: tables per kabupaten and per desa, hidden small cells, no names."""

from __future__ import annotations

import re

import pytest

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.models import ComplaintStatus
from tests.conftest import DESA_A, DESA_B, DESA_C
from tests.services.test_statistics import make_complaint, make_many

SMALL = "&lt;5"


def cells_of(page: str, name: str) -> list[str]:
    """The text of the number cells in the row headed `name`."""
    row = re.search(r"<tr>\s*<th scope=\"row\">(?:<a [^>]*>)?" + re.escape(name) + r"\b.*?</tr>", page, re.S)
    assert row, f"no row for {name}"
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]


def test_overview_lists_kabupaten_with_links_and_may_be_cached(client, session, vault):
    make_many(session, vault, DESA_A, 5, ComplaintStatus.SELESAI, days=2)
    make_many(session, vault, DESA_B, 3, ComplaintStatus.DITOLAK, days=6)
    make_many(session, vault, DESA_C, 6, ComplaintStatus.DITINJAU)
    session.commit()

    response = client.get("/statistik")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "Set-Cookie" not in response.headers  # a shared cache must not hand out anybody's cookie
    page = response.text
    assert "<h1>Statistik aduan</h1>" in page
    assert "Angka di bawah 5 disamarkan agar tidak ada orang yang dapat dikenali." in page
    assert 'href="/statistik?kabupaten=32.04"' in page and 'href="/statistik?kabupaten=53.71"' in page
    assert cells_of(page, "Kabupaten Bandung") == ["8", "8", "2"]  # median of 2, 2, 2, 2, 2, 6, 6, 6
    assert cells_of(page, "Kota Kupang") == ["6", SMALL, "—"]


def test_small_counts_show_as_under_five_and_never_as_the_number(client, session, vault):
    make_many(session, vault, DESA_C, 3, ComplaintStatus.SELESAI, days=4)
    make_many(session, vault, DESA_A, 7)
    make_many(session, vault, DESA_A, 1, ComplaintStatus.DITOLAK, days=1)
    session.commit()

    page = client.get("/statistik").text

    assert cells_of(page, "Kota Kupang") == [SMALL, SMALL, "—"]
    assert cells_of(page, "Kabupaten Bandung") == ["8", SMALL, "—"]
    assert 'title="kurang dari 5"' in page


def test_hidden_complaints_are_not_counted(client, session, vault):
    make_many(session, vault, DESA_C, 4)
    make_many(session, vault, DESA_C, 3, ComplaintStatus.DISEMBUNYIKAN)
    make_many(session, vault, DESA_A, 2, ComplaintStatus.DISEMBUNYIKAN)
    session.commit()

    page = client.get("/statistik").text

    assert cells_of(page, "Kota Kupang") == [SMALL, SMALL, "—"]  # 4, not 7
    assert "Kabupaten Bandung" not in page  # nothing but spam there


def test_median_only_over_five_resolved(client, session, vault):
    for days in (1, 2, 3, 5):
        make_complaint(session, vault, DESA_A, ComplaintStatus.SELESAI, days=days)
    make_many(session, vault, DESA_A, 2)
    session.commit()
    assert cells_of(client.get("/statistik").text, "Kabupaten Bandung") == ["6", SMALL, "—"]

    make_complaint(session, vault, DESA_B, ComplaintStatus.DITOLAK, days=4.5)
    session.commit()
    assert cells_of(client.get("/statistik").text, "Kabupaten Bandung") == ["7", "5", "3"]

    make_complaint(session, vault, DESA_B, ComplaintStatus.DITOLAK, days=4.5)
    session.commit()
    assert cells_of(client.get("/statistik").text, "Kabupaten Bandung") == ["8", "6", "3,8"]  # Indonesian comma


def test_desa_breakdown_of_one_kabupaten(client, session, vault):
    make_many(session, vault, DESA_A, 9, ComplaintStatus.SELESAI, days=1)
    make_many(session, vault, DESA_B, 2)
    make_many(session, vault, DESA_C, 6)
    session.commit()

    response = client.get("/statistik", query_string={"kabupaten": "32.04"})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    page = response.text
    assert "<h2>Kabupaten Bandung</h2>" in page
    assert cells_of(page, "Kabupaten Bandung") == ["11", "9", "1"]
    assert cells_of(page, "Cileunyi Kulon") == ["9", "9", "1"]
    assert cells_of(page, "Cileunyi Wetan") == [SMALL, SMALL, "—"]
    assert cells_of(page, "Cimekar") == [SMALL, SMALL, "—"]  # no complaints, listed all the same
    assert "Kota Kupang" not in page and "Namosain" not in page
    assert 'href="/statistik"' in page


def test_one_small_desa_beside_the_total_hides_another_one(client, session, vault):
    for code, count in zip((f"32.04.05.{n}" for n in range(2001, 2007)), (5, 7, 6, 8, 9, 2), strict=True):
        make_many(session, vault, code, count)
    session.commit()

    page = client.get("/statistik?kabupaten=32.04").text

    assert cells_of(page, "Kabupaten Bandung")[0] == "37"
    assert cells_of(page, "Cibiru Wetan")[0] == SMALL
    assert cells_of(page, "Cileunyi Kulon")[0] == "×"  # else 37 − 35 = 2 would give Cibiru Wetan away


@pytest.mark.parametrize("code", ["99.99", "32", "32.04.05", DESA_A, "x" * 500])
def test_unknown_kabupaten_is_not_found(client, code):
    response = client.get("/statistik", query_string={"kabupaten": code})
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in response.text


def test_empty_kabupaten_parameter_is_the_overview(client):
    response = client.get("/statistik?kabupaten=")
    assert response.status_code == 200 and "Belum ada aduan." in response.text


def test_no_personal_data_and_no_inline_script_or_style(client, session, vault):
    complaint = make_complaint(session, vault, DESA_A, complainant="Wahyuningsih Pratiwi",
                               subject="Suparman Hadiwijoyo")
    make_complaint(session, vault, DESA_A, ComplaintStatus.SELESAI, complainant="Wahyuningsih Pratiwi",
                   subject="Ratna Sari Dewi")
    session.commit()
    code = complaint.code

    for url in ("/statistik", "/statistik?kabupaten=32.04"):
        page = client.get(url).text
        for personal in ("Wahyuningsih", "Suparman", "Ratna", code, "penghasilan"):
            assert personal not in page
        assert "style=" not in page and "<style" not in page
        assert re.search(r"<script(?![^>]*\bsrc=)", page) is None


def test_the_page_is_rate_limited_per_address(app):
    class Limited(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        RATELIMIT_ENABLED = True
        REGION_API_LIMIT = "2/minute"

    limited = create_app(Limited)
    try:
        client = limited.test_client()
        assert [client.get("/statistik").status_code for _ in range(3)] == [200, 200, 429]
        other = client.get("/statistik", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert other.status_code == 200
    finally:
        with limited.app_context():
            db.engine.dispose()


def test_the_desa_of_a_kabupaten_can_be_searched_without_javascript(client, session, vault):
    make_many(session, vault, DESA_A, 9)
    session.commit()
    page = client.get("/statistik", query_string={"kabupaten": "32.04", "q": "kulon"}).text
    assert '<form method="get" action="/statistik#desa" role="search"' in page
    assert 'name="kabupaten" value="32.04"' in page and 'value="kulon"' in page
    assert cells_of(page, "Cileunyi Kulon")[0] == "9"
    assert "Cileunyi Wetan" not in page
    assert "1 dari " in page and "cocok dengan “kulon”" in page
    assert "Tidak ada desa/kelurahan dengan nama itu" in client.get(
        "/statistik", query_string={"kabupaten": "32.04", "q": "sukamaju"}).text


def test_a_long_kabupaten_is_shown_a_page_at_a_time(app, client, session):
    from portal.models import Region, RegionLevel

    session.add_all(Region(code=f"32.04.05.{3000 + n}", name=f"Desa Uji {n:03d}", level=RegionLevel.DESA,
                           kind="desa", parent_code="32.04.05") for n in range(1, 61))
    session.commit()
    first = client.get("/statistik?kabupaten=32.04").text
    assert "Desa Uji 001" in first and "Desa Uji 060" not in first
    assert "halaman 1 dari 2" in first
    assert 'href="/statistik?kabupaten=32.04&amp;hal=2#desa" rel="next"' in first
    second = client.get("/statistik?kabupaten=32.04&hal=2").text
    assert "Desa Uji 060" in second and "Desa Uji 001" not in second and 'rel="prev"' in second
