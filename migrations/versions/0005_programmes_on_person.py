"""programme columns on registry_person; drop the indexes no query uses

Each programme entry was a row of its own, four per person: importing them cost more than
the person rows. The extract has one column per programme, and so does the person now.
The (desa_code, name_key) and batch_id indexes served no query and slowed every insert.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 05:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# A snapshot of portal.models.Programme (migrations never import the models).
PROGRAMMES = ('pkh', 'bpnt', 'pbi_jk', 'blt')


def upgrade():
    # Indexes first, so that the copy below does not maintain them. On PostgreSQL the whole
    # upgrade holds an exclusive lock on registry_person (lookups wait): run it in a quiet
    # hour and `VACUUM ANALYZE registry_person` afterwards.
    with op.batch_alter_table('registry_person', schema=None) as batch_op:
        batch_op.drop_index('ix_registry_person_desa_name')
        batch_op.drop_index('ix_registry_person_batch_id')
        batch_op.add_column(sa.Column('period', sa.String(length=40), nullable=True))
        for programme in PROGRAMMES:
            batch_op.add_column(sa.Column(programme, sa.Boolean(), nullable=True))

    # One pass over programme_entry, grouped per person (UPDATE … FROM: PostgreSQL, SQLite >= 3.33).
    flag = "(MAX(CASE WHEN programme = '{0}' THEN CAST(receives AS INTEGER) END) = 1) AS {0}"
    op.execute(
        f"UPDATE registry_person SET {', '.join(f'{p} = e.{p}' for p in PROGRAMMES)}, period = e.period "
        f"FROM (SELECT person_id, MIN(period) AS period, {', '.join(flag.format(p) for p in PROGRAMMES)} "
        "FROM programme_entry GROUP BY person_id) AS e WHERE registry_person.id = e.person_id"
    )
    op.execute(
        "UPDATE registry_person SET period = COALESCE((SELECT b.period FROM import_batch b "
        "WHERE b.id = registry_person.batch_id), '') WHERE period IS NULL"
    )
    op.drop_table('programme_entry')

    with op.batch_alter_table('registry_person', schema=None) as batch_op:
        batch_op.alter_column('period', existing_type=sa.String(length=40), nullable=False)


def downgrade():
    # The flags wait in a plain table while registry_person is rebuilt: on SQLite a rebuild
    # drops the old table, which would cascade into a programme_entry that refers to it.
    op.create_table('programme_entry_0005',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('programme', sa.String(length=10), nullable=False),
    sa.Column('receives', sa.Boolean(), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    )
    for programme in PROGRAMMES:
        op.execute(
            "INSERT INTO programme_entry_0005 (person_id, programme, receives, period) "
            f"SELECT id, '{programme}', {programme}, period FROM registry_person WHERE {programme} IS NOT NULL"
        )
    with op.batch_alter_table('registry_person', schema=None) as batch_op:
        batch_op.create_index('ix_registry_person_batch_id', ['batch_id'], unique=False)
        batch_op.create_index('ix_registry_person_desa_name', ['desa_code', 'name_key'], unique=False)
        for programme in reversed(PROGRAMMES):
            batch_op.drop_column(programme)
        batch_op.drop_column('period')

    op.create_table('programme_entry',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('programme', sa.Enum(*PROGRAMMES, name='programme', native_enum=False, create_constraint=True, length=10), nullable=False),
    sa.Column('receives', sa.Boolean(), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['registry_person.id'], name=op.f('fk_programme_entry_person_id_registry_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'programme', name=op.f('pk_programme_entry')),
    sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO programme_entry (person_id, programme, receives, period) "
               "SELECT person_id, programme, receives, period FROM programme_entry_0005")
    op.drop_table('programme_entry_0005')
