"""Land photos' difference hash (`land_photos.phash`): the near-duplicate check, as for case photos.

A crop photo closes an abandoned-land record. Only the very same file on another record was flagged: the same
picture saved again, or given another GPS position, passed as the crop of a second parcel.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("land_photos", sa.Column("phash", sa.String(16)))


def downgrade() -> None:
    op.drop_column("land_photos", "phash")
