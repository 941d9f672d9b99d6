"""The edge between shapely and the database: WKB in, WKB out, GeoDataFrames on the Python side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import WKBElement
from sqlalchemy import ColumnElement, Integer, Select, Table, column, func, select, text
from sqlalchemy.orm import Session

from api.db.engine import srid_of
from api.db.models import Base


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (for bulk inserts and updates)."""
    return cast(Table, model.__table__)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts for executemany, with NaN/NaT/NA turned into None (SQL NULL)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in clean.to_dict("records")]


def to_db_geometry(geoms: np.ndarray, srid: int) -> list[WKBElement]:
    """Shapely (Multi)Polygons in EPSG:`srid` (the county CRS: `srid_of` the session) → EWKB elements,
    promoted to MULTIPOLYGON."""
    promoted = _as_multipolygons(geoms)
    hexes = shapely.to_wkb(shapely.set_srid(promoted, srid), hex=True, include_srid=True)
    return [WKBElement(h, srid=srid, extended=True) for h in hexes]


def to_db_lines(geoms: np.ndarray, srid: int) -> list[WKBElement]:
    """Shapely LineStrings in EPSG:`srid` (patrol tracks) → EWKB elements."""
    hexes = shapely.to_wkb(shapely.set_srid(np.asarray(geoms, dtype=object), srid), hex=True, include_srid=True)
    return [WKBElement(h, srid=srid, extended=True) for h in hexes]


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Promote Polygons to single-part MultiPolygons (the column type), vectorised."""
    geoms = np.asarray(geoms, dtype=object)
    is_poly = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
    out = geoms.copy()
    if is_poly.any():
        out[is_poly] = shapely.multipolygons(geoms[is_poly], indices=np.arange(is_poly.sum()))
    return out


#: Values per `IN (...)` list: PostgreSQL refuses a statement with more than 65 535 bound parameters, and a
#: county's scan easily passes that many case ids.
IN_LIST_SIZE = 10_000


def in_chunks(values: Sequence[Any], size: int = IN_LIST_SIZE) -> list[list[Any]]:
    """`values` cut into lists short enough for one `IN (...)` each."""
    items = list(values)
    return [items[i:i + size] for i in range(0, len(items), size)]


def read_frame(session: Session, model: type[Base], columns: Sequence[str] = (),
               where: Sequence[ColumnElement[bool]] = (), crs: Any = None, order_by: str | Sequence[Any] | None = None,
               limit: int | None = None, offset: int = 0) -> gpd.GeoDataFrame:
    """Load rows of a spatial table as a GeoDataFrame in the county CRS (geometry from WKB).

    Always includes `id` (and `source_key` for imported tables) besides `columns`.
    """
    table = table_of(model)
    keys = [c for c in ("id", "source_key") if c in table.c and c not in columns]
    cols = [table.c[c] for c in (*keys, *columns)]
    stmt: Select[Any] = select(*cols, func.ST_AsBinary(table.c.geom).label("wkb"))
    for clause in where:
        stmt = stmt.where(clause)
    if isinstance(order_by, str):
        stmt = stmt.order_by(table.c[order_by])
    elif order_by:
        stmt = stmt.order_by(*order_by)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    # Plain tuples: handed SQLAlchemy rows, pandas probes each for attributes (an exception per probe).
    rows = list(map(tuple, session.execute(stmt).all()))
    frame = pd.DataFrame(rows, columns=[c.name for c in cols] + ["wkb"])
    geoms = shapely.from_wkb(frame.pop("wkb").map(bytes).to_numpy() if len(frame) else np.array([]))
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs or f"EPSG:{srid_of(session)}")


def read_attributes(session: Session, model: type[Base], columns: Sequence[str]) -> pd.DataFrame:
    """Load attribute columns of a table as a DataFrame."""
    table = table_of(model)
    rows = list(map(tuple, session.execute(select(*[table.c[c] for c in columns])).all()))
    return pd.DataFrame(rows, columns=list(columns))


def bbox_clause(session: Session, model: type[Base], bbox: tuple[float, float, float, float]) -> ColumnElement[bool]:
    """A WHERE clause selecting rows whose geometry's box meets `bbox` (county CRS), using the spatial index.

    PostGIS uses its GiST index through `&&`; SpatiaLite needs its R*Tree queried explicitly through the
    `SpatialIndex` virtual table.
    """
    table = table_of(model)
    minx, miny, maxx, maxy = bbox
    if session.get_bind().dialect.name == "sqlite":
        rowids = text(
            "SELECT ROWID FROM SpatialIndex WHERE f_table_name = :tname AND f_geometry_column = 'geom' "
            "AND search_frame = BuildMbr(:minx, :miny, :maxx, :maxy, :srid)"
        ).bindparams(tname=table.name, minx=minx, miny=miny, maxx=maxx, maxy=maxy, srid=srid_of(session))
        return table.c.id.in_(rowids.columns(column("rowid", Integer)))
    return table.c.geom.op("&&")(func.ST_MakeEnvelope(minx, miny, maxx, maxy, srid_of(session)))
