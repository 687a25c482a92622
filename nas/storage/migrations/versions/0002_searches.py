"""The queue of searches of ``nas serve`` (``nas_searches``).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nas_searches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_name", sa.String(512), nullable=False, index=True),
        sa.Column("options_json", sa.Text, nullable=False),
        sa.Column("budget", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("cancel_requested", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("heartbeat", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError("nas does not downgrade its tables")
