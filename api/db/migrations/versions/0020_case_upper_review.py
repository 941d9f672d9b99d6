"""The review above the county (`cases.upper_review`): the highest of the city and the province that passed a case
since the county closed it (销号). A case the county closed before this revision awaits the city's word, as one
closed after it does.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("upper_review", sa.String(10)))


def downgrade() -> None:
    op.drop_column("cases", "upper_review")
