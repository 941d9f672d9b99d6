"""Imagery epochs: a footprint layer per imagery date, so one pass can be compared with the next
(`redline import epoch PATH --imaged-on DATE`, `redline compare`).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _srid() -> int:
    """The county CRS of the geometry column: given by whoever runs the migration (the settings in use)."""
    return int(op.get_context().config.attributes["srid"])  # type: ignore[union-attr]


def upgrade() -> None:
    op.create_table(
        "epochs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("imaged_on", sa.Date, nullable=False, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False))
    op.create_geospatial_table(  # type: ignore[attr-defined]
        "epoch_footprints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("epoch_id", sa.Integer, sa.ForeignKey("epochs.id"), nullable=False, index=True),
        sa.Column("source_key", sa.String(64), nullable=False),
        sa.Column("attrs", sa.Text),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=_srid(), spatial_index=True), nullable=False),
        sa.UniqueConstraint("epoch_id", "source_key", name="uq_epoch_footprints_key"))


def downgrade() -> None:
    op.drop_geospatial_table("epoch_footprints")  # type: ignore[attr-defined]
    op.drop_table("epochs")
