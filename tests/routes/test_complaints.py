"""Aduan over HTTP: validation messages that keep what was typed, uploads, the code, lacak."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.models import Complaint
from portal.services.uploads import clean_image
from tests.conftest import DESA_A
from tests.routes.test_public import CHAIN, captcha_of, solve

VALID = {
    **CHAIN,
    "jenis": "sanggah",
    "pelapor_nama": "Ani Lestari",
    "pelapor_nik": "3204 0541 0385 0001",
    "pelapor_hp": "0812-3456-7890",
    "subjek_nama": "Budi Santoso",
    "subjek_rt": "3",
    "subjek_rw": "2",
    "uraian": "Rumah Pak Budi bertingkat dua dan punya dua mobil, tetapi masih menerima PKH.",
    "persetujuan": "y",
}


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), "olive").save(buffer, "JPEG")
    return buffer.getvalue()


def form_page(client, **query) -> str:
    return client.get("/aduan/baru", query_string=query).text


def token_of(page: str) -> str:
    return re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)


def submit(app, client, page: str | None = None, files=(), **changes):
    page = page or form_page(client)
    data = {**VALID, **solve(app, page), "token": token_of(page), **changes}
    data = {k: v for k, v in data.items() if v is not None}
    if files:
        data["foto"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/aduan/kirim", data=data, content_type="multipart/form-data")


def complaints(session) -> int:
    return session.scalar(select(func.count()).select_from(Complaint))


def test_filing_shows_the_code_once_and_lacak_finds_it(app, client, session):
    response = submit(app, client, files=[("rumah.jpg", jpeg_bytes())])
    assert response.status_code == 303 and response.headers["Location"].endswith("/aduan/terkirim")
    receipt = client.get("/aduan/terkirim")
    code = re.search(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt.text).group(0)
    assert receipt.headers["Cache-Control"] == "no-store"
    assert client.get("/aduan/terkirim").status_code == 302  # shown once
    tracked = client.post("/aduan/lacak", data={"kode": code.lower().replace("-", " ")})
    assert code in tracked.text and "Diterima" in tracked.text and "Cileunyi Kulon" in tracked.text
    for personal in ("Ani Lestari", "Budi Santoso", "3204054103850001", "081234567890"):
        assert personal not in tracked.text
    assert complaints(session) == 1


def test_a_retry_of_the_same_form_gives_the_same_code(app, client, session):
    page = form_page(client)
    submit(app, client, page)
    first = client.get("/aduan/terkirim").text
    submit(app, client, page)  # the same token, the captcha already spent
    again = client.get("/aduan/terkirim").text
    code = re.search(r"ADU-[0-9A-Z-]{9}", first).group(0)
    assert code in again and complaints(session) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pelapor_nik": "12345"}, "NIK harus 16 digit angka (sekarang 5 digit)"),
        ({"pelapor_nik": "9999995403850001"}, "Kode wilayah pada NIK"),
        ({"pelapor_nik": "3204057313850001"}, "Tanggal lahir pada NIK"),
        ({"pelapor_hp": "12"}, "Nomor HP tidak dikenali"),
        ({"uraian": "terlalu pendek"}, "Uraian 20 sampai 2.000 huruf"),
        ({"persetujuan": None}, "Persetujuan diperlukan"),
        ({"jenis": None}, "Pilih jenis aduan"),
        ({"jenis": "perbaikan"}, "Pilih data yang salah"),
        ({"subjek_nama": "<script>alert(1)</script>"}, "Nama hanya boleh berisi huruf"),
        ({"lintang": "52.52", "bujur": "13.40"}, "Lokasi di luar wilayah Indonesia"),
    ],
)
def test_each_bad_field_gets_a_message_and_keeps_what_was_typed(app, client, session, changes, message):
    response = submit(app, client, **changes)
    assert response.status_code == 200
    assert message in response.text
    assert 'value="Ani Lestari"' in response.text
    assert changes.get("uraian", VALID["uraian"]) in response.text
    assert f'<option selected value="{DESA_A}">' in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert complaints(session) == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("surat.jpg", b"<html><body>bukan foto</body></html>", "bukan foto"),
        ("gambar.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "bukan foto"),
    ],
)
def test_fake_images_are_refused_with_a_reason(app, client, session, name, content, message):
    response = submit(app, client, files=[(name, content)])
    assert response.status_code == 200 and message in response.text.lower()
    assert complaints(session) == 0


def test_more_than_three_photos_are_refused(app, client, session):
    response = submit(app, client, files=[(f"{n}.jpg", jpeg_bytes()) for n in range(4)])
    assert "Paling banyak 3 foto" in response.text and complaints(session) == 0
    assert 'data-max-files="3"' in form_page(client)  # the page checks the same limit before sending


def test_a_wrong_captcha_keeps_the_form(app, client, session):
    response = submit(app, client, captcha_jawaban="0")
    assert "Angka tidak sesuai" in response.text and 'value="Budi Santoso"' in response.text
    assert complaints(session) == 0


def test_an_unknown_code_gets_a_neutral_answer(client):
    for typed in ("ADU-0000-0000", "salah ketik"):
        response = client.post("/aduan/lacak", data={"kode": typed})
        assert response.status_code == 200 and "Kode tidak ditemukan" in response.text


def test_prefilled_from_a_lookup_that_found_nothing(client):
    page = client.post("/aduan/baru", data={**CHAIN, "jenis": "usul", "subjek_nama": "Siti Aminah"}).text
    assert 'value="Siti Aminah"' in page
    assert re.search(r'<input checked id="jenis-\d" name="jenis" required type="radio" value="usul">', page)
    assert f'<option selected value="{DESA_A}">' in page
    assert captcha_of(page)


def test_request_too_large_is_a_friendly_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = submit(app, client, files=[("besar.jpg", b"x" * 4096)])
    assert response.status_code == 413 and "Berkas terlalu besar" in response.text


def test_a_text_field_where_a_file_belongs_is_not_a_500(app, client, session):
    page = form_page(client)
    data = {**VALID, **solve(app, page), "token": token_of(page), "foto": "bukan berkas"}
    response = client.post("/aduan/kirim", data=data)
    assert response.status_code in (200, 303)


def test_nul_characters_are_dropped_not_a_database_error(app, client, session):
    response = submit(app, client, uraian="Rumah Pak Budi\x00 bertingkat dua dan punya dua mobil.")
    assert response.status_code == 303
    assert "\x00" not in session.scalars(select(Complaint)).one().description


def png_bytes(width: int, height: int) -> bytes:
    """A PNG that declares many pixels but weighs little on the wire (one colour compresses well)."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), 200).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_wrong_captcha_never_gets_its_photos_decoded(app, client, session, monkeypatch):
    """8 such posts with three 6000x6000 PNGs each once took the workers from 0.5 to 4.1 GB."""
    from portal.routes import complaints as route

    decoded: list[int] = []

    def counting_clean_image(stream, **options):
        decoded.append(1)
        return clean_image(stream, **options)

    monkeypatch.setattr(route, "clean_image", counting_clean_image)
    huge = png_bytes(6000, 6000)
    assert len(huge) < 200_000
    response = submit(app, client, captcha_jawaban="0", files=[(f"bom{n}.png", huge) for n in range(3)])
    assert "Angka tidak sesuai" in response.text and 'value="Budi Santoso"' in response.text
    assert decoded == [] and complaints(session) == 0


def test_the_photos_of_one_complaint_share_a_pixel_budget(app, client, session):
    app.config["UPLOAD_MAX_PIXELS_PER_REQUEST"] = 1_000_000
    photo = png_bytes(600, 600)  # 360,000 pixels each: two fit, the third does not
    response = submit(app, client, files=[("a.png", photo), ("b.png", photo), ("c.png", photo)])
    assert "c.png: Resolusi gambar ini terlalu besar" in response.text
    assert "a.png:" not in response.text and "b.png:" not in response.text
    assert complaints(session) == 0
    app.config["UPLOAD_MAX_PIXELS_PER_REQUEST"] = 2_000_000
    assert submit(app, client, files=[("a.png", photo), ("b.png", photo), ("c.png", photo)]).status_code == 303


def test_when_every_decoding_slot_stays_busy_the_form_comes_back_with_503(app, client, session):
    from portal.services import uploads

    app.config["UPLOAD_DECODE_WAIT_SECONDS"] = 0.05
    assert uploads._decode_slots.acquire(timeout=1)  # another request decoding a photo
    try:
        response = submit(app, client, files=[("a.jpg", jpeg_bytes())])
    finally:
        uploads._decode_slots.release()
    assert response.status_code == 503
    assert "Layanan sedang gangguan" in response.text and 'value="Budi Santoso"' in response.text
    assert complaints(session) == 0


def test_lacak_shows_times_in_the_zone_of_the_desa(app, client, session, vault):
    from tests.conftest import DESA_C, make_complaint

    kupang = make_complaint(session, vault, desa=DESA_C)
    bandung = make_complaint(session, vault, subject="Dewi Lestari")
    session.commit()
    assert "WITA" in client.post("/aduan/lacak", data={"kode": kupang}).text
    page = client.post("/aduan/lacak", data={"kode": bandung}).text
    assert "WIB" in page and "WITA" not in page
