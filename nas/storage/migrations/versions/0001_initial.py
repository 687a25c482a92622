"""nas's tables as of 0.1.0 (before migrations): created where missing.

A database made before nas kept a migration version has some or all of these tables already
(``create_all`` made them); this revision adds the missing ones and leaves the others alone.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamp() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


# One schema, one reviewable function: a migration is read as a whole, so it is not split.
def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())

    def table(name: str, *columns: sa.Column | sa.Constraint) -> None:
        if name not in have:
            op.create_table(name, *columns)

    table(
        "nas_latency",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("arch_hash", sa.String(32), nullable=False, index=True),
        sa.Column("fingerprint_id", sa.String(32), nullable=False),
        sa.Column("input_shape", sa.String(64), nullable=False),
        sa.Column("median_ms", sa.Float, nullable=False),
        sa.Column("stats_json", sa.Text, nullable=False),
        sa.Column("fingerprint_json", sa.Text, nullable=False),
        _stamp(),
        sa.UniqueConstraint("arch_hash", "fingerprint_id", "input_shape"),
    )
    table(
        "nas_checkpoints",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("meta_json", sa.Text, nullable=False),
        _stamp(),
    )
    table(
        "nas_budget_slots",
        sa.Column("study_name", sa.String(512), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, nullable=False),
    )
    table(
        "nas_arch_claims",
        sa.Column("study_name", sa.String(512), primary_key=True),
        sa.Column("arch_hash", sa.String(64), primary_key=True),
        sa.Column("trial_id", sa.Integer, nullable=False),
    )
    table(
        "nas_locks",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("heartbeat", sa.Float, nullable=False),
    )
    table(
        "nas_latency_lut",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("space_digest", sa.String(32), nullable=False, index=True),
        sa.Column("fingerprint_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("median_ms", sa.Float, nullable=False),
        sa.Column("stats_json", sa.Text, nullable=False),
        sa.Column("fingerprint_json", sa.Text, nullable=False),
        _stamp(),
        sa.UniqueConstraint("space_digest", "fingerprint_id", "key"),
    )
    table(
        "nas_latency_fit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("space_digest", sa.String(32), nullable=False, index=True),
        sa.Column("fingerprint_id", sa.String(32), nullable=False),
        sa.Column("num_classes", sa.Integer, nullable=False),
        sa.Column("a", sa.Float, nullable=False),
        sa.Column("b", sa.Float, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("meta_json", sa.Text, nullable=False),
        _stamp(),
        sa.UniqueConstraint("space_digest", "fingerprint_id", "num_classes"),
    )


def downgrade() -> None:
    raise NotImplementedError("nas does not downgrade its tables")
