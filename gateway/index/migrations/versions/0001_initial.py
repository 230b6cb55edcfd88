"""The contact index: backends' sync state, contacts, their identity keys, and people.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_backends",
        sa.Column("namespace", sa.String(200), primary_key=True),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("pass_number", sa.Integer, nullable=False),
        sa.Column("resume_from", sa.String(200), nullable=True),
        sa.Column("resume_position", sa.BigInteger, nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "index_contacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(200), nullable=False),
        sa.Column("native_id", sa.String(200), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("pass_number", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=True),
        sa.Column("merged_into", sa.String(200), nullable=True),
        sa.Column("first_name_key", sa.String(300), nullable=True),
        sa.Column("last_name_key", sa.String(300), nullable=True),
        sa.Column("company_key", sa.String(300), nullable=True),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_index("ix_index_contacts_record", "index_contacts", ["namespace", "native_id"], unique=True)
    op.create_index("ix_index_contacts_order", "index_contacts", ["namespace", "position"])
    op.create_index("ix_index_contacts_company", "index_contacts", ["namespace", "company_key"])
    op.create_index("ix_index_contacts_live", "index_contacts", ["namespace", "merged_into"])
    op.create_table(
        "index_keys",
        sa.Column(
            "contact_id",
            sa.BigInteger,
            sa.ForeignKey("index_contacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("namespace", sa.String(200), nullable=False),
    )
    op.create_index("ix_index_keys_key", "index_keys", ["key", "namespace"])
    op.create_table(
        "index_people",
        sa.Column("deployment", sa.String(32), primary_key=True),
        sa.Column(
            "contact_id",
            sa.BigInteger,
            sa.ForeignKey("index_contacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("namespace", sa.String(200), nullable=False),
        sa.Column("ordinal", sa.BigInteger, nullable=False),
        sa.Column("group_ordinal", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_index_people_group", "index_people", ["deployment", "group_ordinal"])
    op.create_index("ix_index_people_ordinal", "index_people", ["deployment", "ordinal"])


def downgrade() -> None:
    op.drop_table("index_people")
    op.drop_table("index_keys")
    op.drop_table("index_contacts")
    op.drop_table("index_backends")
