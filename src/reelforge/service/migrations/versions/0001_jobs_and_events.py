"""Jobs and their event log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(16), nullable=False),
        sa.Column("runner", sa.Text, nullable=True),
        sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("body", postgresql.JSONB, nullable=False),
    )
    op.create_index("jobs_owner", "jobs", ["owner", "created_at"])
    op.create_index("jobs_status", "jobs", ["status"])
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("data", postgresql.JSONB, nullable=False),
    )
    op.create_index("events_job", "events", ["job_id", "seq"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("jobs")
