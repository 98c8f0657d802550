"""batch windows: a submission batch's own confirmation window

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

windows.batch_id (NULL: the school's window, as before). The school's windows stay unique per
(school, kind, year, semester) among those without a batch; a batch has at most one window per
kind. Both as partial unique indexes. No foreign key to submission_batches: it would close a
cycle with submission_batches.confirmation_window_id (see persistence/tables.Window).
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_windows_school_id_kind_academic_year_semester'), type_='unique')
        batch_op.create_index('uq_windows_batch_kind', ['school_id', 'batch_id', 'kind'], unique=True,
                              sqlite_where=sa.text('batch_id IS NOT NULL'),
                              postgresql_where=sa.text('batch_id IS NOT NULL'))
        batch_op.create_index('uq_windows_school_period', ['school_id', 'kind', 'academic_year', 'semester'],
                              unique=True, sqlite_where=sa.text('batch_id IS NULL'),
                              postgresql_where=sa.text('batch_id IS NULL'))


def downgrade() -> None:
    # A batch's window has receipts and a batch pointing at it, and would break the old
    # one-window-per-period rule: refuse rather than lose the dates students were given.
    count = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM windows WHERE batch_id IS NOT NULL")).scalar()
    if count:
        raise RuntimeError(f"{count} windows belong to a submission batch; they cannot be kept by revision 0009")
    with op.batch_alter_table('windows', schema=None) as batch_op:
        batch_op.drop_index('uq_windows_school_period')
        batch_op.drop_index('uq_windows_batch_kind')
        batch_op.create_unique_constraint(batch_op.f('uq_windows_school_id_kind_academic_year_semester'),
                                          ['school_id', 'kind', 'academic_year', 'semester'])
        batch_op.drop_column('batch_id')
