"""captcha challenges describe themselves; only spent ids are stored

Issuing a challenge wrote a row on every form shown; an id now carries its purpose and
expiry under a MAC, and only the one attempt writes its id here (or to Redis).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Open challenges were drawn under the old scheme and cannot be answered any more: a
    # resident with a form open gets a new captcha, nothing else is lost.
    with op.batch_alter_table('captcha_challenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_captcha_challenge_expires_at'))
    op.drop_table('captcha_challenge')
    op.create_table('spent_challenge',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spent_challenge'))
    )
    with op.batch_alter_table('spent_challenge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spent_challenge_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('spent_challenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spent_challenge_expires_at'))
    op.drop_table('spent_challenge')
    op.create_table('captcha_challenge',
    sa.Column('id', sa.String(length=43), nullable=False),
    sa.Column('answer_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_captcha_challenge'))
    )
    with op.batch_alter_table('captcha_challenge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_captcha_challenge_expires_at'), ['expires_at'], unique=False)
