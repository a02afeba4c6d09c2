"""The browser harness: Debian's Chromium driven by Playwright against a live portal on loopback.

Skips with a message where Chromium, Playwright or axe-core (the pinned axe-playwright-python
package, which ships axe.min.js) is missing on a developer's machine; in CI (CI=true) .ci/run
installs Chromium and `make test` the packages, so a missing one fails the run instead.

Every test module gets one browser; each test a fresh portal (its own database) served by a
thread. `checked(page)` is what every visited page must pass: axe-core with no serious or
critical violation, and no element wider than the viewport.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.serving import make_server

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.services.registry_import import import_registry
from tests.conftest import DESA_A, DESA_C, TODAY, make_row, write_csv

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


try:
    from playwright import sync_api as playwright_api
except ImportError:  # a developer without the dev requirements
    playwright_api = None
try:
    from axe_playwright_python.base import AXE_FILE_PATH
except ImportError:
    AXE_FILE_PATH = None

#: What this machine lacks for the browser tests, if anything.
MISSING = [what for what, there in (
    ("Playwright (pip install -r requirements-dev.txt)", playwright_api),
    ("axe-core (axe-playwright-python, in requirements-dev.txt)", AXE_FILE_PATH),
    ("Chromium (apt-get install chromium)", CHROMIUM),
) if not there]


@pytest.fixture(autouse=True, scope="session")
def _browser_tools_present() -> None:
    """Skip where the tools are missing; in CI (CI=true) that is a failure, never a silent skip."""
    if MISSING:
        message = "no " + ", no ".join(MISSING) + " on this machine"
        if os.environ.get("CI"):
            pytest.fail("CI needs the browser tools (.ci/run and `make test` install them): " + message)
        pytest.skip(message)


ANSWER = "24680"
PHONE = {"width": 360, "height": 740}
#: 200 % zoom on that phone: the page gets half the CSS pixels.
PHONE_ZOOMED = {"width": 180, "height": 370}
DESKTOP = {"width": 1280, "height": 800}
# A phone set to Indonesian: without it the browser asks for its own language (en-US), and gets English.
INDONESIAN = {"viewport": PHONE, "locale": "id-ID"}
ENGLISH = {"viewport": PHONE, "locale": "en-GB"}
#: `make screenshots` sets this to docs/screenshots; otherwise the tests write none.
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")
SERIOUS = {"serious", "critical"}

#: The people of the test registry (the names a resident types).
FOUND_NAME = "Siti Aminah"
KUPANG_NAME = "Yohanes Ndun"


@dataclass(frozen=True)
class LivePortal:
    url: str
    app: object

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@pytest.fixture
def live_portal(app, tmp_path) -> Iterator[LivePortal]:
    """The test app's database served over HTTP with a known captcha answer and a small registry."""

    class Browser(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        CAPTCHA_FIXED_ANSWER = ANSWER
        UPLOAD_FOLDER = str(tmp_path / "uploads")
        PUBLIC_BASE_URL = "https://cekbansos.contoh.go.id"

    served = create_app(Browser)
    served.instance_path = str(tmp_path / "instance")
    with served.app_context():
        rows = [make_row(1, name=FOUND_NAME, desil="3"),
                make_row(2, name=KUPANG_NAME, sex="L", birth=dt.date(1979, 6, 2), desa=DESA_C)]
        import_registry(db.session, served.extensions["pii_vault"], write_csv(tmp_path / "r.csv", rows),
                        imported_by="t", period="2025-Q4", today=TODAY)
        db.session.commit()  # the import flushes; its command commits
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns a failure
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LivePortal(f"http://127.0.0.1:{server.server_port}", served)
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


@pytest.fixture
def phone(browser) -> Iterator[Callable[..., object]]:
    """`phone(javascript=True, english=False, viewport=PHONE)` opens a page in a new context."""
    contexts = []

    def open_page(*, javascript: bool = True, english: bool = False, viewport: dict | None = None):
        settings = {**(ENGLISH if english else INDONESIAN)}
        if viewport:
            settings["viewport"] = viewport
        context = browser.new_context(java_script_enabled=javascript, **settings)
        contexts.append(context)
        page = context.new_page()
        if not javascript:
            # axe-core's promise never settles where scripts are off: it audits a copy (see `axe_violations`).
            auditor = browser.new_context(**settings)
            contexts.append(auditor)
            NO_SCRIPT_AUDITORS[page] = auditor.new_page()
        return page

    yield open_page
    for page in [page for page in NO_SCRIPT_AUDITORS if page.context in contexts]:
        del NO_SCRIPT_AUDITORS[page]
    for context in contexts:
        context.close()


_AXE_SOURCE: str | None = None
#: A page opened without JavaScript → a page with scripts on, of the same size and language.
NO_SCRIPT_AUDITORS: dict = {}
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)


def axe_violations(page) -> list[str]:
    """The serious and critical axe-core violations of the page, one line each.

    A page shown without JavaScript is copied as it is (its scripts removed) into a page of the
    same origin with scripts on, so its own stylesheet applies, and audited there."""
    global _AXE_SOURCE
    if _AXE_SOURCE is None:
        _AXE_SOURCE = Path(AXE_FILE_PATH).read_text(encoding="utf-8")
    if page in NO_SCRIPT_AUDITORS:
        html = _SCRIPT.sub("", page.content())
        auditor = NO_SCRIPT_AUDITORS[page]
        origin = "/".join(page.url.split("/", 3)[:3])
        if not auditor.url.startswith(origin + "/"):
            auditor.goto(origin + "/waspada")  # any page of the origin: the copy's stylesheet resolves there
        auditor.set_content(html)
        page = auditor
    # Through the DevTools protocol, so the page's CSP (no inline or eval'd script) does not apply.
    page.evaluate(_AXE_SOURCE)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results["violations"] if v["impact"] in SERIOUS]


def too_wide(page) -> list[str]:
    """Elements whose right edge goes past the viewport, and the page's own scroll width."""
    return page.evaluate("""() => {
      const width = document.documentElement.clientWidth, wide = [];
      if (document.documentElement.scrollWidth > width) wide.push('page ' + document.documentElement.scrollWidth);
      for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (box.width && box.right > width + 0.5 && !el.closest('.scroll')) {
          wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
                    ' ' + Math.round(box.right));
        }
      }
      return wide.slice(0, 8);
    }""")


def checked(page, *, name: str | None = None) -> None:
    """What every page visited must pass; `name` also writes a screenshot when asked to."""
    assert too_wide(page) == [], f"wider than the viewport on {page.url}"
    assert axe_violations(page) == [], f"axe-core on {page.url}"
    if name and SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        # What the phone's screen shows, not the whole page, in 32 colours: the README's pictures stay small.
        shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB").quantize(32)
        shot.save(Path(SCREENSHOT_DIR) / f"{name}.png", optimize=True)


def choose_desa_without_javascript(page, desa: str = DESA_A) -> None:
    """The no-JavaScript cascade: one "Lanjut" per level, then the desa."""
    parts = desa.split(".")
    for level, depth in (("provinsi", 1), ("kabupaten", 2), ("kecamatan", 3)):
        page.select_option(f"#{level}", ".".join(parts[:depth]))
        page.click(f"button[name=lanjut][value={level}]")
    page.select_option("#desa", desa)


def choose_desa_with_javascript(page, desa: str = DESA_A) -> None:
    parts = desa.split(".")
    for level, depth in (("provinsi", 1), ("kabupaten", 2), ("kecamatan", 3), ("desa", 4)):
        code = ".".join(parts[:depth])
        page.wait_for_selector(f"#{level} option[value='{code}']", state="attached")
        page.select_option(f"#{level}", code)


def search(page, name: str, answer: str = ANSWER) -> None:
    page.fill("#nama", name)
    page.fill("#captcha_jawaban", answer)
    page.click("button[name=cari]")
    page.wait_for_selector("h1")


def error_summary_focused(page) -> bool:
    """After a refused submit the focus is on the error summary (GOV.UK), so the reader hears it first."""
    assert page.locator(".error-summary").count() == 1, "a refused submit shows one error summary"
    return page.evaluate("() => !!document.activeElement.closest('.error-summary')")
