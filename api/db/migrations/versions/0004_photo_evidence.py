"""Photo evidence: what the photo and the phone said, the perceptual hash, and the check results.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = [
    sa.Column("altitude_m", sa.Float), sa.Column("bearing_ref", sa.String(2)),
    sa.Column("bearing_source", sa.String(20)), sa.Column("time_source", sa.String(24)),
    sa.Column("browser_lat", sa.Float), sa.Column("browser_lon", sa.Float), sa.Column("browser_heading", sa.Float),
    sa.Column("phash", sa.String(16)), sa.Column("checks", sa.Text),
]


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("photos", column)


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE photos DROP COLUMN {column.name}")
