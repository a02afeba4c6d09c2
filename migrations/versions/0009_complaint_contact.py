"""complaint contact: "Kabari saya" opt-in for messages about a complaint

The channel (sms, whatsapp, email), the phone number or e-mail address encrypted with the PII
key, a keyed hash of the normalised contact (for finding a complainant's complaints later), the
moment consent was given, and the moment the contact said stop.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 14:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_COMPLETE = ("(contact_encrypted IS NULL) = (contact_channel IS NULL) "
             "AND (contact_encrypted IS NULL) = (contact_hash IS NULL) "
             "AND (contact_encrypted IS NULL) = (contact_consent_at IS NULL)")


def upgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_channel', sa.Enum('sms', 'whatsapp', 'email', name='contact_channel', native_enum=False, create_constraint=True, length=10), nullable=True))
        batch_op.add_column(sa.Column('contact_encrypted', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('contact_hash', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('contact_consent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('contact_stopped_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(op.f('ck_complaint_contact_complete'), sa.text(_COMPLETE))
        batch_op.create_index(batch_op.f('ix_complaint_contact_hash'), ['contact_hash'], unique=False)


def downgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_contact_hash'))
        batch_op.drop_constraint(op.f('ck_complaint_contact_complete'), type_='check')
        batch_op.drop_constraint(op.f('ck_complaint_contact_channel'), type_='check')
        batch_op.drop_column('contact_stopped_at')
        batch_op.drop_column('contact_consent_at')
        batch_op.drop_column('contact_hash')
        batch_op.drop_column('contact_encrypted')
        batch_op.drop_column('contact_channel')
