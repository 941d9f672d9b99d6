"""Further satellite leads a case answers (`case_leads`): one building flagged by several monitoring batches.

A case carried one lead code. A later batch flagging the same building again (the construction went on between the
images) opened a second case for it: both were worked and the month's figures counted the building twice.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_leads",
        sa.Column("lead_code", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("batch", sa.String(40)),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False))
    op.create_index("ix_case_leads_case_id", "case_leads", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_leads_case_id", table_name="case_leads")
    op.drop_table("case_leads")
