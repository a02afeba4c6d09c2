"""Staff pages of issue 14: notice settings, the SLA page per desa, and the admins' outbox view."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from portal.models import (
    AuditEntry,
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    EscalationLevel,
    MessageStatus,
    OutboxMessage,
    StaffUser,
    utcnow,
)
from portal.services import sla
from portal.services.outbox import queue_message
from portal.services.staff_notifications import staff_contact
from tests.conftest import DESA_A, DESA_B, DESA_C, make_complaint, make_staff
from tests.routes.test_staff import as_user


def _account(session, username: str) -> StaffUser:
    session.expire_all()
    return session.scalars(select(StaffUser).where(StaffUser.username == username)).one()


# -- notice settings ------------------------------------------------------------------------------


def test_a_staff_member_sets_their_contact_and_a_wrong_number_is_shown_again(app, session, vault):
    make_staff(session, "op.desa", "desa", DESA_A)
    client = as_user(app, "op.desa")
    wrong = client.post("/staf/kabar", data={"saluran": "sms", "alamat": "021 555", "baru": "segera"})
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 200
    assert 'value="021 555"' in page  # what was typed comes back
    assert page.count("Nomor HP seluler tidak dikenali") == 2  # next to the field, and in the summary at the top
    assert page.index('role="alert"') < page.index('id="alamat"')
    assert _account(session, "op.desa").contact_encrypted is None

    saved = client.post("/staf/kabar", data={"saluran": "sms", "alamat": "0812 3456 7890", "baru": "harian",
                                             "lewat_waktu": "y"})
    assert saved.status_code == 303
    user = _account(session, "op.desa")
    assert staff_contact(vault, user) == ("sms", "+6281234567890")
    assert (user.notify_new, user.notify_overdue) == ("harian", True)
    shown = client.get("/staf/kabar").get_data(as_text=True)
    assert "+628******7890" in shown and "6281234567890" not in shown

    # Saving again with the address left empty keeps the stored one.
    assert client.post("/staf/kabar", data={"saluran": "sms", "alamat": "", "baru": "tidak"}).status_code == 303
    assert staff_contact(vault, _account(session, "op.desa")) == ("sms", "+6281234567890")
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "kabar_diatur")).target == "op.desa"


def test_a_manager_sets_an_account_they_manage_and_a_desa_operator_cannot(app, session, vault):
    make_staff(session, "op.desa", "desa", DESA_A)
    make_staff(session, "op.wetan", "desa", DESA_B)
    make_staff(session, "dinsos.bandung", "kabupaten", "32.04")
    manager = as_user(app, "dinsos.bandung")
    response = manager.post("/staf/akun/op.desa/kabar", data={"saluran": "email", "alamat": "Op.Desa@Desa.id",
                                                              "baru": "segera"})
    assert response.status_code == 303
    assert staff_contact(vault, _account(session, "op.desa")) == ("email", "op.desa@desa.id")
    operator = as_user(app, "op.wetan")
    assert operator.get("/staf/akun/op.desa/kabar").status_code == 404
    assert operator.post("/staf/akun/op.desa/kabar", data={"saluran": "", "baru": "tidak"}).status_code == 404
    assert staff_contact(vault, _account(session, "op.desa")) is not None


# -- SLA per desa ----------------------------------------------------------------------------------

NOW = utcnow()


def _complaint(session, vault, desa: str, subject: str, *, days_ago: float, status: ComplaintStatus,
               first_response_days: float | None = None, escalated: bool = False) -> str:
    code = make_complaint(session, vault, desa=desa, subject=subject)
    created = NOW - dt.timedelta(days=days_ago)
    session.execute(update(Complaint).where(Complaint.code == code).values(
        created_at=created, status=status,
        escalation_level=EscalationLevel.KECAMATAN if escalated else None))
    complaint_id = session.scalar(select(Complaint.id).where(Complaint.code == code))
    if first_response_days is not None:
        for later in (0, 1):  # the first staff action counts, not a later one
            session.add(ComplaintEvent(complaint_id=complaint_id, actor="staf", to_status="ditinjau",
                                       created_at=created + dt.timedelta(days=first_response_days + later)))
    session.commit()
    return code


@pytest.fixture
def known_dataset(app, session, vault):
    """DESA_A: an overdue escalated one nobody answered, one answered after 2 days, one resolved
    after a first answer at 4 days, one hidden; DESA_B: one fresh; DESA_C (another kabupaten): one."""
    S = ComplaintStatus
    _complaint(session, vault, DESA_A, "Ahmad Yani", days_ago=20, status=S.DITERIMA, escalated=True)
    _complaint(session, vault, DESA_A, "Cici Paramida", days_ago=10, status=S.DITINJAU, first_response_days=2)
    _complaint(session, vault, DESA_A, "Dedi Mulyadi", days_ago=30, status=S.SELESAI, first_response_days=4)
    _complaint(session, vault, DESA_A, "Euis Darliah", days_ago=30, status=S.DISEMBUNYIKAN, first_response_days=0.5)
    _complaint(session, vault, DESA_B, "Fajar Sidik", days_ago=1, status=S.DITERIMA)
    _complaint(session, vault, DESA_C, "Cici Lestari", days_ago=25, status=S.DITERIMA)


def test_sla_figures_per_desa_on_a_known_dataset(app, session, known_dataset):
    kecamatan = make_staff(session, "camat.cileunyi", "kecamatan", "32.04.05")
    rows = {r.desa_code: r for r in sla.service_levels(session, kecamatan, overdue_days=14)}
    assert set(rows) == {DESA_A, DESA_B}
    a, b = rows[DESA_A], rows[DESA_B]
    assert (a.desa_name, a.kecamatan_name) == ("Cileunyi Kulon", "Cileunyi")
    assert (a.total, a.open, a.overdue, a.escalated, a.waiting_first_response) == (3, 2, 1, 1, 1)
    assert a.median_days_to_first_response == 3.0
    assert (b.total, b.open, b.overdue, b.escalated, b.waiting_first_response) == (1, 1, 0, 0, 1)
    assert b.median_days_to_first_response is None


def test_the_sla_page_shows_region_names_in_the_users_scope_only(app, session, known_dataset):
    make_staff(session, "op.desa", "desa", DESA_A)
    make_staff(session, "admin.pusat", "admin", None)
    page = as_user(app, "op.desa").get("/staf/sla").get_data(as_text=True)
    assert "Cileunyi Kulon" in page and DESA_B not in page and DESA_C not in page
    assert "3,0" in page  # the median, in the page's language (Bahasa Indonesia)
    everything = as_user(app, "admin.pusat").get("/staf/sla").get_data(as_text=True)
    assert "Namosain" in everything and "Cileunyi Wetan" in everything
    assert app.test_client().get("/staf/sla").status_code == 302  # to the login


# -- the admins' outbox view -----------------------------------------------------------------------


@pytest.fixture
def messages(app, session, vault):
    ok = queue_message(session, vault, kind="staff_new", channel="email", recipient="budi.s@dinsos.go.id",
                       subject="Aduan baru ADU-AAAA-BBBB", body="Aduan baru ADU-AAAA-BBBB (Diterima): https://x/")
    dead = queue_message(session, vault, kind="staff_overdue", channel="sms", recipient="+6281234567890",
                         subject="", body="Aduan ADU-CCCC-DDDD melewati 14 hari")
    dead.status, dead.attempts, dead.last_error = MessageStatus.DEAD, 8, "gateway answered 500"
    session.commit()
    return {"ok": ok.id, "dead": dead.id}


@pytest.mark.parametrize("role,region", [("desa", DESA_A), ("kecamatan", "32.04.05"), ("kabupaten", "32.04")])
def test_the_outbox_view_is_refused_to_everyone_but_admins(app, session, messages, role, region):
    make_staff(session, "bukan.admin", role, region)
    client = as_user(app, "bukan.admin")
    assert client.get("/staf/pesan").status_code == 404
    assert client.post(f"/staf/pesan/{messages['dead']}/ulang").status_code == 404
    session.expire_all()
    assert session.get(OutboxMessage, messages["dead"]).status is MessageStatus.DEAD


def test_admins_see_messages_with_masked_recipients_and_retry_a_dead_letter(app, session, messages):
    make_staff(session, "admin.pusat", "admin", None)
    client = as_user(app, "admin.pusat")
    page = client.get("/staf/pesan").get_data(as_text=True)
    assert "bu***@di***.id" in page and "+628******7890" in page
    assert "budi.s@dinsos.go.id" not in page and "6281234567890" not in page
    assert "gateway answered 500" in page and "ADU-CCCC-DDDD" in page
    dead_only = client.get("/staf/pesan?status=dead").get_data(as_text=True)
    assert "ADU-CCCC-DDDD" in dead_only and "ADU-AAAA-BBBB" not in dead_only

    assert client.post(f"/staf/pesan/{messages['dead']}/ulang").status_code == 303
    session.expire_all()
    revived = session.get(OutboxMessage, messages["dead"])
    assert (revived.status, revived.attempts) == (MessageStatus.PENDING, 0)
    assert client.post(f"/staf/pesan/{messages['ok']}/ulang").status_code == 404  # not a dead letter
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "pesan_diulang")) is not None
