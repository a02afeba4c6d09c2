"""The upload folder runs out of space: the complaint is not acknowledged and nothing stays behind.

The folder is a real 64 KiB tmpfs (`small_tmpfs`), so the write fails with the kernel's own ENOSPC."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from tests.routes.test_complaints import VALID, complaints, form_page, jpeg_bytes, submit, token_of


@pytest.fixture
def full_folder(app, small_tmpfs):
    app.config["UPLOAD_FOLDER"] = str(small_tmpfs)
    return small_tmpfs


def evidence_files(folder) -> list[str]:
    """The files of filed complaints (the pending photos of forms live in a folder of their own)."""
    return [entry.name for entry in folder.iterdir() if entry.is_file()]


def noise_png() -> bytes:
    """A photo that cannot shrink: some 400 KB however it is re-encoded, more than the folder holds."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_full_disk_keeps_the_form_acknowledges_nothing_and_leaves_no_file(app, client, session, full_folder,
                                                                              caplog):
    page = form_page(client)
    # The first photo fits and is written whole; the second runs out of space half-way.
    response = submit(app, client, page, files=[("kecil.jpg", jpeg_bytes()), ("besar.png", noise_png())])

    assert response.status_code == 503
    assert "Foto bukti tidak dapat disimpan karena gangguan penyimpanan" in response.text
    for typed in ("Ani Lestari", "Budi Santoso", VALID["uraian"]):
        assert typed in response.text
    assert not re.search(r"ADU-[0-9A-Z]{4}", response.text)
    assert client.get("/aduan/terkirim").status_code == 302  # no code waiting to be shown
    assert complaints(session) == 0
    assert evidence_files(full_folder) == []
    assert "evidence not stored: ENOSPC" in caplog.text
    # The photo that was written whole stays chosen for this form (a pending upload, not evidence).
    assert "kecil.jpg" in response.text and "besar.png" not in response.text.split("Foto yang sudah dipilih")[-1]

    # The same form (same token, fresh captcha) files once, with the photo it kept.
    retry = submit(app, client, response.text)
    assert retry.status_code == 303
    assert token_of(response.text) == token_of(page)
    assert complaints(session) == 1
    assert len(evidence_files(full_folder)) == 1


def test_a_full_disk_during_a_new_captcha_keeps_the_form(app, client, session, full_folder):
    page = form_page(client)
    data = {**VALID, "token": token_of(page), "gambar_baru": "1", "foto": [(io.BytesIO(noise_png()), "besar.png")]}
    response = client.post("/aduan/baru", data=data, content_type="multipart/form-data")
    assert response.status_code == 503 and "Foto bukti tidak dapat disimpan" in response.text
    assert "Budi Santoso" in response.text and evidence_files(full_folder) == []
