"""An index on land photos' SHA-256: each land photo's upload looks for the same file on another record.

A crop photo closes an abandoned-land record, so one file sent for two records is flagged (`SAME_LAND_FILE`);
the lookup is by the file's hash, as for case photos (`ix_photos_sha256`).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_land_photos_sha256", "land_photos", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_land_photos_sha256", table_name="land_photos")
