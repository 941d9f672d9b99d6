"""Farmland area per township after every import, so past monthly reports keep the figures they stated.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "farmland_totals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("import_run_id", sa.Integer, sa.ForeignKey("import_runs.id"), nullable=False),
        sa.Column("township_code", sa.String(12), nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_farmland_totals_import_run_id", "farmland_totals", ["import_run_id"])
    op.create_index("ix_farmland_totals_as_of", "farmland_totals", ["as_of"])


def downgrade() -> None:
    op.drop_index("ix_farmland_totals_as_of", table_name="farmland_totals")
    op.drop_index("ix_farmland_totals_import_run_id", table_name="farmland_totals")
    op.drop_table("farmland_totals")
