"""The trust notice on every public page, and the page on recognising fake sites."""

from __future__ import annotations

import pytest

from tests.conftest import DESA_A

PUBLIC_PAGES = ["/", f"/?desa={DESA_A}", "/aduan/baru", "/aduan/lacak", "/statistik", "/cari-desa?q=cileunyi",
                "/waspada", "/tidak-ada"]


@pytest.fixture
def official(app):
    app.config["PUBLIC_BASE_URL"] = "https://cekbansos.bandungkab.go.id"
    return app


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_public_page_says_it_is_free_and_names_the_real_address(official, client, path):
    page = client.get(path).text
    assert "Layanan ini gratis." in page
    assert "kata sandi, kode OTP, PIN, atau pembayaran" in page
    assert '<strong class="address">cekbansos.bandungkab.go.id</strong>' in page
    assert 'href="/waspada"' in page


def test_the_notice_names_the_configured_address_whatever_host_was_asked_for(official, client):
    # A fake site may proxy the real one under its own name: the notice still names the real address.
    page = client.get("/", base_url="http://cekbansos-resmi.example").text
    assert '<strong class="address">cekbansos.bandungkab.go.id</strong>' in page


def test_the_notice_speaks_english_too(official, client):
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert "This service is free." in page and "cekbansos.bandungkab.go.id" in page


def test_the_fake_site_page_names_the_address_and_what_is_never_asked(official, client):
    response = client.get("/waspada")
    assert response.status_code == 200 and response.headers["Cache-Control"].startswith("public")
    assert "cekbansos.bandungkab.go.id" in response.text and "OTP" in response.text
    assert "<h1>Beware of fake sites and messages</h1>" in client.get(
        "/waspada", headers={"Accept-Language": "en"}).text


PAGE_BUDGET = 30 * 1024  # bytes: the page, its stylesheet, its script and the captcha image together


def _size(client, path: str) -> tuple[int, bytes]:
    response = client.get(path)
    data = response.data
    response.close()  # a static file's handle
    return len(data), data


@pytest.mark.parametrize("path", ["/", "/aduan/baru", "/aduan/lacak", "/waspada", "/statistik?kabupaten=32.04"])
def test_a_public_page_with_the_notice_stays_within_30_kb(official, client, path):
    import re

    size, page = _size(client, path)
    total = size + _size(client, "/static/portal.css")[0] + _size(client, "/static/portal.js")[0]
    captcha = re.search(rb'src="(/captcha/[^"]+\.png)"', page)
    if captcha:
        total += _size(client, captcha.group(1).decode())[0]
    assert total <= PAGE_BUDGET, f"{path}: {total} bytes"
