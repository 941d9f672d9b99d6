"""A finding's handlings and reopenings, hash-chained (`finding_events`, head row 3 of `audit_head`).

A township's "handled" took a finding off every list and count, and nothing could send it back: the county that
found the site unchanged could only report it again on patrol. The county now reopens a handled finding; each
handling and reopening is an event of its own chain, so the word that took a finding off the lists is never
overwritten. Findings handled before this revision get their handling as the chain's first events, at the time
they were handled.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "finding_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True))
    op.create_index("ix_finding_events_finding_id", "finding_events", ["finding_id"])
    op.execute(f"INSERT INTO audit_head (id, last_event_id, last_hash) VALUES (3, 0, '{GENESIS}')")
    from api.db.models import UtcDateTime  # the stored times as aware datetimes on either database

    findings = sa.table("findings", sa.column("id", sa.Integer), sa.column("handled_at", UtcDateTime()),
                        sa.column("handled_by", sa.String), sa.column("handled_note", sa.Text))
    handled = op.get_bind().execute(
        sa.select(findings.c.id, findings.c.handled_at, findings.c.handled_by, findings.c.handled_note)
        .where(findings.c.handled_at.is_not(None)).order_by(findings.c.handled_at, findings.c.id)).all()
    if handled:  # the chain's own writer, so the backfilled links hash exactly as later ones do
        from api.cases.audit import FINDING_CHAIN, append_events
        from api.stewardship.workflow import HANDLED

        session = Session(bind=op.get_bind())
        for finding_id, at, by, note in handled:
            append_events(session, [{"finding_id": finding_id, "actor": by, "action": HANDLED, "before": {},
                                     "after": {"handled_by": by}, "note": note}], at=at, chain=FINDING_CHAIN)
        session.flush()


def downgrade() -> None:
    op.execute("DELETE FROM audit_head WHERE id = 3")
    op.drop_index("ix_finding_events_finding_id", table_name="finding_events")
    op.drop_table("finding_events")
