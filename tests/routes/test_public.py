"""Cek status over HTTP: the no-JavaScript cascade, captcha, results, bad input, limits."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from config import TestConfig
from portal import create_app
from portal.extensions import db
from portal.services.registry_import import import_registry
from tests.conftest import DESA_A, DESA_B, TODAY, make_row, write_csv

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
    session.close()
    return rows


def captcha_of(page: str) -> str:
    return re.search(r'name="captcha_id" type="hidden" value="([^"]+)"', page).group(1)


def solve(app, page: str) -> dict[str, str]:
    challenge = captcha_of(page)
    return {"captcha_id": challenge, "captcha_jawaban": app.extensions["captcha_keys"].answer(challenge)}


def lookup(app, client, name: str, **fields: str):
    page = client.get("/").text
    return client.post("/cek", data={**CHAIN, "nama": name, **solve(app, page), **fields})


def test_form_lists_provinces_and_a_captcha_whose_answer_never_reaches_the_client(app, client):
    response = client.get("/")
    assert response.status_code == 200
    assert '<option value="32">Jawa Barat</option>' in response.text
    challenge = captcha_of(response.text)
    answer = app.extensions["captcha_keys"].answer(challenge)
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


def test_a_single_word_asks_for_the_full_name_next_to_the_field_and_keeps_it(app, client, registry):
    response = lookup(app, client, "Siti")
    assert response.status_code == 200
    assert re.search(r'id="nama-error">Tidak ada yang bernama persis satu kata ini', response.text)
    assert "Tulis nama lengkap sesuai KTP" in response.text
    assert 'value="Siti"' in response.text
    assert f'<option selected value="{DESA_A}">' in response.text
    assert "Si** Am****" not in response.text and "Data ditemukan" not in response.text


def test_another_desa_does_not_answer(app, client, registry):
    response = lookup(app, client, "Budi Santoso")
    assert "Nama tidak ditemukan" in response.text


def test_too_many_matches_asks_for_a_fuller_name(app, client, registry):
    response = lookup(app, client, "Sri Wahyuni")
    assert "Terlalu banyak nama yang sama" in response.text
    assert "Sr** Wa*****" not in response.text


def test_desil_only_with_the_right_nik(app, client, registry):
    right = client.post("/cek/desil", data={"desa": DESA_A, "nama": "Siti Aminah", "nik": registry[0]["nik"]})
    assert "desil 3" in right.text
    assert registry[0]["nik"] not in right.text
    wrong = client.post("/cek/desil", data={"desa": DESA_A, "nama": "Siti Aminah", "nik": registry[1]["nik"]})
    assert "NIK tidak cocok" in wrong.text and "desil 3" not in wrong.text
    invalid = client.post("/cek/desil", data={"desa": DESA_A, "nama": "Siti Aminah", "nik": "123"})
    assert "NIK harus 16 digit angka" in invalid.text


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
    found = client.get("/api/wilayah/cari", query_string={"q": "cileunyi"}).json["wilayah"]
    parents = "Cileunyi, Kabupaten Bandung, Jawa Barat"
    assert {"kode": DESA_A, "nama": "Cileunyi Kulon", "induk": parents} in found
    page = client.get("/cari-desa", query_string={"q": "Cileunyi Kulon"}).text
    assert f'href="/?desa={DESA_A}"' in page


def test_security_headers(client):
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def limited_app(app):
    """A second app on the same database, with the limiter on (fresh in-memory counters)."""

    class Limited(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        RATELIMIT_ENABLED = True
        LOOKUP_LIMIT = "2/minute"
        LOOKUP_DESA_LIMIT = "1000/hour"

    limited = create_app(Limited)
    yield limited
    with limited.app_context():
        db.engine.dispose()


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
    client.post("/cek/desil", data={"desa": DESA_A, "nama": "Siti Aminah", "nik": registry[0]["nik"]})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("Siti Aminah", "SITI AMINAH", registry[0]["nik"], solved["captcha_jawaban"]):
        assert secret not in logged
