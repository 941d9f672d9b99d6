"""The edge between shapely and the database: WKB in, WKB out, GeoDataFrames on the Python side."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import ColumnElement, Integer, Result, Select, Table, column, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from api.db.engine import srid_of
from api.db.models import Base
from api.db.pgcopy import COPY_OPTIONS, copy_csv


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (for bulk inserts and updates)."""
    return cast(Table, model.__table__)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts for executemany, with NaN/NaT/NA turned into None (SQL NULL)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in clean.to_dict("records")]


def insert_rows(session: Session, table: Table, frame: pd.DataFrame, *, chunk: int = 5000,
                progress: Callable[[int], None] | None = None) -> None:
    """Insert every row of `frame` (columns named as `table`'s) in the session's transaction (see `inserting`)."""
    with inserting(session, table, frame, chunk=chunk, progress=progress):
        pass


@contextmanager
def inserting(session: Session, table: Table, frame: pd.DataFrame, *, chunk: int = 5000,
              progress: Callable[[int], None] | None = None) -> Iterator[None]:
    """Insert every row of `frame` (columns named as `table`'s) in the session's transaction; the body of the
    `with` runs while the database is still taking them, and must not use the session.

    PostgreSQL: one COPY, its CSV written column by column by Arrow (`api.db.pgcopy`; geometry as
    `to_db_geometry` gives it: hex EWKB text) and sent by psycopg's queued writer thread. The server's side of
    a COPY (indexes, keys, generated columns: ~60 µs a case) is then the slow part, and the caller's own work
    in the body (a scan's audit texts) overlaps it instead of following it. The `executemany` path binds every
    value of every row through SQLAlchemy and GeoAlchemy2; for a million houses that was most of a minute.
    SQLite: `executemany` in chunks before the body (SQLite has no COPY; its cost is the R*Tree).
    `progress` is told the rows written (PostgreSQL: handed to the writer) so far after each chunk.
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        rows = records(frame)
        for start in range(0, len(rows), chunk):
            session.execute(table.insert(), rows[start:start + chunk])
            if progress:
                progress(min(start + chunk, len(rows)))
        yield
        return
    plain = frame.copy(deep=False)
    for col in table.columns:  # what an INSERT would have taken from the model's Python-side defaults
        if col.name not in plain.columns and col.default is not None and getattr(col.default, "is_scalar", False):
            plain[col.name] = getattr(col.default, "arg", None)
    columns = ", ".join(f'"{c}"' for c in plain.columns)
    raw = cast(Any, session.connection().connection.driver_connection)  # psycopg's own connection
    with _keys_and_indexes_built_after(session, table, plain), raw.cursor() as cursor, cursor.copy(
            f'COPY "{table.name}" ({columns}) FROM STDIN {COPY_OPTIONS}', writer=QueuedLibpqWriter(cursor)) as copy:
        for start in range(0, len(plain), chunk):
            copy.write(copy_csv(plain.iloc[start:start + chunk], table))
            if progress:
                progress(min(start + chunk, len(plain)))
        yield


#: From this many rows on, a load into an empty PostgreSQL table checks its keys and builds its indexes once
#: after the rows are in, instead of row by row as they arrive (see `_keys_and_indexes_built_after`).
BUILD_AFTER_ROWS = 50_000

#: The table's secondary indexes (all but the primary key's and those a constraint stands on: its own keys',
#: put back as keys, or one another table's foreign key points at), each with the statement that creates it
#: exactly as it is.
_INDEXES = text("""
    SELECT c.relname, pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = to_regclass(:table) AND NOT i.indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    ORDER BY c.relname""")

#: The table's unique keys and foreign keys, each with its definition exactly as it is and its columns; not a
#: unique key that another table's foreign key points at (that one cannot go, even for a moment).
_KEYS = text("""
    SELECT k.conname, pg_get_constraintdef(k.oid), k.contype,
           ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey))
    FROM pg_constraint k
    WHERE k.conrelid = to_regclass(:table) AND k.contype IN ('u', 'f')
      AND NOT (k.contype = 'u' AND EXISTS (SELECT 1 FROM pg_constraint f
                                           WHERE f.contype = 'f' AND f.conindid = k.conindid))
    ORDER BY k.contype DESC, k.conname""")


@contextmanager
def _keys_and_indexes_built_after(session: Session, table: Table, frame: pd.DataFrame) -> Iterator[None]:
    """PostgreSQL: when the rows of `frame` (at least `BUILD_AFTER_ROWS`) go into an empty table — a county's
    first import or first scan — set aside the table's unique keys, foreign keys and secondary indexes for the
    load and put the very same ones back after it, in the same transaction. This is PostgreSQL's own advice
    for populating a table (https://www.postgresql.org/docs/current/populate.html: "Remove Indexes", "Remove
    Foreign Key Constraints").

    Why: checked and kept row by row, they were most of what PostgreSQL spent taking a first scan's rows.
    Measured on the 326 729 cases and as many audit events of a million-house county: the cases' bare rows
    3.0 s, with their two unique keys and the key to their house 6.8 s, then their nine indexes on top; the
    events' 1.4 s, with the unique hash and the key to their case 6.1 s. Put back afterwards, each key is
    one sorted index build or one joined check over all rows (0.4–0.6 s each) and each index one build
    (0.1 s a btree, 0.6 s the GiST).

    Nothing is let through: every key is checked over every row the table then holds before the transaction
    can commit, and a duplicate or a dangling reference fails it whole (nothing of the load is kept), as it
    would have row by row — only later in the load. The primary key stays, and so does a unique key another
    table's foreign key points at. A foreign key whose column the load leaves empty (the cases' assignee)
    stays too: it checks nothing here, and taking it away would lock the table it points at (the users, so
    every login) until the load commits. The definitions come from the catalogue (`pg_get_indexdef`,
    `pg_get_constraintdef`), so the schema after the load is the schema before it. Taking keys and indexes
    away locks the table until the transaction ends, which for an empty table keeps readers waiting for rows
    they could not have seen yet. Whether the table was empty only decides what is cheaper, not what is right.
    """
    empty = len(frame) >= BUILD_AFTER_ROWS and session.execute(
        select(text("1")).select_from(table).limit(1)).first() is None
    keys = [(name, definition) for name, definition, kind, columns in
            (session.execute(_KEYS, {"table": table.name}).all() if empty else [])
            if kind == "u" or all(c in frame.columns and frame[c].notna().any() for c in columns)]
    for name, _ in reversed(keys):
        session.execute(text(f'ALTER TABLE "{table.name}" DROP CONSTRAINT "{name}"'))
    indexes = session.execute(_INDEXES, {"table": table.name}).all() if empty else []
    for name, _ in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    yield
    for _, definition in indexes:
        session.execute(text(definition))
    for name, definition in keys:  # unique keys first: a foreign key may need one of them
        session.execute(text(f'ALTER TABLE "{table.name}" ADD CONSTRAINT "{name}" {definition}'))


def to_db_geometry(geoms: np.ndarray, db: Session | sessionmaker[Session]) -> list[str]:
    """Shapely (Multi)Polygons in the county CRS (`srid_of(db)`) → values for a geometry column, promoted to
    MULTIPOLYGON (see `_geometry_values`)."""
    return _geometry_values(_as_multipolygons(geoms), db)


def to_db_lines(geoms: np.ndarray, db: Session | sessionmaker[Session]) -> list[str]:
    """Shapely LineStrings in the county CRS (patrol tracks) → values for a geometry column."""
    return _geometry_values(np.asarray(geoms, dtype=object), db)


def _geometry_values(geoms: np.ndarray, db: Session | sessionmaker[Session]) -> list[str]:
    """Geometry column values as each database takes them fastest, encoded by one vectorised call.

    PostGIS: hex EWKB text (`ST_GeomFromEWKT`, which GeoAlchemy2 binds to, reads it, and so does COPY: no
    element object per row). SpatiaLite: EWKT text. GeoAlchemy2's
    SpatiaLite binding turns a WKB element into EWKT itself, but row by row through a shapely object (about
    40 µs a house: 40 s of a million-house import); `to_wkt(rounding_precision=-1)` writes the same shortest
    round-trip text for all rows at once, so nothing is lost.
    """
    srid = srid_of(db)
    bind = db.get_bind() if isinstance(db, Session) else db.kw["bind"]
    if bind.dialect.name == "sqlite":
        return list(np.char.add(f"SRID={srid};", shapely.to_wkt(geoms, rounding_precision=-1).astype(str)).tolist())
    return list(shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True).tolist())


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


def frame_of(result: Result[Any], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of a query's result as a DataFrame, columns named by the query (or by `columns`).

    Plain tuples: handed SQLAlchemy rows, pandas probes each for attributes (an exception per probe)."""
    return pd.DataFrame(list(map(tuple, result.all())), columns=list(columns or result.keys()))


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
    frame = frame_of(session.execute(stmt), [c.name for c in cols] + ["wkb"])
    geoms = shapely.from_wkb(frame.pop("wkb").map(bytes).to_numpy() if len(frame) else np.array([]))
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs or f"EPSG:{srid_of(session)}")


def read_attributes(session: Session, model: type[Base], columns: Sequence[str]) -> pd.DataFrame:
    """Load attribute columns of a table as a DataFrame."""
    table = table_of(model)
    return frame_of(session.execute(select(*[table.c[c] for c in columns])), columns)


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


def centre_lat_lon(session: Session, geom: Any, where: Sequence[ColumnElement[bool]]) -> tuple[float, float] | None:
    """The centroid (lat, lon on WGS 84) of the geometries in column `geom` of the rows meeting `where`, for a
    map to open on; None when there are none."""
    from gis.codes import WEB_CRS
    from gis.crs import transformer

    wkb = session.execute(select(func.ST_AsBinary(func.ST_Centroid(func.ST_Collect(geom)))).where(*where)).scalar()
    if wkb is None:
        return None
    point = shapely.from_wkb(bytes(wkb))
    lon, lat = transformer(f"EPSG:{srid_of(session)}", WEB_CRS).transform(point.x, point.y)
    return lat, lon
