"""Comparison reports: the compared accounts of a PDF report

Revision ID: 0010_compare_reports
Revises: 0009_studio_import

"""

import sqlalchemy as sa
from alembic import op

revision = '0010_compare_reports'
down_revision = '0009_studio_import'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compared', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('compared')
