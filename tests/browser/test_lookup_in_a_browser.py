"""Cek status in a real browser at 360×740, with and without JavaScript, in Indonesian and English:
found, not found, a one-word name, a wrong captcha, the desil. Every page passes `checked`."""

from __future__ import annotations

import pytest

from tests.browser.conftest import (
    FOUND_NAME,
    checked,
    choose_desa_with_javascript,
    choose_desa_without_javascript,
    error_summary_focused,
    playwright_api,
    search,
)
from tests.browser.test_pages_fit_a_phone import small_targets, touching_buttons
from tests.conftest import DESA_A, make_row

FOUND_NIK = make_row(1, name=FOUND_NAME)["nik"]

INDONESIAN_TEXT = {
    "found": "Data ditemukan", "not_found": "Nama tidak ditemukan di desa ini", "desil": "Desil kesejahteraan",
    "one_word": "Tulis nama lengkap sesuai KTP", "captcha": "Angka tidak sesuai",
}
ENGLISH_TEXT = {
    "found": "Records found", "not_found": "Name not found in this village", "desil": "Welfare decile",
    "one_word": "Write the full name as on the KTP", "captcha": None,
}


def _lookup_form(page, live_portal, javascript: bool, *, first: bool = False) -> None:
    """The form with the desa chosen as a resident would: the selects, or the steps without script.
    The form is audited on the `first` visit only: later visits show the very same page."""
    page.goto(live_portal("/"))
    if first:
        checked(page, name="cek" if javascript else None)
    if javascript:
        assert page.is_hidden("button[name=lanjut]")  # the no-JS steps are hidden
        choose_desa_with_javascript(page)
    else:
        choose_desa_without_javascript(page)
        if first:
            checked(page)


def _every_outcome(page, live_portal, *, javascript: bool, text: dict, shots: bool) -> None:
    _lookup_form(page, live_portal, javascript, first=True)
    search(page, "siti aminah")
    assert page.inner_text("h1") == text["found"]
    content = page.content()
    assert "Si** Am****" in content and FOUND_NIK not in content
    checked(page, name="ditemukan" if shots else None)
    assert small_targets(page) == [] and touching_buttons(page) == []  # the desil form's NIK and its button

    page.fill("#nik", FOUND_NIK)  # the desil, for someone who also knows the NIK
    page.click("form[action$='/cek/desil'] button[type=submit]")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == text["desil"] and "3" in page.inner_text("main")
    checked(page)

    _lookup_form(page, live_portal, javascript)
    search(page, "Budi Santoso")
    assert page.inner_text("h1") == text["not_found"]
    checked(page)

    _lookup_form(page, live_portal, javascript)
    search(page, "Paris")  # one word: the form asks for the full name, what was typed kept
    assert text["one_word"] in page.inner_text("#nama-error, .field.has-error")
    assert page.input_value("#nama") == "Paris" and page.input_value("#desa") == DESA_A
    checked(page, name="satu-kata" if shots else None)
    # The captcha that bought the answer "a fuller name" still counts: the full name needs no new one.
    assert page.locator("#captcha_jawaban").count() == 0
    page.fill("#nama", "Siti Aminah")
    page.click("button[name=cari]")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == text["found"]
    if text["captcha"]:
        _lookup_form(page, live_portal, javascript)
        search(page, "Siti Aminah", answer="00000")
        assert text["captcha"] in page.inner_text("main")
        assert page.input_value("#nama") == "Siti Aminah"
        checked(page)
        assert error_summary_focused(page)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_resident_checks_their_status(phone, live_portal, javascript):
    _every_outcome(phone(javascript=javascript), live_portal, javascript=javascript, text=INDONESIAN_TEXT,
                   shots=javascript)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_in_english_every_outcome_speaks_english(phone, live_portal, javascript):
    page = phone(javascript=javascript, english=True)
    page.goto(live_portal("/"))
    assert page.get_attribute("html", "lang") == "en"
    _every_outcome(page, live_portal, javascript=javascript, text=ENGLISH_TEXT, shots=False)


def test_the_desa_search_fills_the_whole_cascade_in_english(phone, live_portal):
    page = phone(english=True)
    page.goto(live_portal("/"))
    page.fill("#desa-cari", "Cileunyi Kulon")
    playwright_api.expect(page.locator("#desa-cari-status")).to_have_text("Villages found: 1.")
    page.click("#desa-cari-hasil button")
    playwright_api.expect(page.locator("#wilayah-status")).to_contain_text("Chosen: Cileunyi Kulon (")
    playwright_api.expect(page.locator("#desa")).to_have_value(DESA_A)  # the page's CSP forbids eval
    checked(page)
    search(page, FOUND_NAME)
    assert page.inner_text("h1") == "Records found"
    page.click("text=Bahasa Indonesia")  # the switch: a plain link, back to the lookup form
    page.wait_for_selector("h1")
    assert page.get_attribute("html", "lang") == "id" and page.inner_text("h1") == "Cek status penerima bansos"


def test_a_poster_link_opens_the_form_with_the_desa_chosen(phone, live_portal):
    page = phone(javascript=False)
    page.goto(live_portal(f"/?desa={DESA_A}"))
    assert page.input_value("#desa") == DESA_A
    search(page, FOUND_NAME)
    assert page.inner_text("h1") == "Data ditemukan"
