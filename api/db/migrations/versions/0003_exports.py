"""Occupied area on cases (for reports), and background export jobs.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("occupied_m2", sa.Float, nullable=False, server_default="0"))
    op.execute("UPDATE cases SET occupied_m2 = remaining_m2")
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("township_code", sa.String(12)),
        sa.Column("status", sa.String(10), nullable=False),  # queued | running | done | failed
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("out_dir", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("export_jobs")
    op.execute("ALTER TABLE cases DROP COLUMN occupied_m2")
