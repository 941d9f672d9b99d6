"""An index on cases.scanned_at: the review map checks max(scanned_at) on every request.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_scanned_at", "cases", ["scanned_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_scanned_at", table_name="cases")
