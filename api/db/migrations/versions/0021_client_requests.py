"""Submissions on a case keyed by the client's own UUID (`client_requests`): a resend of a step, a progress
report or a comment is answered as the first send was, never applied twice.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_requests",
        sa.Column("client_uuid", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Integer),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_client_requests_case_id", "client_requests", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_client_requests_case_id", "client_requests")
    op.drop_table("client_requests")
