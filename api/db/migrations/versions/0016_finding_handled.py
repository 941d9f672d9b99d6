"""Who handled a patrol finding left to a person, when, and what was done (`findings.handled_*`).

A finding noted for the township, a building no footprint shows yet, or one at a closed case's house was listed for
30 days and then dropped off the list whether or not anyone had acted on it. It now stays listed until handled.
An index on `findings.case_id`: every workflow decision on a case looks up its unhandled findings.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("findings", sa.Column("handled_at", sa.DateTime(timezone=True)))
    op.add_column("findings", sa.Column("handled_by", sa.String(60)))
    op.add_column("findings", sa.Column("handled_note", sa.Text))
    # A case's unhandled findings are looked up at every workflow decision on it (`CaseState.unchecked_growth`).
    op.create_index("ix_findings_case_id", "findings", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_findings_case_id", table_name="findings")
    for column in ("handled_note", "handled_by", "handled_at"):
        op.drop_column("findings", column)
