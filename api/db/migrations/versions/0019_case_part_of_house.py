"""The house a case is a new part of (`cases.part_of_house_id`): a wing an imagery pass found.

A building an imagery pass found (a new footprint) has its case before the survey has the building; the survey's
house then takes that case (as a satellite lead's and a patrol's case already did) instead of a second case for one
building. A grown house's new part is no building of its own and must never be taken so: this column says which
cases are such parts. Cases opened for a pass's growth before this revision are found by their code,
`RL-<township>-<house key>-E<YYYYMMDD>`, and given the house of that key.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

GROWN_CODE = re.compile(r"^RL-[0-9]{12}-(?P<house>.+)-E[0-9]{8}$")


def upgrade() -> None:
    op.add_column("cases", sa.Column("part_of_house_id", sa.Integer))
    bind = op.get_bind()
    grown = [(case_id, match["house"]) for case_id, code in bind.execute(sa.text(
        "SELECT id, code FROM cases WHERE origin = 'imagery' AND house_id IS NULL")).all()
        if (match := GROWN_CODE.match(code))]
    for case_id, house_key in grown:  # a pass's wings: a handful per pass
        bind.execute(sa.text("UPDATE cases SET part_of_house_id = (SELECT id FROM houses WHERE source_key = :key) "
                             "WHERE id = :id"), {"key": house_key, "id": case_id})


def downgrade() -> None:
    op.drop_column("cases", "part_of_house_id")
