"""Background jobs: the sync queue marker, the button's throttle, progress, stored pictures

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('sync_queued_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('sync_requested_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('avatar_stored_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('pictures_stored_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('sync_runs') as batch:
        batch.add_column(sa.Column('videos_done', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('videos_total', sa.Integer(), nullable=True))
    # Cover URLs were fetched, never stored: every cover is to be downloaded.
    op.execute("UPDATE videos SET cover_fetched_at = NULL")


def downgrade():
    with op.batch_alter_table('sync_runs') as batch:
        batch.drop_column('videos_total')
        batch.drop_column('videos_done')
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('pictures_stored_at')
        batch.drop_column('avatar_stored_at')
        batch.drop_column('sync_requested_at')
        batch.drop_column('sync_queued_at')
