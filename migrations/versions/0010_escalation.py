"""escalation of overdue complaints, the follow-up question, staff contacts and notice preferences

A complaint left `diterima`/`ditinjau` too long is raised to the kecamatan, then the kabupaten
(`escalation_level` only rises); `followup_sent_at` makes the week-after-selesai question go
once. Staff accounts get an encrypted contact and how they want to hear of new and overdue
complaints.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation_level', sa.Enum('kecamatan', 'kabupaten', name='escalation_level', native_enum=False, create_constraint=True, length=10), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('followup_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaint_escalation_level'), ['escalation_level'], unique=False)

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_channel', sa.Enum('email', 'sms', 'whatsapp', 'dev', name='staff_contact_channel', native_enum=False, create_constraint=True, length=10), nullable=True))
        batch_op.add_column(sa.Column('contact_encrypted', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('notify_new', sa.Enum('segera', 'harian', 'tidak', name='staff_notify_new', native_enum=False, create_constraint=True, length=10), server_default='tidak', nullable=False))
        batch_op.add_column(sa.Column('notify_overdue', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('digest_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('overdue_list_sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # SQLite rebuilds the table: a check constraint naming a dropped column must go first.
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_staff_user_staff_contact_channel'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_staff_user_staff_notify_new'), type_='check')
        batch_op.drop_column('overdue_list_sent_at')
        batch_op.drop_column('digest_sent_at')
        batch_op.drop_column('notify_overdue')
        batch_op.drop_column('notify_new')
        batch_op.drop_column('contact_encrypted')
        batch_op.drop_column('contact_channel')

    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_complaint_escalation_level'), type_='check')
        batch_op.drop_index(batch_op.f('ix_complaint_escalation_level'))
        batch_op.drop_column('followup_sent_at')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('escalation_level')
