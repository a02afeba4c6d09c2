"""A complaint from filing to its end in a real browser: a resident files it on a 360-px phone with
a photo (after an error round), tracks it, a desa operator triages it to `selesai` at 1280×800,
and the resident reopens it. With and without JavaScript, and in English."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.browser.conftest import (
    ANSWER,
    DESKTOP,
    checked,
    choose_desa_with_javascript,
    choose_desa_without_javascript,
    error_summary_focused,
)
from tests.conftest import DESA_A, STRONG_PASSWORD, make_staff

CODE = re.compile(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}")


def small_png() -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buffer, "PNG")
    return {"name": "rumah.png", "mimeType": "image/png", "buffer": buffer.getvalue()}


@pytest.fixture
def operator(session):
    make_staff(session, "op.kulon", "desa", DESA_A)
    session.commit()
    return "op.kulon"


def file_complaint(page, live_portal, *, javascript: bool, kind: str = "sanggah", shots: bool = False) -> str:
    """Files a complaint of `kind` with a photo, first without the description (an error round);
    returns the code."""
    page.goto(live_portal("/aduan/baru"))
    checked(page)
    page.check(f"input[name=jenis][value={kind}]")
    if javascript:
        choose_desa_with_javascript(page)
    else:
        choose_desa_without_javascript(page)
    page.fill("#subjek_nama", "Budi Santoso")
    page.fill("#subjek_rt", "3")
    page.fill("#subjek_rw", "2")
    if kind == "perbaikan":
        page.select_option("#perbaikan_bagian", "nama")
        page.fill("#perbaikan_nilai", "Budi Santosa")
    page.set_input_files("#foto", small_png())
    page.fill("#pelapor_nama", "Ani Lestari")
    page.fill("#pelapor_nik", "3204 0541 0385 0001")
    page.check("#persetujuan")
    page.fill("#captcha_jawaban", ANSWER)
    page.click("button[name=kirim]")  # the description is missing
    page.wait_for_selector("#uraian-error")
    assert page.input_value("#subjek_nama") == "Budi Santoso"  # what was typed is kept
    checked(page, name="aduan-salah" if shots else None)

    page.fill("#uraian", "Rumah Pak Budi bertingkat dua dan punya dua mobil, tetapi masih menerima PKH.")
    # The photo chosen before the error round is kept: it is listed, and not chosen again.
    assert page.inner_text("#foto-terpilih .filename") == "rumah.png"
    page.fill("#captcha_jawaban", ANSWER)
    if not page.is_checked("#persetujuan"):
        page.check("#persetujuan")
    page.click("button[name=kirim]")
    page.wait_for_selector("#kode-aduan")
    checked(page, name="aduan-terkirim" if shots else None)
    return CODE.search(page.inner_text("#kode-aduan")).group(0)


def track(page, live_portal, code: str) -> None:
    page.goto(live_portal("/aduan/lacak"))
    page.fill("#kode", code.lower())
    page.click("form[action$='/aduan/lacak'] button[type=submit]")
    page.wait_for_selector("section.track")
    checked(page)


def staff_page(browser, live_portal, username: str, *, english: bool = False):
    """A desa operator logged in at an office PC (a desa account has no second factor to type)."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB" if english else "id-ID")
    page = context.new_page()
    page.goto(live_portal("/staf/masuk"))
    checked(page)
    page.fill("#username", username)
    page.fill("#password", STRONG_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_selector("h1")
    return page


def triage_to_resolved(browser, live_portal, username: str, code: str, *, english: bool) -> None:
    """The operator moves the complaint to `ditinjau`, then `selesai` with a public note."""
    page = staff_page(browser, live_portal, username, english=english)
    page.goto(live_portal("/staf/antrian"))
    checked(page)
    page.click(f"a:has-text('{code}')")
    page.wait_for_selector("h1")
    checked(page)
    page.click("form[action$='/pindah'] button[value=ditinjau]")
    page.wait_for_selector("h1")
    page.fill("form[action$='/pindah'] textarea", "Sudah dicek di lapangan; usulan diteruskan ke musyawarah desa.")
    page.click("form[action$='/pindah'] button[value=selesai]")
    page.wait_for_selector("h1")
    checked(page)
    assert ("Resolved" if english else "Selesai") in page.inner_text("main")
    page.context.close()


@pytest.mark.parametrize(("javascript", "kind"), [(True, "sanggah"), (False, "usul")], ids=["js", "nojs"])
def test_a_complaint_is_filed_tracked_resolved_and_reopened(browser, phone, live_portal, operator, javascript, kind):
    page = phone(javascript=javascript)
    code = file_complaint(page, live_portal, javascript=javascript, kind=kind, shots=javascript)
    track(page, live_portal, code)
    assert "Diterima" in page.inner_text("section.track") and "WIB" in page.inner_text("section.track")

    triage_to_resolved(browser, live_portal, operator, code, english=False)

    track(page, live_portal, code)
    assert "Selesai" in page.inner_text("section.track") and "musyawarah desa" in page.inner_text("section.track")
    page.fill("#komentar", "Pak Budi masih menerima PKH bulan ini.")
    page.click("form[action$='/buka-kembali'] button[type=submit], form:has(#komentar) button[type=submit]")
    page.wait_for_selector("section.track")
    checked(page)
    assert "dibuka kembali" in page.inner_text("main")


def test_in_english_filing_tracking_and_triage_speak_english(browser, phone, live_portal, operator):
    page = phone(english=True)
    page.goto(live_portal("/aduan/baru"))
    assert page.get_attribute("html", "lang") == "en"
    code = file_complaint(page, live_portal, javascript=True, kind="perbaikan")
    assert page.inner_text("h1") == "We have received your complaint"
    track(page, live_portal, code)
    assert "Received" in page.inner_text("section.track")
    triage_to_resolved(browser, live_portal, operator, code, english=True)
    track(page, live_portal, code)
    assert "Resolved" in page.inner_text("section.track")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_an_empty_complaint_puts_the_focus_on_the_error_summary(phone, live_portal, javascript):
    page = phone(javascript=javascript)
    page.goto(live_portal("/aduan/baru"))
    page.click("button[name=kirim]")
    page.wait_for_selector(".error")
    checked(page)
    assert page.title().startswith("Kesalahan:") or page.locator(".error-summary").count() == 0
    assert error_summary_focused(page)


def test_a_qr_poster_prints_on_one_a4_page(browser, live_portal, operator):
    page = staff_page(browser, live_portal, operator)
    page.click("nav a[href='/staf/poster']")
    page.wait_for_selector("h1")
    checked(page)
    page.click(f"a[href='/staf/poster/{DESA_A}']")
    page.wait_for_selector("article.poster")
    checked(page)
    assert page.locator(".qr-box svg").bounding_box()["width"] > 300
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden() and page.locator(".no-print").first.is_hidden()
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    page.context.close()
