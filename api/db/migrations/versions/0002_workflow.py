"""Case workflow: assignment, verdicts, deadlines, optimistic locking; audit chain, comments, progress
reports, API tokens and evidence photos.

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

CASE_COLUMNS: list[sa.Column] = [
    sa.Column("origin", sa.String(10), nullable=False, server_default="scan"),
    sa.Column("lead_code", sa.String(40)),
    sa.Column("batch", sa.String(40)),
    sa.Column("assignee_id", sa.Integer),
    sa.Column("assigned_at", sa.DateTime(timezone=True)),
    sa.Column("studied_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("last_report_at", sa.DateTime(timezone=True)),
    sa.Column("verdict", sa.String(10)),
    sa.Column("legal_reason", sa.String(20)),
    sa.Column("decision", sa.String(12)),
    sa.Column("field_rules", sa.String(10), nullable=False, server_default=""),
    sa.Column("remaining_m2", sa.Float, nullable=False, server_default="0"),
    sa.Column("resume_status", sa.String(20)),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
]


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    for column in CASE_COLUMNS:
        op.add_column("cases", column)
    op.execute("UPDATE cases SET remaining_m2 = farmland_m2 + COALESCE(unapproved_after_cutoff_m2, 0) "
               "WHERE remaining_m2 = 0")
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        _at("at"), sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("before", sa.Text, nullable=False), sa.Column("after", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO audit_head (id, last_event_id, last_hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table(
        "case_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        _at("at"), sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "progress_reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        _at("at"), sa.Column("text", sa.Text, nullable=False), sa.Column("remaining_m2", sa.Float),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _at("created_at"), _at("expires_at"),
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False), sa.Column("media_type", sa.String(20), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True)), sa.Column("lat", sa.Float), sa.Column("lon", sa.Float),
        sa.Column("bearing_deg", sa.Float),
        sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False), _at("uploaded_at"),
    )


def downgrade() -> None:
    for name in ("photos", "api_tokens", "progress_reports", "case_comments", "audit_head", "case_events"):
        op.drop_table(name)
    # Plain DROP COLUMN (SQLite >= 3.35 and PostgreSQL): a batch copy of `cases` would trip SpatiaLite's
    # geometry triggers.
    for column in reversed(CASE_COLUMNS):
        op.execute(f"ALTER TABLE cases DROP COLUMN {column.name}")
