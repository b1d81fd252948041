"""Sharing an account with a team: memberships with a role, and invite links

Revision ID: 0007_sharing
Revises: 0006

"""

from alembic import op
import sqlalchemy as sa


revision = '0007_sharing'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "account_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_account_members_account_id_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["added_by"], ["people.id"],
                                name=op.f("fk_account_members_added_by_people"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"],
                                name=op.f("fk_account_members_person_id_people"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_members")),
        sa.UniqueConstraint("account_id", "person_id", name=op.f("uq_account_members_account_id")),
    )
    with op.batch_alter_table("account_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_members_person_id"), ["person_id"], unique=False)
    op.create_table(
        "account_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_account_invites_account_id_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["people.id"],
                                name=op.f("fk_account_invites_created_by_people"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["used_by"], ["people.id"],
                                name=op.f("fk_account_invites_used_by_people"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_invites_token_hash")),
    )
    with op.batch_alter_table("account_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_invites_account_id"), ["account_id"], unique=False)


def downgrade():
    with op.batch_alter_table("account_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_invites_account_id"))
    op.drop_table("account_invites")
    with op.batch_alter_table("account_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_members_person_id"))
    op.drop_table("account_members")
