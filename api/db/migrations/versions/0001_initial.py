"""Initial schema: administrative areas, farmland, land survey, houses, registers, users, cases.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry, alembic_helpers  # noqa: F401  (registers the geospatial ops)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _srid() -> int:
    """The county CRS the geometry columns are made in: given by whoever runs the migration
    (`api.db.migrate.upgrade(engine, srid=...)`, from the settings in use), never read at import."""
    return int(op.get_context().config.attributes["srid"])  # type: ignore[union-attr]


def _key() -> list[sa.Column]:
    return [sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("source_key", sa.String(64), nullable=False, unique=True, index=True),
            sa.Column("attrs", sa.Text)]


def _area_geom() -> list[sa.Column]:
    return [sa.Column("area_m2", sa.Float, nullable=False),
            sa.Column("geom", Geometry("MULTIPOLYGON", srid=_srid(), spatial_index=True), nullable=False)]


def _spatial(name: str, *columns: sa.Column | sa.Index) -> None:
    op.create_geospatial_table(name, *_key(), *columns, *_area_geom())  # type: ignore[attr-defined]


def upgrade() -> None:
    _spatial("admin_areas",
             sa.Column("code", sa.String(12), nullable=False, unique=True),
             sa.Column("name", sa.String(100), nullable=False),
             sa.Column("level", sa.String(10), nullable=False),
             sa.Column("township_code", sa.String(12), nullable=False, index=True))
    _spatial("farmland",
             sa.Column("bsm", sa.String(40)), sa.Column("dlbm", sa.String(10)),
             sa.Column("zldwdm", sa.String(19)), sa.Column("tbmj", sa.Float), sa.Column("jbntmj", sa.Float))
    _spatial("land_parcels",
             sa.Column("bsm", sa.String(40)), sa.Column("tbbh", sa.String(20)),
             sa.Column("dlbm", sa.String(10), nullable=False, index=True), sa.Column("dlmc", sa.String(60)),
             sa.Column("qsdwdm", sa.String(19)), sa.Column("qsdwmc", sa.String(100)),
             sa.Column("zldwdm", sa.String(19), index=True), sa.Column("zldwmc", sa.String(100)),
             sa.Column("tbmj", sa.Float), sa.Column("kcdlbm", sa.String(10)), sa.Column("kcxs", sa.Float),
             sa.Column("kcmj", sa.Float), sa.Column("tbdlmj", sa.Float), sa.Column("gdlx", sa.String(4)),
             sa.Column("gdpdjb", sa.String(4)))
    op.create_table(
        "households", *_key(),
        sa.Column("head_name", sa.String(60)), sa.Column("village_code", sa.String(12), index=True),
        sa.Column("members", sa.Integer), sa.Column("homesteads_elsewhere", sa.Integer, nullable=False),
    )
    _spatial("houses",
             sa.Column("household_key", sa.String(64), index=True), sa.Column("built_on", sa.Date),
             sa.Column("builder_type", sa.String(20)), sa.Column("use", sa.String(40)),
             sa.Column("floors", sa.Integer), sa.Column("township_code", sa.String(12), index=True),
             sa.Column("village_code", sa.String(12), index=True))
    _spatial("baseline_footprints", sa.Column("imaged_on", sa.Date))
    _spatial("approvals",
             sa.Column("kind", sa.String(20), nullable=False), sa.Column("body", sa.String(100)),
             sa.Column("approved_on", sa.Date), sa.Column("approved_area_m2", sa.Float),
             sa.Column("household_key", sa.String(64), index=True))
    _spatial("contracted_plots",
             sa.Column("contractor_key", sa.String(64), index=True), sa.Column("contract_area_m2", sa.Float))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(60), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100)),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("township_code", sa.String(12)),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False), sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False), sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("inserted", sa.Integer, nullable=False), sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("repaired", sa.Integer, nullable=False), sa.Column("dropped", sa.Integer, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_geospatial_table(  # type: ignore[attr-defined]
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False, unique=True),
        sa.Column("house_id", sa.Integer, sa.ForeignKey("houses.id"), unique=True),
        sa.Column("township_code", sa.String(12), index=True),
        sa.Column("village_code", sa.String(12), index=True),
        sa.Column("footprint_m2", sa.Float, nullable=False),
        sa.Column("farmland_m2", sa.Float, nullable=False),
        sa.Column("cultivated_m2", sa.Float, nullable=False),
        sa.Column("after_cutoff_m2", sa.Float),
        sa.Column("farmland_after_cutoff_m2", sa.Float),
        sa.Column("unapproved_after_cutoff_m2", sa.Float),
        sa.Column("period", sa.String(24), nullable=False, index=True),
        sa.Column("disposition", sa.String(12), nullable=False, index=True),
        sa.Column("rules", sa.String(20), nullable=False),
        sa.Column("date_conflict", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("still_violating", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=_srid(), spatial_index=True), nullable=False),
    )


def downgrade() -> None:
    for name in ("cases", "import_runs", "users", "contracted_plots", "approvals", "baseline_footprints",
                 "houses", "households", "land_parcels", "farmland", "admin_areas"):
        if name in ("users", "import_runs", "households"):
            op.drop_table(name)
        else:
            op.drop_geospatial_table(name)  # type: ignore[attr-defined]
