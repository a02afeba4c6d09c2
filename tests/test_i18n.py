"""Languages: the catalogues are complete and current, and a visitor gets and keeps the language they choose."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from portal.forms import AccountForm, MusdesForm
from portal.i18n import LANGUAGE_COOKIE
from portal.services.registry_import import import_registry
from tests.conftest import DESA_A, TODAY, login, make_complaint, make_row, make_staff, write_csv
from tests.routes.test_public import desil

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
#: The same keywords as `make messages` (Makefile): gettext's own, plus `_l` and `N_`.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None}
#: A %-placeholder as Python reads it (`%(name)s`, `%(bar)-30s`, `%(n)d`), or a literal `%%`.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrs%]")


def catalogue(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def messages_in_code() -> set[str]:
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    return {message if isinstance(message, str) else message[0] for _file, _line, message, *_ in found}


def msgids(language: str) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(language) if m.id}


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues():
    """The pages are translated from the compiled .mo files, which `make translations` builds."""
    for language in ("id", "en"):
        po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            pytest.fail(f"{mo.relative_to(ROOT)} is missing or older than its .po: run `make translations`")


# -- the catalogues ---------------------------------------------------------------------------


def test_every_message_has_an_english_translation():
    untranslated = [m.id for m in catalogue("en") if m.id and not (m.string if isinstance(m.string, str)
                                                                  else all(m.string))]
    fuzzy = [m.id for m in catalogue("en") if m.id and m.fuzzy]
    assert not untranslated, f"untranslated in en (run `make messages`, then translate): {untranslated}"
    assert not fuzzy, f"fuzzy in en (check the translation, then remove the fuzzy flag): {fuzzy}"


def test_the_catalogues_hold_exactly_the_messages_of_the_code():
    in_code = messages_in_code()
    for language in ("id", "en"):
        in_catalogue = msgids(language)
        assert not in_code - in_catalogue, f"missing from {language} (run `make messages`): {in_code - in_catalogue}"
        assert not in_catalogue - in_code, f"stale in {language} (run `make messages`): {in_catalogue - in_code}"


def test_placeholders_are_the_same_in_the_translation():
    for message in catalogue("en"):
        if message.id and isinstance(message.id, str):
            assert Counter(PLACEHOLDER.findall(message.string)) == Counter(PLACEHOLDER.findall(message.id)), \
                message.id


def test_translations_carry_no_markup_or_double_quotes():
    # Jinja's gettext marks a translation safe, and several are written into attributes
    # (data-* messages for portal.js, alt texts): a quote or a tag would break the page.
    for message in catalogue("en"):
        assert not set(message.string) & set('"<>'), message.id


def test_portal_js_writes_no_message_of_its_own():
    script = (ROOT / "portal" / "static" / "portal.js").read_text()
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)
    literals = re.findall(r"'([^'\\\n]*)'|`([^`]*)`", code)
    # A message reads like a sentence: a capital, then words ('Memuat daftar…', 'Kode disalin.').
    sentences = [text for pair in literals for text in pair if re.match(r"[A-Z][a-z]+ [a-z]", text)]
    assert not sentences
    assert "dataset[key]" in script  # …and the messages come from the page instead


# -- choosing the language --------------------------------------------------------------------


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


@pytest.mark.parametrize(("accept", "lang", "text"), [
    (None, "id", "Cek status penerima bansos"),
    ("en", "en", "Check whether you receive social assistance"),
    ("en-GB,en;q=0.9,id;q=0.5", "en", "Check whether you receive social assistance"),
    ("id-ID,id;q=0.9,en;q=0.8", "id", "Cek status penerima bansos"),
    ("fr-FR,fr;q=0.9", "id", "Cek status penerima bansos"),
])
def test_the_page_follows_accept_language(client, accept, lang, text):
    page = client.get("/", headers={"Accept-Language": accept} if accept else {}).text
    assert html_lang(page) == lang and text in page


def test_english_reaches_the_form_labels_and_the_javascript_messages(client):
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert "Full name as on the ID card (KTP)" in page and "— Choose Province —" in page
    assert 'data-found="Villages found: {n}."' in page
    assert 'data-picked="Chosen: {desa} ({induk})."' in page
    assert "Nama lengkap sesuai KTP" not in page and "Memuat daftar wilayah" not in page


def test_the_switch_sets_a_lasting_cookie_and_the_next_page_is_english(client):
    page = client.get("/statistik?kabupaten=32.04").text
    switch = re.search(r'<a href="([^"]+)" lang="en" hreflang="en">English</a>', page).group(1)
    response = client.get(switch.replace("&amp;", "&"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/statistik?kabupaten=32.04"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;") and "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "Max-Age=31536000" in cookie
    after = client.get("/statistik?kabupaten=32.04", headers={"Accept-Language": "id"})
    assert html_lang(after.text) == "en" and "Complaint statistics" in after.text
    assert {"Accept-Language", "Cookie"} <= set(after.headers["Vary"].replace(" ", "").split(","))
    back = client.get("/bahasa/id?next=/aduan/lacak", headers={"Accept-Language": "en"})
    assert back.headers["Location"] == "/aduan/lacak"
    assert "Lacak aduan" in client.get("/aduan/lacak", headers={"Accept-Language": "en"}).text


@pytest.mark.parametrize("target", [
    "//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    "\t//evil.example", "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "evil.example", "",
    "http:/evil.example", "///evil.example",
])
def test_the_switch_never_redirects_off_the_site(client, target):
    response = client.get("/bahasa/en", query_string={"next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_an_unknown_language_is_a_404_and_sets_nothing(client):
    response = client.get("/bahasa/fr?next=/")
    assert response.status_code == 404 and "Set-Cookie" not in response.headers


def test_a_garbled_cookie_falls_back_to_accept_language(client):
    client.set_cookie(LANGUAGE_COOKIE, "xx")
    assert html_lang(client.get("/", headers={"Accept-Language": "en"}).text) == "en"


def test_after_a_form_the_switch_returns_to_the_form_not_to_its_post_only_address(client):
    page = client.post("/cek", data={"nama": ""}).text  # a refused lookup, shown again
    assert 'href="/bahasa/en?next=/"' in page


def test_error_pages_are_translated(client):
    response = client.get("/tidak-ada", headers={"Accept-Language": "en"})
    assert response.status_code == 404 and html_lang(response.text) == "en" and "Page not found" in response.text


# -- messages that used to stay in Indonesian or come out garbled --------------------------------


@pytest.fixture
def person(app, session, vault, tmp_path):
    row = make_row(1, name="Siti Aminah", desil="3")
    import_registry(session, vault, write_csv(tmp_path / "r.csv", [row]), imported_by="t", period="2025-Q4",
                    today=TODAY)
    session.commit()  # the import flushes; its command commits
    session.close()
    return row


@pytest.mark.parametrize(("accept", "sentence"), [
    ("id", "Desil 1 adalah 10% rumah tangga paling miskin"),
    ("en", "Decile 1 is the poorest 10% of households"),
])
def test_the_desil_note_shows_its_percent_sign(app, client, person, accept, sentence):
    page = desil(app, client, person["nik"], environ_base={"HTTP_ACCEPT_LANGUAGE": accept}).text
    assert "desil 3" in page or "decile 3" in page
    assert sentence in page and "{}" not in page


@pytest.mark.parametrize(("accept", "required", "bad_date"), [
    ("id", "Isian ini wajib diisi.", "Tanggal tidak dikenali. Pilih tanggal dari kalender."),
    ("en", "This field is required.", "The date is not recognised. Choose a date from the calendar."),
])
def test_wtforms_own_messages_follow_the_language(app, accept, required, bad_date):
    with app.test_request_context("/", method="POST", headers={"Accept-Language": accept},
                                  data={"held_on": "kemarin", "decision": "disetujui"}):
        account = AccountForm()
        musdes = MusdesForm()
        assert not account.validate() and account.username.errors == [required]
        assert not musdes.validate() and musdes.held_on.errors == [bad_date]


def test_staff_pages_flash_and_export_in_english(app, session, vault):
    make_staff(session, "op.desa", "desa", DESA_A)
    code = make_complaint(session, vault, desa=DESA_A)
    session.close()
    client = app.test_client()
    client.set_cookie(LANGUAGE_COOKIE, "en")
    asked = client.get("/staf/antrian", follow_redirects=True)
    assert "Please log in first." in asked.text and html_lang(asked.text) == "en"
    assert login(client, "op.desa").status_code == 302
    body = client.get("/staf/antrian.csv").data.decode("utf-8").lstrip("\ufeff")
    header = next(csv.reader(io.StringIO(body)))
    assert header[:3] == ["code", "kind", "status"] and "description" in header
    queue = client.get("/staf/antrian").text
    assert "Complaint queue" in queue and 'href="/bahasa/id?next=/staf/antrian"' in queue
    assert "Objection (recipient not eligible)" in queue and "Village operator" in queue
    detail = client.get(f"/staf/aduan/{code}").text
    assert "Complainant" in detail and "Received" in detail and ">sanggah<" not in detail
    noted = client.post(f"/staf/aduan/{code}/catatan", data={"note": "cek lapangan"}, follow_redirects=True)
    assert "Note saved." in noted.text
    # A refused note is shown on the note's POST-only address; the switch leads back to the complaint.
    assert f"next=/staf/aduan/{code}\"" in client.post(f"/staf/aduan/{code}/catatan", data={"note": ""}).text


def test_upload_refusals_are_translated_with_their_numbers(app):
    from flask_babel import gettext

    from portal.services.uploads import UploadRejected, clean_image

    with pytest.raises(UploadRejected) as caught:
        clean_image(io.BytesIO(b"x" * 2048), max_bytes=1024)
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        shown = gettext(caught.value.message, **caught.value.params)
    assert shown == "The file is too large. The maximum size is 1 KB."


def test_dates_follow_the_language(app):
    from flask_babel import format_date

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert format_date(dt.date(2026, 8, 17), "long") == "August 17, 2026"
    with app.test_request_context("/"):
        assert format_date(dt.date(2026, 8, 17), "long") == "17 Agustus 2026"
