"""田长制 and abandoned farmland (抛荒): the farmland grid (网格), field chiefs by level and area, patrols (巡田)
with their GPS tracks and the grid cells they covered, findings on the way, abandoned-land records with their
own workflow and their own hash-chained audit trail (`land_events`, head row 2 of `audit_head`), photos of
land (not of a case), and each case's grid.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _srid() -> int:
    """The county CRS of the geometry columns: given by whoever runs the migration (the settings in use)."""
    return int(op.get_context().config.attributes["srid"])  # type: ignore[union-attr]


def upgrade() -> None:
    srid = _srid()
    op.create_geospatial_table(  # type: ignore[attr-defined]
        "grids",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_key", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column("attrs", sa.Text),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("village_code", sa.String(12), index=True),
        sa.Column("township_code", sa.String(12), index=True),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=srid, spatial_index=True), nullable=False))
    op.create_table(
        "chiefs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("area_code", sa.String(20), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(60), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)))
    op.create_index("ix_chiefs_area", "chiefs", ["level", "area_code"])
    op.create_geospatial_table(  # type: ignore[attr-defined]
        "patrols",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points", sa.Text, nullable=False),
        sa.Column("length_m", sa.Float, nullable=False),
        sa.Column("township_code", sa.String(12), index=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", Geometry("LINESTRING", srid=srid, spatial_index=True), nullable=False))
    op.create_table(
        "patrol_grids",
        sa.Column("patrol_id", sa.Integer, sa.ForeignKey("patrols.id"), primary_key=True),
        sa.Column("grid_id", sa.Integer, sa.ForeignKey("grids.id"), primary_key=True),
        sa.Column("inside_m", sa.Float, nullable=False))
    op.create_geospatial_table(  # type: ignore[attr-defined]
        "abandoned_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False, unique=True),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("source_key", sa.String(64), unique=True),
        sa.Column("parcel_id", sa.Integer, sa.ForeignKey("land_parcels.id")),
        sa.Column("dlbm", sa.String(10)),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("contractor_key", sa.String(64)),
        sa.Column("cause", sa.String(20), nullable=False),
        sa.Column("seen_on", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("remedy", sa.String(20)),
        sa.Column("remedy_detail", sa.Text),
        sa.Column("remedy_deadline", sa.Date),
        sa.Column("remedy_decided_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("township_code", sa.String(12), index=True),
        sa.Column("village_code", sa.String(12), index=True),
        sa.Column("grid_code", sa.String(20), index=True),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=srid, spatial_index=True), nullable=False))
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("patrol_id", sa.Integer, sa.ForeignKey("patrols.id"), index=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("township_code", sa.String(12), index=True),
        sa.Column("village_code", sa.String(12)),
        sa.Column("grid_code", sa.String(20)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("abandoned_id", sa.Integer, sa.ForeignKey("abandoned_records.id")),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        "land_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("abandoned_id", sa.Integer, sa.ForeignKey("abandoned_records.id"), index=True),
        sa.Column("finding_id", sa.Integer, sa.ForeignKey("findings.id"), index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("media_type", sa.String(20), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True)),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("bearing_deg", sa.Float),
        sa.Column("checks", sa.Text),
        sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        "land_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("abandoned_records.id"), nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True))
    op.add_column("cases", sa.Column("grid_code", sa.String(20), nullable=True))
    op.create_index("ix_cases_grid_code", "cases", ["grid_code"])
    op.execute(f"INSERT INTO audit_head (id, last_event_id, last_hash) VALUES (2, 0, '{GENESIS}')")


def downgrade() -> None:
    op.execute("DELETE FROM audit_head WHERE id = 2")
    op.drop_index("ix_cases_grid_code", table_name="cases")
    op.execute("ALTER TABLE cases DROP COLUMN grid_code")
    for table in ("land_events", "land_photos", "findings"):
        op.drop_table(table)
    op.drop_geospatial_table("abandoned_records")  # type: ignore[attr-defined]
    op.drop_table("patrol_grids")
    op.drop_geospatial_table("patrols")  # type: ignore[attr-defined]
    op.drop_table("chiefs")
    op.drop_geospatial_table("grids")  # type: ignore[attr-defined]
