"""Kabar to complainants: filing and moving a complaint send the right messages, and a lost code is
sent again, through a real SMTP server and a real HTTP gateway stand-in on loopback; nothing for a
change that rolled back; nothing personal in any body; the stop link is honoured; the form keeps
what was typed."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default as email_policy

import pytest
import redis
from sqlalchemy import func, select

from portal.jobs import deliver_app_outbox
from portal.models import Complaint, MessageKind, MessageStatus, OutboxMessage
from portal.routes import staff as staff_routes
from portal.services.complaint_changes import contact_hash, stop_token
from portal.services.outbox import RECIPIENT_FIELD, SMS_LENGTH
from tests.conftest import DESA_A, limited_app, login, make_staff
from tests.messaging import Gateway, SmtpServer
from tests.routes.test_complaints import VALID, form_page, submit
from tests.routes.test_public import solve

BASE = "https://cekbansos.example.go.id"
PHONE_TYPED, PHONE = "0812-3456-7890", "+6281234567890"
EMAIL = "Ani.Lestari@Example.com"
#: Everything personal the complaint form holds: none of it may travel in a message.
PERSONAL = ("Ani Lestari", "3204054103850001", "3204 0541 0385 0001", "Budi Santoso", "Rumah Pak Budi",
            PHONE, "081234567890", "ani.lestari@example.com")


@pytest.fixture
def gateway():
    stand_in = Gateway().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def kabar_app(app, gateway, smtp):
    """The app with every channel configured at the stand-ins, and no development channel."""
    app.config.update(
        PUBLIC_BASE_URL=BASE, OUTBOX_DEV_CHANNEL=False,
        SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_STARTTLS=False, SMTP_TIMEOUT_SECONDS=5,
        SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_TOKEN="sms-token", SMS_GATEWAY_TIMEOUT_SECONDS=2,  # noqa: S106
        WHATSAPP_GATEWAY_URL=gateway.url, WHATSAPP_GATEWAY_TOKEN="wa-token",  # noqa: S106
        WHATSAPP_GATEWAY_TIMEOUT_SECONDS=2,
    )
    return app


def file_with_news(app, client, channel: str, address: str) -> str:
    response = submit(app, client, kabar_saluran=channel, kabar_alamat=address, kabar_setuju="y")
    assert response.status_code == 303
    return re.search(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}", client.get("/aduan/terkirim").text).group(0)


def messages(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def staff_client(app, session):
    make_staff(session, "operator.a", "desa", DESA_A)
    session.close()
    client = app.test_client()
    assert login(client, "operator.a").status_code == 302
    return client


def move(client, code: str, to: str, version: int, note: str = ""):
    return client.post(f"/staf/aduan/{code}/pindah", data={"to": to, "version": str(version), "note": note})


def assert_nothing_personal(texts) -> None:
    for text in texts:
        for personal in PERSONAL:
            assert personal.lower() not in text.lower(), personal


def test_filing_with_sms_news_sends_the_receipt_through_the_gateway(kabar_app, session, vault, gateway):
    client = kabar_app.test_client()
    code = file_with_news(kabar_app, client, "sms", PHONE_TYPED)
    complaint = session.scalars(select(Complaint)).one()
    # The contact is kept encrypted, with the consent's time and a keyed hash of the normalised number.
    assert complaint.contact_consent_at is not None and complaint.contact_stopped_at is None
    assert PHONE.encode() not in complaint.contact_encrypted
    assert complaint.contact_hash == contact_hash(vault, PHONE)
    [queued] = messages(session)
    assert (queued.kind, queued.status, queued.complaint_id) == (MessageKind.RECEIPT, MessageStatus.PENDING,
                                                                 complaint.id)
    report = deliver_app_outbox(kabar_app)  # what `flask outbox deliver` and the RQ job do
    assert report.sent == 1
    [request] = gateway.delivered()
    assert request.fields["target"] == PHONE and request.authorization == "sms-token"
    text = request.fields["message"]
    assert code in text and "Diterima" in text and len(text) <= SMS_LENGTH
    assert f"{BASE}/l/{code}" in text and f"{BASE}/s/{stop_token(vault, code)}" in text
    assert_nothing_personal([text])


def test_each_public_move_and_the_decision_reach_the_complainant_by_email(kabar_app, session, vault, smtp):
    code = file_with_news(kabar_app, kabar_app.test_client(), "email", EMAIL)
    staff = staff_client(kabar_app, session)
    assert move(staff, code, "ditinjau", 1).status_code == 303
    assert move(staff, code, "selesai", 2, "Sudah diverifikasi; diusulkan dalam musyawarah desa.").status_code == 303
    assert [m.kind for m in messages(session)] == [MessageKind.RECEIPT, MessageKind.STATUS, MessageKind.DECISION]
    assert deliver_app_outbox(kabar_app).sent == 3
    mails = [message_from_bytes(e.content, policy=email_policy) for e in smtp.inbox.envelopes]
    assert [e.rcpt_tos for e in smtp.inbox.envelopes] == [[EMAIL.lower()]] * 3
    assert [m["Subject"] for m in mails] == [f"Aduan {code} diterima", f"Aduan {code}: Sedang ditinjau",
                                             f"Aduan {code}: Selesai"]
    bodies = [m.get_content() for m in mails]
    assert all(code in body and f"{BASE}/l/{code}" in body and "/s/" in body for body in bodies)
    assert "status kini Sedang ditinjau" in bodies[1]
    assert "Selesai" in bodies[2] and "Sudah diverifikasi; diusulkan dalam musyawarah desa." in bodies[2]
    assert_nothing_personal(bodies + [m["Subject"] for m in mails])


def test_a_hidden_complaint_and_an_internal_note_tell_the_complainant_nothing(kabar_app, session):
    code = file_with_news(kabar_app, kabar_app.test_client(), "whatsapp", PHONE_TYPED)
    staff = staff_client(kabar_app, session)
    assert staff.post(f"/staf/aduan/{code}/catatan", data={"note": "Pelapor Ani Lestari ditelepon."}).status_code == 303
    assert move(staff, code, "disembunyikan", 1, "Spam").status_code == 303
    assert [m.kind for m in messages(session)] == [MessageKind.RECEIPT]


def test_a_move_that_rolls_back_sends_nothing(kabar_app, session, gateway, monkeypatch):
    code = file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    assert deliver_app_outbox(kabar_app).sent == 1
    staff = staff_client(kabar_app, session)

    def broken_page(*_args, **_kwargs):
        raise RuntimeError("the page after the move fails")

    monkeypatch.setattr(staff_routes, "_back_to", broken_page)  # after the service queued the message
    assert move(staff, code, "ditinjau", 1).status_code == 500
    assert [m.kind for m in messages(session)] == [MessageKind.RECEIPT]
    assert deliver_app_outbox(kabar_app).sent == 0
    assert len(gateway.requests) == 1


def test_the_stop_link_asks_first_and_then_nothing_more_is_sent(kabar_app, session, vault):
    code = file_with_news(kabar_app, kabar_app.test_client(), "whatsapp", PHONE_TYPED)
    link = f"/s/{stop_token(vault, code)}"
    visitor = kabar_app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200 and "Ya, hentikan kabar" in page.text
    assert session.scalars(select(Complaint.contact_stopped_at)).one() is None  # a GET writes nothing
    token = stop_token(vault, code)
    forged = token[:-1] + ("X" if token[-1] != "X" else "Y")  # one character off, never the token itself
    assert visitor.get(f"/s/{forged}").status_code == 404
    assert visitor.post(link).status_code == 200
    session.expire_all()
    assert session.scalars(select(Complaint.contact_stopped_at)).one() is not None
    # The receipt, not yet delivered, is given up too.
    assert [(m.status, m.last_error) for m in messages(session)] == [(MessageStatus.DEAD, "stopped by the recipient")]
    staff = staff_client(kabar_app, session)
    assert move(staff, code, "ditinjau", 1).status_code == 303
    assert [m.kind for m in messages(session)] == [MessageKind.RECEIPT]


def test_a_reply_stop_through_the_gateways_webhook_stops_the_messages(kabar_app, session):
    kabar_app.config["SMS_INBOUND_TOKEN"] = "webhook-secret"  # noqa: S105 - a test token
    code = file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    gateway_side = kabar_app.test_client()
    assert gateway_side.post("/kabar/masuk/wrong", data={"sender": "6281234567890", "message": "STOP"}
                             ).status_code == 404
    assert gateway_side.post("/kabar/masuk/webhook-secret", data={"sender": "6281234567890", "message": "terima kasih"}
                             ).status_code == 200
    assert session.scalars(select(Complaint.contact_stopped_at)).one() is None  # not a stop word
    assert gateway_side.post("/kabar/masuk/webhook-secret", json={"sender": "6281234567890", "message": " stop "}
                             ).status_code == 200
    session.expire_all()
    assert session.scalars(select(Complaint.contact_stopped_at)).one() is not None
    staff = staff_client(kabar_app, session)
    assert move(staff, code, "ditinjau", 1).status_code == 303
    assert [m.kind for m in messages(session)] == [MessageKind.RECEIPT]


def test_the_track_link_fills_in_the_code(kabar_app, session):
    code = file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    client = kabar_app.test_client()
    response = client.get(f"/l/{code}")
    assert response.status_code == 303
    assert f'value="{code}"' in client.get(response.headers["Location"]).text


def test_an_sms_with_a_long_note_stays_within_160_characters(kabar_app, session):
    code = file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    staff = staff_client(kabar_app, session)
    assert move(staff, code, "ditinjau", 1).status_code == 303
    long_note = "Hasil verifikasi lapangan: rumah layak huni, penghasilan tetap di atas batas. " * 3
    assert move(staff, code, "ditolak", 2, long_note).status_code == 303
    bodies = [m.body for m in messages(session)]
    assert len(bodies) == 3 and all(len(b) <= SMS_LENGTH and code in b and "/s/" in b for b in bodies)
    assert "diputuskan: Ditolak" in bodies[2]


@pytest.mark.parametrize(("changes", "message", "kept"), [
    ({"kabar_saluran": "sms", "kabar_alamat": "12345", "kabar_setuju": "y"},
     "Nomor HP seluler tidak dikenali", "12345"),
    ({"kabar_saluran": "whatsapp", "kabar_alamat": "022 1234567", "kabar_setuju": "y"},
     "Nomor HP seluler tidak dikenali", "022 1234567"),
    ({"kabar_saluran": "email", "kabar_alamat": "ani@", "kabar_setuju": "y"}, "Alamat e-mail tidak dikenali", "ani@"),
    ({"kabar_saluran": "sms", "kabar_alamat": "", "kabar_setuju": "y"}, "Tulis nomor HP atau alamat e-mail", None),
    ({"kabar_saluran": "sms", "kabar_alamat": PHONE_TYPED}, "Centang persetujuan", PHONE_TYPED),
    ({"kabar_alamat": "ani@contoh.id"}, "Pilih SMS, WhatsApp atau e-mail", "ani@contoh.id"),
])
def test_news_fields_that_are_wrong_get_a_message_and_keep_what_was_typed(app, session, changes, message, kept):
    client = app.test_client()
    response = submit(app, client, form_page(client), **changes)
    assert response.status_code == 200 and message in response.text
    if kept:
        assert f'value="{kept}"' in response.text
    if channel := changes.get("kabar_saluran"):  # the chosen channel stays chosen
        assert re.search(rf'<input[^>]*checked[^>]*value="{channel}"|<input[^>]*value="{channel}"[^>]*checked',
                         response.text)
    assert VALID["uraian"] in response.text  # the rest of the form is kept too
    assert session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_a_commit_that_queued_messages_wakes_a_worker_and_a_rollback_does_not(kabar_app, session, monkeypatch,
                                                                              redis_server):
    if not redis_server:
        pytest.skip("needs TEST_REDIS_URL (the RQ queue)")
    from rq import Queue

    kabar_app.extensions["redis"] = connection = redis.Redis.from_url(redis_server)
    jobs = Queue("portal", connection=connection)
    no_news = submit(kabar_app, kabar_app.test_client(), subjek_nama="Cici Wulandari")
    assert no_news.status_code == 303 and jobs.count == 0  # no news asked: nothing queued, nobody woken
    code = file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    assert [job.func_name for job in jobs.jobs] == ["portal.jobs.deliver_outbox"]
    staff = staff_client(kabar_app, session)
    monkeypatch.setattr(staff_routes, "_back_to", lambda *_a, **_k: 1 / 0)
    assert move(staff, code, "ditinjau", 1).status_code == 500
    assert jobs.count == 1
    monkeypatch.undo()
    assert move(staff, code, "ditinjau", 1).status_code == 303
    assert jobs.count == 2


def test_a_base_url_too_long_for_an_sms_is_refused_at_start():
    from config import SMS_BASE_URL_MAX, ConfigError, check_config

    check_config({"PUBLIC_BASE_URL": "https://" + "x" * (SMS_BASE_URL_MAX - 8)})
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        check_config({"PUBLIC_BASE_URL": "https://" + "x" * (SMS_BASE_URL_MAX - 7)})


def test_with_the_longest_base_url_the_longest_status_still_fits_an_sms(vault):
    from config import SMS_BASE_URL_MAX
    from portal.models import ComplaintStatus, MessageChannel
    from portal.services.complaint_changes import Kabar, compose

    kabar = Kabar(vault, "https://" + "x" * (SMS_BASE_URL_MAX - 8))
    sent = [(MessageKind.RECEIPT, ComplaintStatus.DITERIMA), (MessageKind.DECISION, ComplaintStatus.SELESAI),
            (MessageKind.DECISION, ComplaintStatus.DITOLAK), *((MessageKind.STATUS, s) for s in ComplaintStatus)]
    for kind, status in sent:
        _, body = compose(kabar, "ADU-7K2M-9QXP", status, kind, "Catatan " * 30, MessageChannel.SMS)
        assert len(body) <= SMS_LENGTH and kabar.stop_link("ADU-7K2M-9QXP") in body, body


def test_filing_tells_the_desa_operator_who_asked_at_once_and_nobody_else(kabar_app, session, vault, smtp):
    from portal.models import NewComplaintNotice
    from tests.services.test_staff_notifications import staff_with

    staff_with(session, vault, "op.segera", "desa", DESA_A, new=NewComplaintNotice.SEGERA)
    staff_with(session, vault, "op.ringkas", "desa", DESA_A, new=NewComplaintNotice.HARIAN)
    staff_with(session, vault, "op.lain", "desa", "32.04.05.2002", new=NewComplaintNotice.SEGERA)
    code = file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    [notice] = [m for m in messages(session) if m.kind is MessageKind.STAFF_NEW]
    assert vault.decrypt(notice.recipient_encrypted, RECIPIENT_FIELD) == "op.segera@dinsos.go.id"
    assert code in notice.body and f"{BASE}/staf/aduan/{code}" in notice.body
    assert_nothing_personal([notice.subject, notice.body])


# -- a lost code sent again ---------------------------------------------------------------

SENT = "Permintaan diterima"


def ask(app, client, contact: str, **changes):
    page = client.get("/aduan/lupa-kode").text
    return client.post("/aduan/lupa-kode", data={"kontak": contact, **solve(app, page), **changes})


def resent(session) -> list[OutboxMessage]:
    return [m for m in messages(session) if m.kind is MessageKind.CODE_RESEND]


def test_a_lost_code_goes_again_to_the_phone_given_for_news(kabar_app, session, vault, gateway):
    client = kabar_app.test_client()
    code = file_with_news(kabar_app, client, "sms", PHONE_TYPED)
    response = ask(kabar_app, kabar_app.test_client(), "+62 812 3456 7890")  # typed another way
    assert response.status_code == 200 and SENT in response.text and code not in response.text
    [message] = resent(session)
    assert vault.decrypt(message.recipient_encrypted, RECIPIENT_FIELD) == PHONE
    deliver_app_outbox(kabar_app)
    texts = [request.fields["message"] for request in gateway.delivered()]
    assert any(code in text and "STOP" in text for text in texts)
    assert_nothing_personal(texts)


def test_an_email_contact_gets_every_recent_code_by_email(kabar_app, session, smtp):
    client = kabar_app.test_client()
    first = file_with_news(kabar_app, client, "email", EMAIL)
    other = kabar_app.test_client()
    assert submit(kabar_app, other, kabar_saluran="email", kabar_alamat=EMAIL.upper(), kabar_setuju="y",
                  jenis="usul", subjek_nama="Siti Rahmawati",
                  uraian="Bu Siti janda lansia tinggal sendiri dan belum pernah menerima bantuan apa pun.",
                  ).status_code == 303
    second = re.search(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}", other.get("/aduan/terkirim").text).group(0)
    ask(kabar_app, kabar_app.test_client(), EMAIL.lower())
    [message] = resent(session)
    assert message.body.index(second) < message.body.index(first)  # newest first
    assert_nothing_personal([message.subject, message.body])


def test_the_page_answers_the_same_whether_or_not_the_contact_filed(kabar_app, session):
    file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    known = ask(kabar_app, kabar_app.test_client(), PHONE_TYPED)
    unknown = ask(kabar_app, kabar_app.test_client(), "0813-1111-2222")
    assert known.status_code == unknown.status_code == 200
    assert SENT in unknown.text
    assert known.text.replace(PHONE_TYPED, "") == unknown.text.replace("0813-1111-2222", "")
    assert len(resent(session)) == 1


def test_a_wrong_captcha_or_a_bad_contact_sends_nothing_and_keeps_what_was_typed(kabar_app, session):
    file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    wrong = ask(kabar_app, kabar_app.test_client(), PHONE_TYPED, captcha_jawaban="000000")
    assert SENT not in wrong.text and "Angka tidak sesuai" in wrong.text and PHONE_TYPED in wrong.text
    bad = ask(kabar_app, kabar_app.test_client(), "bukan nomor")
    assert SENT not in bad.text and "Nomor HP seluler tidak dikenali" in bad.text and "bukan nomor" in bad.text
    assert resent(session) == []


def test_a_stopped_contact_is_sent_nothing(kabar_app, session, vault):
    code = file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    assert kabar_app.test_client().post(f"/s/{stop_token(vault, code)}").status_code == 200
    assert SENT in ask(kabar_app, kabar_app.test_client(), PHONE_TYPED).text
    assert resent(session) == []


def test_many_addresses_cannot_flood_one_phone(kabar_app, session):
    file_with_news(kabar_app, kabar_app.test_client(), "sms", PHONE_TYPED)
    with limited_app(kabar_app, CODE_RESEND_LIMIT="3/day", TRACK_LIMIT="100/minute", PAGE_LIMIT="100/minute",
                     PUBLIC_BASE_URL=kabar_app.config["PUBLIC_BASE_URL"]) as limited:
        for n in range(6):
            client = limited.test_client()
            address = {"REMOTE_ADDR": f"198.51.100.{n + 1}"}
            page = client.get("/aduan/lupa-kode", environ_base=address).text
            response = client.post("/aduan/lupa-kode", environ_base=address,
                                   data={"kontak": PHONE_TYPED, **solve(limited, page)})
            assert SENT in response.text  # the same answer, sent or not
    assert len(resent(session)) == 3
    assert session.scalars(select(OutboxMessage)).all()  # the receipt is still there too
