"""Cek status in a real browser (Debian's Chromium driven by Playwright), with and without JavaScript.

Skips where Chromium or Playwright is missing on a developer's machine; in CI (CI=true) they
are installed by .ci/run and a missing browser fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.services.registry_import import import_registry
from tests.conftest import DESA_A, TODAY, make_row, write_csv

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if os.environ.get("CI"):
    from playwright import sync_api as playwright_api
else:
    playwright_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM:
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium for the browser tests (.ci/run installs it)")
    pytest.skip("no Chromium on this machine", allow_module_level=True)

ANSWER = "24680"
PHONE = {"width": 360, "height": 740}
# A phone set to Indonesian: without it the browser asks for its own language (en-US), and gets English.
INDONESIAN = {"viewport": PHONE, "locale": "id-ID"}


@pytest.fixture
def live_portal(app, tmp_path) -> Iterator[str]:
    """The test app's database served over HTTP with a known captcha answer."""

    class Browser(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        CAPTCHA_FIXED_ANSWER = ANSWER

    served = create_app(Browser)
    with served.app_context():
        rows = [make_row(1, name="Siti Aminah", desil="3")]
        import_registry(db.session, served.extensions["pii_vault"], write_csv(tmp_path / "r.csv", rows),
                        imported_by="t", period="2025-Q4", today=TODAY)
        db.session.commit()  # the import flushes; its command commits
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    with served.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield chromium
        chromium.close()


def _search(page) -> None:
    page.fill("#nama", "siti aminah")
    page.fill("#captcha_jawaban", ANSWER)
    page.click("button[name=cari]")
    page.wait_for_selector("h1")


def test_with_javascript_the_selects_fill_themselves(browser, live_portal):
    page = browser.new_page(**INDONESIAN)
    page.goto(live_portal + "/")
    assert page.is_hidden("button[name=lanjut]")  # the no-JS steps are hidden
    page.select_option("#provinsi", "32")
    page.wait_for_selector("#kabupaten option[value='32.04']", state="attached")
    page.select_option("#kabupaten", "32.04")
    page.wait_for_selector("#kecamatan option[value='32.04.05']", state="attached")
    page.select_option("#kecamatan", "32.04.05")
    page.wait_for_selector(f"#desa option[value='{DESA_A}']", state="attached")
    page.select_option("#desa", DESA_A)
    _search(page)
    assert page.inner_text("h1") == "Data ditemukan"
    assert "Si** Am****" in page.content() and "3204054103850001" not in page.content()
    page.close()


def test_the_desa_search_fills_the_whole_cascade(browser, live_portal):
    page = browser.new_page(**INDONESIAN)
    page.goto(live_portal + "/")
    page.fill("#desa-cari", "Cileunyi Kulon")
    page.click("#desa-cari-hasil button")
    playwright_api.expect(page.locator("#desa")).to_have_value(DESA_A)  # the page's CSP forbids eval
    _search(page)
    assert page.inner_text("h1") == "Data ditemukan"
    page.close()


def test_without_javascript_the_steps_work(browser, live_portal):
    context = browser.new_context(java_script_enabled=False, **INDONESIAN)
    page = context.new_page()
    page.goto(live_portal + "/")
    for level, code in (("provinsi", "32"), ("kabupaten", "32.04"), ("kecamatan", "32.04.05")):
        page.select_option(f"#{level}", code)
        page.click(f"button[name=lanjut][value={level}]")
    page.select_option("#desa", DESA_A)
    _search(page)
    assert page.inner_text("h1") == "Data ditemukan"
    context.close()


def test_in_english_the_script_speaks_english_too(browser, live_portal):
    page = browser.new_page(viewport=PHONE, locale="en-GB")
    page.goto(live_portal + "/")
    assert page.get_attribute("html", "lang") == "en"
    page.fill("#desa-cari", "Cileunyi Kulon")
    playwright_api.expect(page.locator("#desa-cari-status")).to_have_text("Villages found: 1.")
    page.click("#desa-cari-hasil button")
    playwright_api.expect(page.locator("#wilayah-status")).to_contain_text("Chosen: Cileunyi Kulon (")
    _search(page)
    assert page.inner_text("h1") == "Records found"
    page.click("text=Bahasa Indonesia")  # the switch: a plain link, back to the lookup form
    page.wait_for_selector("h1")
    assert page.get_attribute("html", "lang") == "id" and page.inner_text("h1") == "Cek status penerima bansos"
    page.close()
