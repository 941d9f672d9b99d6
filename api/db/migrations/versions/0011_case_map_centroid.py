"""Each case's centroid in Web Mercator (EPSG:3857), kept by the database as two generated columns.

The review map's count tiles (`api.mapview.tiles.case_cells`) group a tile's cases, tens of thousands at
county zoom, by where their centroids fall; transforming each case's geometry per request cost ~6 µs a row
on PostGIS. PostgreSQL stores the columns (filled for every existing case by this ALTER). SQLite can add only
VIRTUAL generated columns, computed on every mention; they keep the two schemas alike, and the count tiles on
SQLite transform each centroid once themselves, as before.

The expressions are frozen here as written at this revision (the model's are `CASE_MAP_X`/`CASE_MAP_Y`).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

MAP_X = "ST_X(ST_Transform(ST_Centroid(geom), 3857))"
MAP_Y = "ST_Y(ST_Transform(ST_Centroid(geom), 3857))"


def upgrade() -> None:
    stored = op.get_bind().dialect.name == "postgresql"
    for name, expression in (("map_x", MAP_X), ("map_y", MAP_Y)):
        op.add_column("cases", sa.Column(name, sa.Float, sa.Computed(expression, persisted=stored)))


def downgrade() -> None:
    for name in ("map_y", "map_x"):
        op.drop_column("cases", name)
