"""Aduan over HTTP: validation messages that keep what was typed, uploads, the code, lacak."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.models import Complaint
from portal.services.uploads import clean_image
from tests.conftest import DESA_A
from tests.routes.error_summary import has_summary, summary_links
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


def pending_token_of(page: str) -> str:
    return re.search(r'name="unggahan" type="hidden" value="([^"]+)"', page).group(1)


def submit(app, client, page: str | None = None, files=(), **changes):
    page = page or form_page(client)
    data = {**VALID, **solve(app, page), "token": token_of(page), "unggahan": pending_token_of(page), **changes}
    data = {k: v for k, v in data.items() if v is not None}
    if files:
        data["foto"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/aduan/kirim", data=data, content_type="multipart/form-data")


def complaints(session) -> int:
    return session.scalar(select(func.count()).select_from(Complaint))


def test_filing_shows_the_code_and_lacak_finds_it(app, client, session):
    response = submit(app, client, files=[("rumah.jpg", jpeg_bytes())])
    assert response.status_code == 303 and response.headers["Location"].endswith("/aduan/terkirim")
    receipt = client.get("/aduan/terkirim")
    code = re.search(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt.text).group(0)
    assert receipt.headers["Cache-Control"] == "no-store"
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
    response = client.post("/aduan/lacak", data={"kode": "ADU-0000-0000"})
    assert response.status_code == 200 and "Kode tidak ditemukan" in response.text


@pytest.mark.parametrize("typed", ["ADU-12", "salah ketik", "ADU-1234-5678-9"])
def test_a_malformed_code_is_told_what_a_code_looks_like(client, typed):
    response = client.post("/aduan/lacak", data={"kode": typed})
    message = "Kode aduan berbentuk ADU-XXXX-XXXX: ADU lalu 8 huruf atau angka, seperti pada tanda terima."
    assert summary_links(response.text) == [("kode", message)]
    assert f'value="{typed}"' in response.text and "Kode tidak ditemukan" not in response.text


def test_the_receipt_survives_a_reload_for_its_owner_only(app, client, session):
    submit(app, client)
    code = re.search(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}", client.get("/aduan/terkirim").text).group(0)
    reload = client.get("/aduan/terkirim")
    assert code in reload.text and reload.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in reload.headers  # showing it again writes nothing, not even the cookie
    stranger = app.test_client()
    assert stranger.get("/aduan/terkirim").status_code == 302
    assert code not in stranger.get("/aduan/lacak").text
    # The receipt's "Lacak aduan" link carries no code; the owner's lacak form has it typed in.
    assert re.search(r'<a href="/aduan/lacak">', reload.text) and "kode=" not in reload.text
    assert f'value="{code}"' in client.get("/aduan/lacak").text
    app.config["FILED_CODE_SECONDS"] = 0
    later = client.get("/aduan/terkirim")
    assert later.status_code == 302 and later.headers["Location"].endswith("/aduan/lacak")


def test_the_code_is_one_unbreakable_line_with_copy_and_print(app, client, session):
    submit(app, client)
    receipt = client.get("/aduan/terkirim").text
    code = re.search(r'<p class="code" id="kode-aduan" translate="no">(ADU-[0-9A-Z-]{9})</p>', receipt).group(1)
    assert f'data-code="{code}"' in receipt and 'data-copied="Kode disalin."' in receipt and 'id="cetak"' in receipt
    css = (Path(app.static_folder) / "portal.css").read_text()
    rule = re.search(r"\.code\{([^}]*)\}", css).group(1)
    assert "white-space:nowrap" in rule and "monospace" in rule and "break-all" not in rule


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
    from portal.services import uploads

    decoded: list[int] = []

    def counting_clean_image(stream, **options):
        decoded.append(1)
        return clean_image(stream, **options)

    monkeypatch.setattr(uploads, "clean_image", counting_clean_image)
    huge = png_bytes(6000, 6000)
    assert len(huge) < 200_000
    response = submit(app, client, captcha_jawaban="0", files=[(f"bom{n}.png", huge) for n in range(3)])
    assert "Angka tidak sesuai" in response.text and 'value="Budi Santoso"' in response.text
    assert decoded == [] and complaints(session) == 0
    # Kept as they came, they are decoded (and refused) only in the round whose answer is right.
    assert "bom0.png" in response.text
    again = submit(app, client, response.text, unggahan=pending_token_of(response.text))
    assert decoded and "bom1.png: Resolusi gambar ini terlalu besar" in again.text and complaints(session) == 0


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


def test_an_empty_complaint_gets_a_summary_linking_to_each_field_in_page_order(app, client, session):
    page = form_page(client)
    assert not has_summary(page) and "<title>Aduan baru" in page
    response = submit(app, client, page, jenis=None, subjek_nama="", uraian="", pelapor_nik="12345",
                      persetujuan=None)
    targets = [target for target, _ in summary_links(response.text)]
    assert targets == ["jenis-0", "subjek_nama", "uraian", "pelapor_nik", "persetujuan"]
    assert ("pelapor_nik", "NIK harus 16 digit angka (sekarang 5 digit).") in summary_links(response.text)
    assert response.text.count("NIK harus 16 digit angka (sekarang 5 digit).") == 2  # summary and field


def test_the_summary_and_title_prefix_are_in_english_too(app, client, session):
    page = client.get("/aduan/baru", headers={"Accept-Language": "en"}).text
    data = {**VALID, **solve(app, page), "token": token_of(page), "uraian": ""}
    response = client.post("/aduan/kirim", data=data, headers={"Accept-Language": "en"})
    assert "<title>Error: " in response.text and "There is a problem" in response.text
    assert summary_links(response.text)[0][0] == "uraian"


def corrupt_jpeg() -> bytes:
    return jpeg_bytes()[:200]  # a JPEG by its first bytes, cut off: only decoding finds it broken


def pending_folder(app) -> Path:
    return Path(app.config["UPLOAD_FOLDER"] or Path(app.instance_path) / "uploads") / "pending"


def test_every_error_comes_in_one_round_a_bad_photo_with_a_bad_nik(app, client, session):
    response = submit(app, client, pelapor_nik="12345", files=[("rusak.jpg", corrupt_jpeg())])
    links = summary_links(response.text)
    assert ("pelapor_nik", "NIK harus 16 digit angka (sekarang 5 digit).") in links
    assert ("foto", "rusak.jpg: Foto ini rusak atau tidak lengkap. Coba kirim ulang atau ambil foto baru.") in links
    assert complaints(session) == 0


def test_with_a_wrong_captcha_a_file_that_is_no_photo_is_still_named_in_the_same_round(app, client, session):
    response = submit(app, client, captcha_jawaban="0", pelapor_nik="12345",
                      files=[("surat.jpg", b"<html>bukan foto</html>")])
    targets = [target for target, _ in summary_links(response.text)]
    assert targets == ["foto", "pelapor_nik", "captcha_jawaban"]
    assert "surat.jpg: Berkas ini bukan foto" in response.text and "Foto yang sudah dipilih" not in response.text


def test_a_chosen_photo_survives_an_error_round_and_a_new_captcha_and_is_filed(app, client, session):
    first = submit(app, client, pelapor_nik="12345", files=[("rumah.jpg", jpeg_bytes())])
    assert "Foto yang sudah dipilih" in first.text and "rumah.jpg" in first.text
    token = pending_token_of(first.text)
    data = {**VALID, "token": token_of(first.text), "unggahan": token, "gambar_baru": "1",
            "captcha_id": captcha_of(first.text)}
    renewed = client.post("/aduan/baru", data=data, content_type="multipart/form-data")
    assert "rumah.jpg" in renewed.text and pending_token_of(renewed.text) == token
    assert captcha_of(renewed.text) != captcha_of(first.text)
    filed = submit(app, client, renewed.text, unggahan=token)
    assert filed.status_code == 303
    complaint = session.scalars(select(Complaint)).one()
    assert len(complaint.evidence) == 1
    assert not any(pending_folder(app).iterdir())  # forgotten once filed


def test_a_kept_photo_can_be_removed_and_the_form_takes_three_in_all(app, client, session):
    first = submit(app, client, pelapor_nik="12345", files=[("a.jpg", jpeg_bytes()), ("b.jpg", jpeg_bytes())])
    assert 'data-max-files="1"' in first.text
    more = submit(app, client, first.text, pelapor_nik="12345", unggahan=pending_token_of(first.text),
                  files=[("c.jpg", jpeg_bytes()), ("d.jpg", jpeg_bytes())])
    assert "d.jpg: Paling banyak 3 foto." in more.text and "c.jpg" in more.text
    key = re.search(r'name="hapus_foto" value="([0-9a-f]+)"\s+aria-label="Hapus foto a.jpg"', more.text).group(1)
    data = {**VALID, "token": token_of(more.text), "unggahan": pending_token_of(more.text), "hapus_foto": key,
            "captcha_id": captcha_of(more.text)}
    removed = client.post("/aduan/baru", data=data, content_type="multipart/form-data")
    assert "a.jpg" not in removed.text and "b.jpg" in removed.text and "c.jpg" in removed.text
    assert submit(app, client, removed.text, unggahan=pending_token_of(removed.text)).status_code == 303
    assert len(session.scalars(select(Complaint)).one().evidence) == 2


def test_a_pending_photo_expires_and_is_never_reachable_by_url(app, client, session):
    first = submit(app, client, pelapor_nik="12345", files=[("rumah.jpg", jpeg_bytes())])
    token = pending_token_of(first.text)
    (folder,) = pending_folder(app).iterdir()
    assert token not in str(folder)  # the token that opens the photos is on no disk
    assert Path(app.static_folder).resolve() not in folder.resolve().parents
    for url in re.findall(r'(?:href|src|action|formaction)="([^"]+)"', first.text):
        assert token not in url and folder.name not in url
    for url in (f"/aduan/unggahan/{token}", f"/static/../instance/uploads/pending/{folder.name}",
                f"/aduan/foto/{token}"):
        assert client.get(url).status_code == 404
    three_hours_ago = time.time() - 3 * 3600
    os.utime(folder, (three_hours_ago, three_hours_ago))
    again = submit(app, client, first.text, unggahan=token)
    assert again.status_code == 303 and not folder.exists()
    assert session.scalars(select(Complaint)).one().evidence == []


def perbaikan_block(page: str) -> str:
    return re.search(r'<div class="perbaikan" data-jenis="perbaikan"[^>]*>', page).group(0)


@pytest.mark.parametrize(("jenis", "shown"), [(None, False), ("usul", False), ("sanggah", False), ("perbaikan", True)])
def test_the_perbaikan_fields_are_shown_only_for_perbaikan(client, jenis, shown):
    page = form_page(client, **({"jenis": jenis} if jenis else {}))
    assert ("hidden" not in perbaikan_block(page)) is shown
    assert 'id="perbaikan_bagian"' in page  # in the page, for CSS :has() and portal.js to show on a choice


def test_a_perbaikan_without_its_field_comes_back_with_the_fields_shown(app, client, session):
    response = submit(app, client, jenis="perbaikan")
    assert "hidden" not in perbaikan_block(response.text)
    assert ("perbaikan_bagian", "Pilih data yang salah.") in summary_links(response.text)
    filed = submit(app, client, jenis="usul", perbaikan_bagian="nama", perbaikan_nilai="Budi S.")
    assert filed.status_code == 303
    assert session.scalars(select(Complaint)).one().correction_field is None  # not for an usul


def test_the_photo_label_names_the_formats_accepted(client):
    from portal.services.uploads import HEIF_SUPPORTED

    page = form_page(client)
    assert ("JPEG, PNG, WebP atau HEIC" in page) is HEIF_SUPPORTED
    assert ("image/heic" in page) is HEIF_SUPPORTED


def test_a_reopen_without_a_reason_gets_a_summary(app, client, session, vault):
    import datetime as dt

    from portal.models import ActorKind, ComplaintEvent, ComplaintStatus
    from tests.conftest import make_complaint

    code = make_complaint(session, vault)
    complaint = session.scalars(select(Complaint)).one()
    complaint.events.append(ComplaintEvent(actor=ActorKind.STAF, from_status=complaint.status,
                                           to_status=ComplaintStatus.SELESAI, note="Sudah diverifikasi.",
                                           created_at=dt.datetime.now(dt.UTC)))
    complaint.status = ComplaintStatus.SELESAI
    session.commit()
    response = client.post("/aduan/lacak/buka-lagi", data={"kode": code, "komentar": "belum"})
    assert summary_links(response.text) == [("komentar", "Alasan 10 sampai 1.000 huruf.")]
    assert not has_summary(client.post("/aduan/lacak", data={"kode": code}).text)


def test_lacak_shows_times_in_the_zone_of_the_desa(app, client, session, vault):
    from tests.conftest import DESA_C, make_complaint

    kupang = make_complaint(session, vault, desa=DESA_C)
    bandung = make_complaint(session, vault, subject="Dewi Lestari")
    session.commit()
    assert "WITA" in client.post("/aduan/lacak", data={"kode": kupang}).text
    page = client.post("/aduan/lacak", data={"kode": bandung}).text
    assert "WIB" in page and "WITA" not in page
