"""Keys and people without a foreign key to their contact: the one module that writes them
deletes them with it, and on PostgreSQL the foreign key's check of every inserted row cost as much
as the insert itself (about 1.3 s of database time per 100,000 rows in a full sync).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# SQLite's foreign keys have no name: batch mode names them by this convention to drop them
# (it rebuilds the table); PostgreSQL named them itself.
NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}
TABLES = ("index_keys", "index_people")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=NAMES) as batch:
            batch.drop_constraint(f"{table}_contact_id_fkey", type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=NAMES) as batch:
            batch.create_foreign_key(
                f"{table}_contact_id_fkey", "index_contacts", ["contact_id"], ["id"], ondelete="CASCADE"
            )
