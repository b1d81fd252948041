"""Engagement: each person's choice of engagement formula

Revision ID: 0008_engagement
Revises: 0007_sharing

"""

import sqlalchemy as sa
from alembic import op

revision = '0008_engagement'
down_revision = '0007_sharing'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engagement_formula", sa.String(length=16),
                                      server_default="views", nullable=False))


def downgrade():
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("engagement_formula")
