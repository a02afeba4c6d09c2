"""Cek status over HTTP: the no-JavaScript cascade, captcha, results, bad input, limits."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.services.captcha import ChallengePurpose
from portal.services.names import normalise_name
from portal.services.registry_import import import_registry
from tests.conftest import DESA_A, DESA_B, TODAY, make_row, write_csv
from tests.conftest import limited_app as app_with_limits

CHAIN = {"provinsi": "32", "kabupaten": "32.04", "kecamatan": "32.04.05", "desa": DESA_A}


@pytest.fixture
def registry(app, session, vault, tmp_path):
    rows = [
        make_row(1, name="Siti Aminah", desil="3"),
        make_row(2, name="Moch. Djoenaedi", sex="L", birth=dt.date(1970, 12, 1)),
        *[make_row(10 + n, name="Sri Wahyuni") for n in range(6)],
        make_row(30, name="Budi Santoso", sex="L", desa=DESA_B),
    ]
    import_registry(session, vault, write_csv(tmp_path / "r.csv", rows), imported_by="t",
                    period="2025-Q4", today=TODAY)
    session.commit()  # the import flushes; its command commits
    session.close()
    return rows


def captcha_of(page: str) -> str:
    return re.search(r'name="captcha_id" type="hidden" value="([^"]+)"', page).group(1)


def solve(app, page: str) -> dict[str, str]:
    challenge = captcha_of(page)
    return {"captcha_id": challenge, "captcha_jawaban": app.extensions["captcha"].keys.answer(challenge)}


def lookup(app, client, name: str, **fields: str):
    page = client.get("/").text
    return client.post("/cek", data={**CHAIN, "nama": name, **solve(app, page), **fields})


def test_form_lists_provinces_and_a_captcha_whose_answer_never_reaches_the_client(app, client):
    response = client.get("/")
    assert response.status_code == 200
    assert '<option value="32">Jawa Barat</option>' in response.text
    challenge = captcha_of(response.text)
    answer = app.extensions["captcha"].keys.answer(challenge)
    assert answer not in response.text
    assert all(answer not in cookie for cookie in response.headers.getlist("Set-Cookie"))
    image = client.get(f"/captcha/{challenge}.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert image.headers["Cache-Control"] == "no-store"
    assert client.get(f"/captcha/{challenge}.wav").data.startswith(b"RIFF")


def test_no_javascript_cascade_keeps_what_was_typed(client):
    page = client.post("/", data={"provinsi": "32", "nama": "Siti Aminah", "lanjut": "provinsi"}).text
    assert '<option value="32.04">Kabupaten Bandung</option>' in page
    assert 'value="Siti Aminah"' in page
    page = client.post("/", data={"provinsi": "32", "kabupaten": "32.04", "lanjut": "kabupaten"}).text
    assert '<option value="32.04.05">Cileunyi</option>' in page
    page = client.post("/", data={**CHAIN, "desa": "", "lanjut": "kecamatan"}).text
    assert f'<option value="{DESA_A}">Cileunyi Kulon</option>' in page
    page = client.get("/", query_string={"desa": DESA_A}).text
    assert f'<option selected value="{DESA_A}">Cileunyi Kulon</option>' in page


def test_found_shows_masked_people_and_never_the_nik(app, client, registry):
    response = lookup(app, client, "Siti Aminah")
    assert response.status_code == 200
    assert "Data ditemukan" in response.text and "Si** Am****" in response.text
    assert "Program Keluarga Harapan (PKH)" in response.text and "2025-Q4" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    for row in registry:
        assert row["nik"] not in response.text and row["no_kk"] not in response.text
    assert "1985-03-14" not in response.text and "14 Maret 1985" not in response.text
    assert "desil 3" not in response.text


def test_spelling_variant_is_found(app, client, registry):
    response = lookup(app, client, "Muhammad Junaedi")
    assert "Mo** Dj*******" in response.text


def test_not_found_is_helpful_and_unlike_a_failure(app, client, registry):
    response = lookup(app, client, "Siti Nurbaya")
    assert response.status_code == 200
    assert "Nama tidak ditemukan di desa ini" in response.text
    assert "Ajukan usulan pendaftaran" in response.text
    assert "gangguan" not in response.text


def test_a_close_spelling_is_shown_masked_and_marked_ejaan_berbeda(app, client, registry):
    response = lookup(app, client, "Siti Aminha")  # two letters swapped on a phone keyboard
    assert "Data ditemukan" in response.text and "Si** Am****" in response.text
    assert "ejaan berbeda" in response.text and "periksa ejaan nama di KTP" in response.text
    # Never a hint of the registered spelling beyond the mask everyone gets.
    assert "Aminah" not in response.text and "AMINAH" not in response.text
    exact = lookup(app, client, "Siti Aminah")
    assert "Si** Am****" in exact.text and "ejaan berbeda" not in exact.text


def next_lookup_of(page: str) -> dict[str, str]:
    """The pass fields of the "another name in this desa" form a lookup page carries."""
    return {name: re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page).group(1)
            for name in ("lanjutan", "sisa")}


def test_a_single_word_asks_for_the_full_name_next_to_the_field_and_keeps_it(app, client, registry):
    response = lookup(app, client, "Siti")
    assert response.status_code == 200
    assert re.search(r'id="nama-error">Tulis nama lengkap sesuai KTP, termasuk nama belakang', response.text)
    assert "tidak ada yang terdaftar hanya dengan satu kata ini" in response.text
    assert 'value="Siti"' in response.text
    assert f'<option selected value="{DESA_A}">' in response.text
    assert "Si** Am****" not in response.text and "Data ditemukan" not in response.text
    # The captcha it spent is not wasted: the full name goes through without a new one.
    assert 'name="captcha_jawaban"' not in response.text and "Tidak perlu mengetik angka lagi" in response.text
    full = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **next_lookup_of(response.text)})
    assert "Data ditemukan" in full.text and "Si** Am****" in full.text


def test_another_name_in_the_same_desa_needs_no_new_captcha_a_few_times(app, client, registry):
    page = lookup(app, client, "Siti Aminah").text
    assert f'href="/?desa={DESA_A}">Cari nama lain</a>' in page
    assert "Cari nama lain di Cileunyi Kulon" in page
    names = ["Moch. Djoenaedi", "Siti Nurbaya", "Sri Wahyuni"]
    expected = ["Data ditemukan", "Nama tidak ditemukan di desa ini", "Terlalu banyak nama yang sama"]
    for name, heading in zip(names, expected, strict=True):
        passes = next_lookup_of(page)
        page = client.post("/cek", data={**CHAIN, "nama": name, **passes}).text
        assert heading in page and f'href="/?desa={DESA_A}">Cari nama lain</a>' in page
        # A pass is good for one name only.
        replay = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **passes})
        assert "sudah dipakai atau kedaluwarsa" in replay.text and "Data ditemukan" not in replay.text
        assert 'name="captcha_jawaban"' in replay.text
    # One captcha buys four names: after that only the link, which asks for a captcha again.
    assert 'name="lanjutan"' not in page
    assert f'<option selected value="{DESA_A}">' in client.get(f"/?desa={DESA_A}").text
    assert f"<option selected value=\"{DESA_A}\">" not in client.get("/").text  # the cached blank form stays blank


def test_changing_the_region_drops_the_pass_and_asks_for_the_captcha(app, client, registry):
    passes = next_lookup_of(lookup(app, client, "Siti").text)
    step = client.post("/", data={**CHAIN, "desa": "", "nama": "Budi Santoso", "lanjut": "kecamatan", **passes})
    assert 'name="lanjutan"' not in step.text and 'name="captcha_jawaban"' in step.text


def test_a_next_lookup_pass_neither_opens_another_desa_nor_gains_more_names(app, client, registry):
    passes = next_lookup_of(lookup(app, client, "Siti Aminah").text)
    other_desa = {**CHAIN, "desa": DESA_B}
    assert "Data ditemukan" not in client.post("/cek", data={**other_desa, "nama": "Budi Santoso", **passes}).text
    more = {**passes, "sisa": "2" if passes["sisa"] != "2" else "1"}
    assert "Data ditemukan" not in client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **more}).text
    forged = {"lanjutan": app.extensions["captcha"].issue(ChallengePurpose.LOOKUP), "sisa": "2"}
    assert "Data ditemukan" not in client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **forged}).text


def test_a_found_person_offers_a_prefilled_perbaikan_and_sanggah_with_nothing_in_the_url(app, client, registry):
    page = lookup(app, client, "Siti Aminah").text
    forms = re.findall(r'<form method="post" action="(/aduan/baru)" class="complaint-button">(.*?)</form>',
                       page, re.S)
    kinds = [re.search(r'name="jenis" value="(\w+)"', body).group(1) for _action, body in forms]
    assert kinds == ["perbaikan", "sanggah"]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', forms[0][1]))
    assert fields["subjek_nama"] == "Siti Aminah" and fields["desa"] == DESA_A
    assert "nik" not in " ".join(fields) and registry[0]["nik"] not in page
    form = client.post("/aduan/baru", data=fields).text
    assert 'value="Siti Aminah"' in form and f'<option selected value="{DESA_A}">' in form
    assert re.search(r'<input checked id="jenis-\d" name="jenis" required type="radio" value="perbaikan">', form)
    assert f'value="{fields["subjek_rt"]}"' in form
    assert registry[0]["nik"] not in form


def test_another_desa_does_not_answer(app, client, registry):
    response = lookup(app, client, "Budi Santoso")
    assert "Nama tidak ditemukan" in response.text


def test_too_many_matches_asks_for_a_fuller_name(app, client, registry):
    response = lookup(app, client, "Sri Wahyuni")
    assert "Terlalu banyak nama yang sama" in response.text
    assert "Sr** Wa*****" not in response.text


def desil_pass_of(page: str) -> str:
    return re.search(r'name="bukti" type="hidden" value="([^"]+)"', page).group(1)


def desil(app, client, nik: str, name: str = "Siti Aminah", *, environ_base=None, **fields: str):
    """A lookup, then the desil form it offers, as a resident would go."""
    environ_base = environ_base or {}
    page = client.get("/", environ_base=environ_base).text
    found = client.post("/cek", data={**CHAIN, "nama": name, **solve(app, page)}, environ_base=environ_base)
    data = {"desa": DESA_A, "nama": name, "bukti": desil_pass_of(found.text), "nik": nik, **fields}
    return client.post("/cek/desil", data=data, environ_base=environ_base)


def test_desil_only_with_the_right_nik(app, client, registry):
    right = desil(app, client, registry[0]["nik"])
    assert "desil 3" in right.text
    assert registry[0]["nik"] not in right.text
    wrong = desil(app, client, registry[1]["nik"])
    assert "NIK tidak cocok" in wrong.text and "desil 3" not in wrong.text
    invalid = desil(app, client, "123")
    assert "NIK harus 16 digit angka" in invalid.text


def test_desil_needs_the_pass_of_a_lookup_that_just_found_that_name(app, client, registry):
    nik = registry[0]["nik"]
    for forged in ({}, {"bukti": "x"}, {"bukti": app.extensions["captcha"].issue(ChallengePurpose.LOOKUP)}):
        response = client.post("/cek/desil", data={"desa": DESA_A, "nama": "Siti Aminah", "nik": nik, **forged})
        assert "desil 3" not in response.text and "Cari lagi" in response.text
    # A pass from a lookup of another name does not open this one.
    page = client.get("/").text
    other = client.post("/cek", data={**CHAIN, "nama": "Moch. Djoenaedi", **solve(app, page)}).text
    response = client.post("/cek/desil", data={"desa": DESA_A, "nama": "Siti Aminah", "nik": nik,
                                               "bukti": desil_pass_of(other)})
    assert "desil 3" not in response.text


def test_a_desil_pass_allows_one_nik_try(app, client, registry):
    page = client.get("/").text
    found = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solve(app, page)}).text
    data = {"desa": DESA_A, "nama": "Siti Aminah", "bukti": desil_pass_of(found)}
    assert "NIK tidak cocok" in client.post("/cek/desil", data={**data, "nik": registry[1]["nik"]}).text
    again = client.post("/cek/desil", data={**data, "nik": registry[0]["nik"]})
    assert "desil 3" not in again.text and "Cari lagi" in again.text


def test_a_wrong_nik_and_a_name_nobody_has_get_the_same_answer(app, client, registry):
    wrong_nik = desil(app, client, "3204054103850099")
    # A lookup of a name nobody has offers no desil form; a pass for it (as the server would issue
    # one) must still get the very answer a wrong NIK gets.
    name = "Nama Tidak Ada"
    nobody_pass = app.extensions["captcha"].issue(ChallengePurpose.DESIL, bound_to=f"{DESA_A}|{normalise_name(name)}")
    nobody = client.post("/cek/desil", data={"desa": DESA_A, "nama": name, "bukti": nobody_pass,
                                             "nik": "3204054103850099"})
    strip = lambda page: re.sub(r'value="[^"]*"|Nama Tidak Ada|Siti Aminah', "", page)
    assert "NIK tidak cocok" in nobody.text
    assert strip(wrong_nik.text) == strip(nobody.text)


def test_each_desil_reveal_is_audited_without_the_nik(app, client, registry, session):
    from portal.models import AuditEntry

    desil(app, client, registry[0]["nik"])
    desil(app, client, registry[1]["nik"])
    entries = session.query(AuditEntry).filter_by(action="desil_dilihat").all()
    assert len(entries) == 1 and entries[0].region_code == DESA_A
    assert registry[0]["nik"] not in repr(entries[0].detail) + entries[0].target


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Si", "Nama terlalu pendek"),
        ("Siti 123", "Nama hanya boleh berisi huruf"),
        ("Siti 😀", "Nama hanya boleh berisi huruf"),
        ("x" * 10_000, "Nama terlalu panjang"),
        ("", "Nama wajib diisi"),
    ],
)
def test_bad_names_get_a_message_and_keep_the_region(app, client, registry, name, message):
    response = lookup(app, client, name)
    assert response.status_code == 200
    assert message in response.text
    assert f'<option selected value="{DESA_A}">' in response.text


def test_a_kecamatan_outside_the_kabupaten_is_a_400_with_a_message(app, client, registry):
    response = lookup(app, client, "Siti Aminah", kecamatan="32.01.01", desa="32.01.01.1001")
    assert response.status_code == 400
    assert "tidak berada di wilayah yang dipilih di atasnya" in response.text
    assert 'value="Siti Aminah"' in response.text


def test_an_unknown_desa_is_a_400(app, client, registry):
    response = lookup(app, client, "Siti Aminah", desa="32.04.05.9999")
    assert response.status_code == 400 and "tidak dikenal" in response.text


def test_a_missing_field_is_a_400(app, client):
    page = client.get("/").text
    response = client.post("/cek", data={**CHAIN, **solve(app, page)})
    assert response.status_code == 400 and "Nama wajib diisi" in response.text


def test_a_wrong_or_replayed_captcha_is_refused_and_the_name_kept(app, client, registry):
    page = client.get("/").text
    solved = solve(app, page)
    wrong = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solved, "captcha_jawaban": "0"})
    assert "Angka tidak sesuai" in wrong.text and 'value="Siti Aminah"' in wrong.text
    replay = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solved})
    assert "Angka tidak sesuai" in replay.text and "Data ditemukan" not in replay.text
    assert client.get(f"/captcha/{solved['captcha_id']}.png").status_code == 404


def test_skipping_the_captcha_fails(app, client, registry):
    response = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah"})
    assert "Data ditemukan" not in response.text


def test_region_json_is_cacheable(client):
    provinces = client.get("/api/wilayah")
    assert {"kode": "32", "nama": "Jawa Barat"} in provinces.json["wilayah"]
    children = client.get("/api/wilayah/32.04.05")
    assert {"kode": DESA_A, "nama": "Cileunyi Kulon"} in children.json["wilayah"]
    assert "max-age=86400" in children.headers["Cache-Control"]
    again = client.get("/api/wilayah/32.04.05", headers={"If-None-Match": children.headers["ETag"]})
    assert again.status_code == 304
    missing = client.get("/api/wilayah/99.99")
    assert missing.status_code == 404 and missing.is_json


def test_desa_search_with_and_without_javascript(client):
    answer = client.get("/api/wilayah/cari", query_string={"q": "kulon cileunyi"}).json
    parents = "Cileunyi, Kabupaten Bandung, Jawa Barat"
    assert answer == {"wilayah": [{"kode": DESA_A, "nama": "Cileunyi Kulon", "induk": parents}],
                      "lainnya": 0, "terlalu_pendek": False}
    page = client.get("/cari-desa", query_string={"q": "Cileunyi Kulon"}).text
    assert f'href="/?desa={DESA_A}"' in page


def test_two_letters_ask_for_three_with_and_without_javascript(client):
    answer = client.get("/api/wilayah/cari", query_string={"q": "ci"}).json
    assert answer == {"wilayah": [], "lainnya": 0, "terlalu_pendek": True}
    page = client.get("/cari-desa", query_string={"q": "ci"}).text
    assert "Ketik minimal 3 huruf nama desa/kelurahan." in page and "Tidak ada desa" not in page
    # The script says it with the page's words, not its own.
    assert 'data-too-short="Ketik minimal 3 huruf nama desa/kelurahan."' in client.get("/").text


def test_the_desa_search_says_how_many_more_there_are(app, client, session, test_regions):
    from portal.services.regions import RegionRecord, load_regions

    many = [RegionRecord(f"32.04.05.{2100 + n}", f"Sukamaju {n}", 4, "desa", "32.04.05") for n in range(1, 26)]
    load_regions(session, [*test_regions, *many])
    session.commit()
    answer = client.get("/api/wilayah/cari", query_string={"q": "sukamaju"}).json
    assert len(answer["wilayah"]) == 20 and answer["lainnya"] == 5
    page = client.get("/cari-desa", query_string={"q": "sukamaju"}).text
    assert "Dan 5 desa lain — tambahkan nama kecamatan atau kabupaten" in page
    assert "dan {more} desa lain — tambahkan nama kecamatan atau kabupaten." in client.get("/").text


def test_the_complaint_form_has_the_same_desa_search(client):
    form = client.get("/aduan/baru").text
    assert 'id="desa-cari"' in form and 'data-focus-after="subjek_nama"' in form
    assert 'name="untuk" value="aduan"' in form
    page = client.get("/cari-desa", query_string={"q": "cileunyi kulon", "untuk": "aduan"}).text
    assert f'href="/aduan/baru?desa={DESA_A}"' in page
    chosen = client.get("/aduan/baru", query_string={"desa": DESA_A}).text
    assert f'<option selected value="{DESA_A}">Cileunyi Kulon</option>' in chosen


def test_security_headers(client):
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def limited_app(app):
    """A second app on the same database, with the limiter on (fresh in-memory counters)."""
    with app_with_limits(app, LOOKUP_LIMIT="2/minute", LOOKUP_DESA_LIMIT="1000/hour") as limited:
        yield limited


def test_lookups_are_rate_limited_per_address(limited_app, registry):
    client = limited_app.test_client()
    for _ in range(2):
        assert lookup(limited_app, client, "Siti Aminah").status_code == 200
    response = lookup(limited_app, client, "Siti Aminah")
    assert response.status_code == 429
    assert "Terlalu banyak permintaan" in response.text
    other = limited_app.test_client()
    page = other.get("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}).text
    response = other.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solve(limited_app, page)},
                          environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 200


def test_close_spellings_and_single_words_spend_the_same_lookup_limit(limited_app, registry):
    # Trying spellings one after another, to walk a desa's names, is limited like any lookup.
    client = limited_app.test_client()
    assert "ejaan berbeda" in lookup(limited_app, client, "Siti Aminha").text
    assert "satu kata" in lookup(limited_app, client, "Siti").text
    assert lookup(limited_app, client, "Siti Amimah").status_code == 429


def test_lookups_of_one_desa_are_capped_across_addresses(limited_app, registry):
    limited_app.config.update(LOOKUP_LIMIT="100/minute", LOOKUP_DESA_LIMIT="2/hour")
    for n in range(3):
        client = limited_app.test_client()
        address = {"REMOTE_ADDR": f"10.0.0.{n}"}
        page = client.get("/", environ_base=address).text
        response = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solve(limited_app, page)},
                               environ_base=address)
    assert response.status_code == 429


def test_unsolved_posts_never_use_up_a_villages_allowance(limited_app, registry):
    """1,550 bogus posts from 140 addresses once blocked a desa for everyone: only solved lookups count."""
    limited_app.config.update(LOOKUP_LIMIT="100/minute", LOOKUP_DESA_LIMIT="2/hour")
    for n in range(30):
        client = limited_app.test_client()
        address = {"REMOTE_ADDR": f"10.7.0.{n}"}
        page = client.get("/", environ_base=address).text
        bogus = {**CHAIN, "nama": "Siti Aminah", "captcha_id": captcha_of(page), "captcha_jawaban": "00000"}
        assert client.post("/cek", data=bogus, environ_base=address).status_code == 200
    resident = limited_app.test_client()
    assert "Data ditemukan" in lookup(limited_app, resident, "Siti Aminah").text


def test_desil_guessing_stops_after_a_few_tries_across_many_addresses(limited_app, registry):
    limited_app.config.update(LOOKUP_LIMIT="100/minute", DESIL_LIMIT="100/minute", DESIL_TARGET_LIMIT="3/day")
    answers = []
    for n in range(6):
        client = limited_app.test_client()
        guess = f"320405410385{n + 10:04d}"
        answers.append(desil(limited_app, client, guess, environ_base={"REMOTE_ADDR": f"10.8.0.{n}"}).status_code)
    assert answers == [200, 200, 200, 429, 429, 429]
    # The person's allowance is used up for today, even for the right NIK from a new address.
    right = desil(limited_app, limited_app.test_client(), registry[0]["nik"], environ_base={"REMOTE_ADDR": "10.8.1.1"})
    assert right.status_code == 429 and "desil 3" not in right.text


def test_forms_need_a_csrf_token(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah"})
    assert response.status_code == 400
    assert "Permintaan tidak dapat diproses" in response.text


def test_no_name_nik_or_captcha_answer_in_any_log_line(app, client, registry, caplog):
    caplog.set_level(logging.DEBUG)
    page = client.get("/").text
    solved = solve(app, page)
    client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solved})
    desil(app, client, registry[0]["nik"])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("Siti Aminah", "SITI AMINAH", registry[0]["nik"], solved["captcha_jawaban"]):
        assert secret not in logged


PUBLIC_PAGES = (
    "/", f"/?desa={DESA_A}", "/aduan/baru", "/aduan/baru?jenis=usul", "/aduan/lacak", "/api/wilayah",
    "/api/wilayah/32.04", "/api/wilayah/cari?q=cileunyi", "/cari-desa?q=cileunyi", "/statistik",
)


def test_showing_pages_and_captchas_writes_nothing(app, client, registry):
    """No anonymous GET grows any storage: no statement that writes, no new Redis key."""
    writes: list[str] = []

    def record(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() not in ("SELECT", "PRAGMA", "SHOW"):
            writes.append(statement)

    store = app.extensions["redis"]
    keys_before = store.dbsize() if store is not None else 0
    event.listen(Engine, "before_cursor_execute", record)
    try:
        for path in PUBLIC_PAGES:
            page = client.get(path)
            assert page.status_code == 200, path
        challenge = captcha_of(client.get("/").text)
        assert client.get(f"/captcha/{challenge}.png").status_code == 200
        assert client.get(f"/captcha/{challenge}.wav").status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert writes == []
    assert (store.dbsize() if store is not None else 0) == keys_before


def test_one_challenges_audio_plays_a_few_times_from_any_address(limited_app):
    limited_app.config["AUDIO_PER_CHALLENGE_LIMIT"] = "3 per 30 minutes"
    challenge = limited_app.extensions["captcha"].issue(ChallengePurpose.LOOKUP)
    client = limited_app.test_client()
    plays = [client.get(f"/captcha/{challenge}.wav", environ_base={"REMOTE_ADDR": f"10.6.0.{n}"}).status_code
             for n in range(5)]
    assert plays == [200, 200, 200, 429, 429]


def test_the_blank_form_is_rendered_once_and_filled_per_visit(app, client, registry):
    from flask import template_rendered

    rendered: list[str] = []

    def record(_app, template, **_context) -> None:
        rendered.append(template.name)

    with template_rendered.connected_to(record, app):
        first, second = client.get("/").text, client.get("/").text
    assert rendered.count("public/index.html") == 1
    assert captcha_of(first) != captcha_of(second)
    assert first.replace(captcha_of(first), "") == second.replace(captcha_of(second), "")
    assert f"/captcha/{captcha_of(second)}.png" in second and "__portal_" not in second
    english = client.get("/", headers={"Accept-Language": "en"}).text
    assert 'lang="en"' in english and "__portal_" not in english
    # The filled-in challenge works like any other.
    response = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solve(app, second)})
    assert "Data ditemukan" in response.text


def test_the_blank_forms_csrf_token_is_the_visitors_own(app, registry):
    app.config["WTF_CSRF_ENABLED"] = True
    csrf = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    alice, bob = app.test_client(), app.test_client()
    alice_page, bob_page = alice.get("/").text, bob.get("/").text
    assert csrf.search(alice_page).group(1) != csrf.search(bob_page).group(1)
    form = {**CHAIN, "nama": "Siti Aminah", **solve(app, alice_page), "csrf_token": csrf.search(alice_page).group(1)}
    assert "Data ditemukan" in alice.post("/cek", data=form).text
    # Another visitor's token is refused.
    stolen = {**form, **solve(app, bob.get("/").text), "csrf_token": csrf.search(alice_page).group(1)}
    assert bob.post("/cek", data=stolen).status_code == 400


def test_a_lookup_with_errors_gets_a_summary_linking_to_the_fields(app, client):
    from tests.routes.error_summary import summary_links

    page = client.get("/").text
    response = client.post("/cek", data={**CHAIN, "desa": "", "nama": "", "captcha_id": captcha_of(page),
                                         "captcha_jawaban": ""})
    targets = [target for target, _ in summary_links(response.text)]
    assert targets == ["desa", "nama", "captcha_jawaban"]
    wrong = lookup(app, client, "Siti Aminah", captcha_jawaban="0")
    assert summary_links(wrong.text) == [("captcha_jawaban", "Angka tidak sesuai atau gambar sudah kedaluwarsa. "
                                                             "Ketik angka pada gambar yang baru.")]


def test_a_desil_nik_error_gets_a_summary(app, client, registry):
    from tests.routes.error_summary import summary_links

    assert [t for t, _ in summary_links(desil(app, client, "123").text)] == ["nik"]


@pytest.mark.parametrize("url", ["/", "/aduan/baru"])
def test_each_no_javascript_step_lands_at_the_field_it_opens(client, url):
    page = client.get(url).text
    steps = re.findall(r'formaction="([^"]+)" name="(lanjut|gambar_baru)" value="(\w+)"', page)
    assert [(name, value) for _, name, value in steps] == [
        ("lanjut", "provinsi"), ("lanjut", "kabupaten"), ("lanjut", "kecamatan"), ("gambar_baru", "1")]
    fragments = [action.split("#")[1] for action, _, _ in steps]
    assert fragments == ["kabupaten", "kecamatan", "desa", "captcha_jawaban"]
    assert all(f'id="{fragment}"' in page for fragment in fragments)


def test_the_result_pages_forms_carry_the_visitors_csrf_token(app, registry):
    app.config["WTF_CSRF_ENABLED"] = True
    csrf = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
    client = app.test_client()
    page = client.get("/").text
    found = client.post("/cek", data={**CHAIN, "nama": "Siti Aminah", **solve(app, page),
                                      "csrf_token": csrf.search(page).group(1)}).text
    next_form = found[found.index('<section class="next-lookup">'):]
    again = client.post("/cek", data={**CHAIN, "nama": "Moch. Djoenaedi", **next_lookup_of(found),
                                      "csrf_token": csrf.search(next_form).group(1)})
    assert again.status_code == 200 and "Mo** Dj*******" in again.text
    button = found[found.index('class="complaint-button"'):]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', button[:button.index("</form>")]))
    assert "csrf_token" in fields
    assert 'value="Siti Aminah"' in client.post("/aduan/baru", data=fields).text
