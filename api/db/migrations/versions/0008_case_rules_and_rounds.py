"""Cases keep the unapproved part of their cultivated land apart from all of it, and flag after-the-fact
approvals of stock houses (补办): `cultivated_m2` is a fact of the ground, `unapproved_cultivated_m2` what
paperwork leaves of it. `returned_at`: a case the county returns starts a new round of the 137 finish clock.
`file_number`/`filed_at`: 立案 is a formal act. `requested_period`/`period_request`: a change of period waits
for the county. `parent_case_id`: the case a grown stock house's new case continues (no foreign key: SQLite
cannot add one to an existing table; the application sets it).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("unapproved_cultivated_m2", sa.Float, nullable=True))
    op.add_column("cases", sa.Column("retro_approval", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("cases", sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cases", sa.Column("file_number", sa.String(50), nullable=True))
    op.add_column("cases", sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cases", sa.Column("requested_period", sa.String(24), nullable=True))
    op.add_column("cases", sa.Column("period_request", sa.Text, nullable=True))
    op.add_column("cases", sa.Column("parent_case_id", sa.Integer, nullable=True))
    op.create_index("ix_cases_parent_case_id", "cases", ["parent_case_id"])
    # Until the next scan re-measures them, stored cases keep what they had: their cultivated area was
    # the unapproved part already (that was the defect this revision undoes).
    op.execute("UPDATE cases SET unapproved_cultivated_m2 = cultivated_m2")


def downgrade() -> None:
    op.drop_index("ix_cases_parent_case_id", table_name="cases")
    for column in ("parent_case_id", "period_request", "requested_period", "filed_at", "file_number"):
        op.execute(f"ALTER TABLE cases DROP COLUMN {column}")
    op.execute("ALTER TABLE cases DROP COLUMN returned_at")
    op.execute("ALTER TABLE cases DROP COLUMN retro_approval")
    op.execute("ALTER TABLE cases DROP COLUMN unapproved_cultivated_m2")
