"""QR posters: staff print one for any desa in their scope; the code holds the real address."""

from __future__ import annotations

import pytest

from portal.services.posters import lookup_url, qr_svg
from tests.conftest import DESA_A, DESA_B, DESA_C, login, make_staff

OFFICIAL = "https://cekbansos.bandungkab.go.id"


@pytest.fixture
def staff_client(app, session):
    app.config["PUBLIC_BASE_URL"] = OFFICIAL
    make_staff(session, "op.kulon", "desa", DESA_A)
    make_staff(session, "dinsos.bandung", "kabupaten", "32.04")
    session.commit()

    def as_user(username: str):
        client = app.test_client()
        login(client, username)
        return client

    return as_user


def test_the_poster_opens_the_lookup_with_the_desa_chosen_at_the_real_address(staff_client):
    page = staff_client("op.kulon").get(f"/staf/poster/{DESA_A}")
    assert page.status_code == 200
    target = f"{OFFICIAL}/?desa={DESA_A}"
    assert lookup_url(OFFICIAL, DESA_A) == target
    assert qr_svg(target) in page.text  # drawn here, from the configured address itself
    assert f'aria-label="Kode QR menuju {target}"' in page.text
    assert "Cileunyi Kulon" in page.text and "Cileunyi" in page.text and "Kabupaten Bandung" in page.text
    assert '<strong class="address">cekbansos.bandungkab.go.id</strong>' in page.text
    assert "Layanan ini gratis." in page.text and "cekbansos.bandungkab.go.id/waspada" in page.text
    assert "<img" not in page.text.split('class="poster"')[1]  # nothing fetched from elsewhere


def test_a_poster_outside_the_scope_or_of_no_desa_is_not_found(staff_client):
    operator = staff_client("op.kulon")
    assert operator.get(f"/staf/poster/{DESA_B}").status_code == 404
    assert operator.get(f"/staf/poster/{DESA_C}").status_code == 404
    kabupaten = staff_client("dinsos.bandung")
    assert kabupaten.get(f"/staf/poster/{DESA_B}").status_code == 200
    assert kabupaten.get(f"/staf/poster/{DESA_C}").status_code == 404
    assert kabupaten.get("/staf/poster/32.04.05").status_code == 404  # a kecamatan prints no poster


def test_the_desa_to_print_for_are_chosen_within_the_scope(staff_client):
    operator = staff_client("op.kulon").get("/staf/poster").text
    assert f'href="/staf/poster/{DESA_A}"' in operator and DESA_B not in operator
    kabupaten = staff_client("dinsos.bandung")
    found = kabupaten.get("/staf/poster", query_string={"q": "wetan"}).text
    assert f'href="/staf/poster/{DESA_B}"' in found and f'href="/staf/poster/{DESA_A}"' not in found
    assert "Namosain" not in kabupaten.get("/staf/poster", query_string={"q": "namosain"}).text


def test_posters_need_a_login(client):
    assert client.get(f"/staf/poster/{DESA_A}").status_code == 302
