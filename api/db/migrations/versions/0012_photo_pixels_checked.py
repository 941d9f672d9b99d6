"""When each photo's pixels were decoded: uploads are answered before the decode.

Decoding a 4 MB JPEG is most of an upload's cost (~70 ms of libjpeg), so the upload answers once the file is
stored whole (its hash, its JPEG markers to the end-of-image) and decodes it right after: thumbnail,
difference hash, near-duplicate check. `pixels_checked_at` is NULL until that is done; a server that stops in
between finishes it at its next start. Every photo stored before this revision was decoded during its upload,
so it takes its upload time.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("photos", sa.Column("pixels_checked_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE photos SET pixels_checked_at = uploaded_at")


def downgrade() -> None:
    op.drop_column("photos", "pixels_checked_at")
