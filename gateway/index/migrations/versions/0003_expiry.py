"""When a gateway last ran a sync round for each backend namespace (`index_backends.seen_at`) and
for each deployment (`index_deployments`): what no gateway runs any more expires. Rows already in
the database count as seen at the upgrade, so nothing expires sooner than `expire_s` after it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = datetime.now(UTC)
    with op.batch_alter_table("index_backends") as batch:
        batch.add_column(sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE index_backends SET seen_at = :now").bindparams(now=now))
    op.create_table(
        "index_deployments",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        sa.text(
            "INSERT INTO index_deployments (name, seen_at) SELECT DISTINCT deployment, :now FROM index_people"
        ).bindparams(now=now)
    )


def downgrade() -> None:
    op.drop_table("index_deployments")
    with op.batch_alter_table("index_backends") as batch:
        batch.drop_column("seen_at")
