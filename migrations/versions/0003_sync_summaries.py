"""Per-sync summaries and the page parts rendered from them, videos staged by a running sync, an index per sortable metric

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:41:00.781801
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staged_videos',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.String(length=32), nullable=False),
    sa.Column('create_time', sa.DateTime(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('video_description', sa.Text(), nullable=False),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('cover_image_url', sa.Text(), nullable=True),
    sa.Column('share_url', sa.Text(), nullable=True),
    sa.Column('embed_link', sa.Text(), nullable=True),
    sa.Column('view_count', sa.BigInteger(), nullable=False),
    sa.Column('like_count', sa.BigInteger(), nullable=False),
    sa.Column('comment_count', sa.BigInteger(), nullable=False),
    sa.Column('share_count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_staged_videos_run_id_sync_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'video_id', name=op.f('pk_staged_videos'))
    )
    op.create_table('sync_summaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sync_summaries_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_sync_summaries_run_id_sync_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_summaries')),
    sa.UniqueConstraint('account_id', 'zone', name=op.f('uq_sync_summaries_account_id'))
    )
    with op.batch_alter_table('sync_summaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_summaries_run_id'), ['run_id'], unique=False)

    op.create_table('rendered_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('pictures_stored_at', sa.DateTime(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_rendered_parts_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_rendered_parts_run_id_sync_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rendered_parts')),
    sa.UniqueConstraint('account_id', 'name', name=op.f('uq_rendered_parts_account_id'))
    )
    with op.batch_alter_table('rendered_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rendered_parts_run_id'), ['run_id'], unique=False)

    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.create_index('ix_videos_account_comment_count', ['account_id', 'comment_count', 'id'], unique=False)
        batch_op.create_index('ix_videos_account_duration', ['account_id', 'duration', 'id'], unique=False)
        batch_op.create_index('ix_videos_account_like_count', ['account_id', 'like_count', 'id'], unique=False)
        batch_op.create_index('ix_videos_account_share_count', ['account_id', 'share_count', 'id'], unique=False)
        batch_op.create_index('ix_videos_account_view_count', ['account_id', 'view_count', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.drop_index('ix_videos_account_view_count')
        batch_op.drop_index('ix_videos_account_share_count')
        batch_op.drop_index('ix_videos_account_like_count')
        batch_op.drop_index('ix_videos_account_duration')
        batch_op.drop_index('ix_videos_account_comment_count')

    with op.batch_alter_table('rendered_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rendered_parts_run_id'))

    op.drop_table('rendered_parts')
    with op.batch_alter_table('sync_summaries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_summaries_run_id'))

    op.drop_table('sync_summaries')
    op.drop_table('staged_videos')
