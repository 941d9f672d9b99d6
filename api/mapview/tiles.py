"""The review map as vector tiles (MVT), read from the database tile by tile, for counties too big to hold.

The in-memory snapshots (`api.mapview.snapshots`) cost about 0.5 KB per feature per server process and two
seconds per 100 000 features to build after each start or change: fine for a county, 2.5 GB and minutes of
warm-up at 5 million cases. Above `Settings.map_tiles_above` cases the map asks for tiles instead, and each
tile reads only the rows under it through the spatial index:

- on PostGIS one `ST_AsMVT` query per tile: PostGIS clips, quantises and encodes;
- on SpatiaLite the rows in the tile's box are read, clipped and quantised here with shapely (vectorised) and
  encoded by `mapbox_vector_tile`;
- cases carry an `overdue` flag that depends on the clock and on progress reports (`api.cases.milestones`),
  which SQL cannot work out: it is computed here for the tile's assigned cases and handed to the query as a
  list of ids (so the `overdue` filter is a WHERE clause too);
- below `DETAIL_ZOOM` cases come as counts per quarter tile (64 px cells, `case_cells`), counted by the
  database, never as features.

Tiles follow the usual XYZ scheme in EPSG:3857 (y down from the north-west corner), 4096 units a side with a
64-unit buffer so that outlines meet across tile edges. Every tile is cached under the stamp of its layer
(`api.mapview.snapshots.layer_stamp` / `case_stamp`: the same index lookups that invalidate the snapshots),
so an import, a scan or any audited change to a case makes new tiles; a case tile also expires at the next
instant one of its cases becomes overdue.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from sqlalchemy import Boolean, Integer, and_, cast, column, func, literal_column, select, text
from sqlalchemy import table as sql_table
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.roles import township_of
from api.cases.deadlines import DeadlinePolicy
from api.cases.filters import CaseFilter
from api.cases.milestones import MILESTONE_COLUMNS, NEVER, overdue_instants
from api.cases.scope import scope
from api.clock import as_utc
from api.db import models
from api.db.engine import srid_of
from api.db.repository import frame_of, table_of
from api.mapview.snapshots import CASE_PROPERTIES, KINDS, LAYERS, case_kinds
from gis.codes import WEB_MERCATOR_SRID
from gis.crs import transformer

EXTENT = 4096  # tile units a side
BUFFER = 64  # tile units drawn beyond each edge
HALF_WORLD_M = 20037508.342789244  # EPSG:3857 x (and y) of the antimeridian
#: From which zoom the map draws each layer, tiles or not (below it a tile is empty: nothing to see at that
#: scale, and a county-wide tile of farmland polygons would be megabytes); cases below `DETAIL_ZOOM` are
#: counts. The page's scripts take these from the page config (`api.http.config`).
LAYER_MIN_ZOOM = {"admin": 0, "farmland": 13, "dltb": 16, "houses": 17, "grids": 13, "land": 12}
DETAIL_ZOOM = 14
#: Cells of the count tiles: a tile is cut into CELLS_PER_SIDE² cells (64 px at 256 px a tile).
CELLS_PER_SIDE = 4
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's box in EPSG:3857 metres (minx, miny, maxx, maxy)."""
    size = 2 * HALF_WORLD_M / 2**z
    minx = -HALF_WORLD_M + x * size
    maxy = HALF_WORLD_M - y * size
    return minx, maxy - size, minx + size, maxy


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse a tile address outside the world (x and y run from 0 to 2^z - 1)."""
    from api.errors import InvalidQuery

    if not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidQuery(f"no tile {z}/{x}/{y}: x and y run from 0 to 2^z - 1 (z ≤ 24)")


def county_box(srid: int, bounds: tuple[float, float, float, float], margin: float = 0.0) -> tuple[float, ...]:
    """The box in the county CRS (metres) holding the 3857 box `bounds` grown by `margin` of its side; the
    edges are densified, as a straight line in one projection is a curve in the other."""
    minx, miny, maxx, maxy = bounds
    grow = (maxx - minx) * margin
    return tuple(transformer(WEB_MERCATOR_SRID, srid).transform_bounds(
        minx - grow, miny - grow, maxx + grow, maxy + grow, densify_pts=21))


def _in_box(table: Any, session: Session, box: Sequence[float]) -> Any:
    """A WHERE clause: the row's geometry box meets `box` (county CRS), answered by the spatial index."""
    minx, miny, maxx, maxy = box
    if session.get_bind().dialect.name == "postgresql":
        return table.c.geom.op("&&")(func.ST_MakeEnvelope(minx, miny, maxx, maxy, srid_of(session)))
    rtree = sql_table(f"idx_{table.name}_geom", *(column(c) for c in ("pkid", "xmin", "xmax", "ymin", "ymax")))
    candidates = select(rtree.c.pkid).where(rtree.c.xmin <= maxx, rtree.c.xmax >= minx,  # GeoAlchemy2's R*Tree
                                            rtree.c.ymin <= maxy, rtree.c.ymax >= miny)
    return table.c.id.in_(candidates)


def _scope(table: Any, user: models.User) -> list[Any]:
    """A township user sees only their township's rows of a reference layer that has a township (houses);
    cases take `api.cases.scope.scope`, as every case query does."""
    township = township_of(user.role, user.township_code)
    return [table.c.township_code == township] if township is not None and "township_code" in table.c else []


def _quantised(geoms: np.ndarray, srid: int, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """County-CRS geometries in tile units (y down), clipped to the tile and its buffer; empty where nothing
    is left. Vectorised: one coordinate transform and one clip for the whole tile."""
    if not len(geoms):
        return geoms
    minx, _, maxx, maxy = bounds
    scale = EXTENT / (maxx - minx)
    to_web = transformer(srid, WEB_MERCATOR_SRID)

    def to_tile(xy: np.ndarray) -> np.ndarray:
        wx, wy = to_web.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([(np.asarray(wx) - minx) * scale, (maxy - np.asarray(wy)) * scale])

    tiled = shapely.transform(geoms, to_tile)
    clipped = shapely.clip_by_rect(tiled, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    return np.asarray(shapely.set_precision(clipped, 1.0), dtype=object)  # whole tile units, as MVT stores them


def _encode(name: str, geoms: np.ndarray, properties: list[dict[str, Any]], ids: Sequence[int]) -> bytes:
    """One MVT layer of features already in tile units (y down); empty geometries are left out."""
    keep = ~shapely.is_empty(geoms) if len(geoms) else np.zeros(0, dtype=bool)
    features = [{"geometry": g, "properties": p, "id": int(i)}
                for g, p, i, k in zip(geoms, properties, ids, keep, strict=True) if k]
    if not features:
        return b""
    return bytes(mapbox_vector_tile.encode([{"name": name, "features": features}],
                                           default_options={"y_coord_down": True, "extents": EXTENT}))


def layer_tile(session: Session, name: str, user: models.User, z: int, x: int, y: int) -> bytes:
    """A reference layer's tile (`LAYERS`: farmland, dltb, houses, admin), in the caller's scope."""
    if z < LAYER_MIN_ZOOM[name]:
        return b""
    model, columns = LAYERS[name]
    table = table_of(model)
    bounds = tile_bounds(z, x, y)
    where = [_in_box(table, session, county_box(srid_of(session), bounds, BUFFER / EXTENT)), *_scope(table, user)]
    return _tile(session, name, table, [table.c[c] for c in columns], where, (z, x, y))


def _tile(session: Session, name: str, table: Any, columns: list[Any], where: list[Any],
          address: tuple[int, int, int]) -> bytes:
    """One MVT layer `name` of the rows of `table` meeting `where`, each feature with `columns` as properties
    (nulls left out) and the row id as its feature id. PostGIS clips, quantises and encodes (`ST_AsMVT`);
    on SpatiaLite the rows are read and the same is done here (`_quantised`, `mapbox_vector_tile`)."""
    z, x, y = address
    if session.get_bind().dialect.name == "postgresql":
        shape = func.ST_AsMVTGeom(func.ST_Transform(table.c.geom, WEB_MERCATOR_SRID), func.ST_TileEnvelope(z, x, y),
                                  EXTENT, BUFFER, True)
        features = select(table.c.id.label("feature_id"), *columns, shape.label("geom")).where(and_(*where))
        tile = session.execute(select(func.ST_AsMVT(literal_column("t"), name, EXTENT, "geom", "feature_id"))
                               .select_from(features.subquery("t"))).scalar()
        return bytes(tile or b"")
    result = session.execute(select(table.c.id.label("feature_id"), func.ST_AsBinary(table.c.geom).label("wkb"),
                                    *columns).where(and_(*where)))
    keys = list(result.keys())[2:]
    rows = result.all()
    if not rows:
        return b""
    geoms = _quantised(shapely.from_wkb([bytes(r[1]) for r in rows]), srid_of(session), tile_bounds(z, x, y))
    properties = [{k: _mvt_value(v) for k, v in zip(keys, r[2:], strict=True) if v is not None} for r in rows]
    return _encode(name, geoms, properties, [r[0] for r in rows])


def _mvt_value(value: Any) -> Any:
    """A column value as MVT stores it: text, a number or a boolean (dates as ISO text)."""
    return value.isoformat() if isinstance(value, dt.date) else value


@dataclass(frozen=True)
class CaseTile:
    """A case tile and until when its `overdue` flags hold (ns since the epoch; the earliest instant one of
    its cases becomes overdue, or never)."""

    data: bytes
    valid_until_ns: int


def _overdue(session: Session, policy: DeadlinePolicy, clauses: list[Any], now: dt.datetime
             ) -> tuple[list[int], int]:
    """The ids of the cases meeting `clauses` that are overdue at `now`, and the next instant another one
    becomes overdue (or NEVER). Only assigned cases can be overdue, so only they are read."""
    table = table_of(models.Case)
    result = session.execute(select(table.c.id, *[table.c[c] for c in MILESTONE_COLUMNS])
                             .where(and_(*clauses), table.c.assigned_at.is_not(None)))
    frame = frame_of(result)
    if frame.empty:
        return [], NEVER
    since = overdue_instants(session, policy, frame, now)
    now_ns = int(as_utc(now).timestamp() * 1e9)
    later = since[since > now_ns]
    return frame["id"][since <= now_ns].astype(int).tolist(), int(later.min()) if len(later) else NEVER


def _with_overdue(session: Session, policy: DeadlinePolicy, where: CaseFilter, clauses: list[Any],
                  now: dt.datetime) -> tuple[list[Any], Any, int]:
    """The clauses with the `overdue` filter applied, the `overdue` flag as a column, and until when both
    hold. The flag depends on the clock and the progress reports (`api.cases.milestones`), so it is worked
    out here for the tile's assigned cases and handed to the query as a list of ids."""
    table = table_of(models.Case)
    ids, valid_until = _overdue(session, policy, clauses, now)
    flag = table.c.id.in_(ids)
    if where.overdue is True:
        clauses = [*clauses, flag]
    elif where.overdue is False:
        clauses = [*clauses, ~flag]
    return clauses, flag, valid_until


def case_tile(session: Session, policy: DeadlinePolicy, user: models.User, where: CaseFilter, z: int, x: int,
              y: int, now: dt.datetime) -> CaseTile:
    """The cases of a detail tile (z ≥ DETAIL_ZOOM) that pass the filters and the caller's scope, each with
    the properties the map styles and filters on and `overdue` as of `now`."""
    if z < DETAIL_ZOOM:
        return CaseTile(b"", NEVER)
    table = table_of(models.Case)
    clauses = [_in_box(table, session, county_box(srid_of(session), tile_bounds(z, x, y), BUFFER / EXTENT)),
               *scope(user), *where.clauses(session)]
    clauses, flag, valid_until = _with_overdue(session, policy, where, clauses, now)
    if session.get_bind().dialect.name != "postgresql":
        flag = cast(flag, Boolean)  # SQLite answers 0 or 1
    columns = [table.c[c] for c in CASE_PROPERTIES] + [flag.label("overdue")]
    return CaseTile(_tile(session, "cases", table, columns, clauses, (z, x, y)), valid_until)


def case_cells(session: Session, policy: DeadlinePolicy, user: models.User, where: CaseFilter, z: int, x: int,
               y: int, now: dt.datetime) -> tuple[list[dict[str, Any]], int]:
    """The cases of a tile as counts on a CELLS_PER_SIDE² grid, each cell at the mean of its cases' centroids
    (lon, lat) with its count by kind (`api.mapview.snapshots.case_kinds`: the colours they are drawn in),
    and until when the counts hold (the `overdue` filter moves with the clock). A case belongs to the tile
    its centroid falls in, so none is counted twice across tiles. The database does the counting: a tile at
    county zoom covers tens of thousands of cases."""
    table = table_of(models.Case)
    bounds = tile_bounds(z, x, y)
    clauses = [_in_box(table, session, county_box(srid_of(session), bounds, 0.01)), *scope(user),
               *where.clauses(session)]
    valid_until = NEVER
    if where.overdue is not None:
        clauses, _, valid_until = _with_overdue(session, policy, where, clauses, now)
    minx, miny, maxx, maxy = bounds
    side = (maxx - minx) / CELLS_PER_SIDE
    postgres = session.get_bind().dialect.name == "postgresql"
    kinds_of = (table.c.status, table.c.disposition, table.c.still_violating)
    if postgres:
        # Each case's Web Mercator centroid is a column PostgreSQL stores (`Case.map_x`, `map_y`, migration
        # 0011): nothing here touches a geometry but the index's boxes.
        located = select(*kinds_of, table.c.map_x.label("wx"), table.c.map_y.label("wy")).where(*clauses)
    else:
        # SQLite computes those columns on every mention, each with its own transform: one transform per case
        # here, in a materialised CTE (inlined, SQLite repeated it per use).
        centre = func.ST_Transform(func.ST_Centroid(table.c.geom), WEB_MERCATOR_SRID)
        points = select(*kinds_of, centre.label("p")).where(*clauses).cte("located").prefix_with("MATERIALIZED")
        located = select(points.c.status, points.c.disposition, points.c.still_violating,
                         func.ST_X(points.c.p).label("wx"), func.ST_Y(points.c.p).label("wy"))
    inner = located.subquery("c")
    wx, wy = inner.c.wx, inner.c.wy

    def index(value: Any) -> Any:  # non-negative here: PostgreSQL's CAST rounds, SQLite's truncates
        return func.floor(value) if postgres else cast(value, Integer)

    col, row = index((wx - minx) / side).label("col"), index((maxy - wy) / side).label("row")
    kind = (inner.c.status, inner.c.disposition, inner.c.still_violating)
    stmt = (select(col, row, *kind, func.count().label("n"), func.sum(wx).label("sx"), func.sum(wy).label("sy"))
            .where(wx >= minx, wx < maxx, wy > miny, wy <= maxy)
            .group_by(col, row, *kind))
    result = session.execute(stmt)
    groups = frame_of(result)
    if groups.empty:
        return [], valid_until
    # A few dozen groups: summed in plain Python (pandas' groupby costs a millisecond a call).
    sums: dict[int, list[float]] = {}
    kinds: dict[int, dict[str, int]] = {}
    for cell, kind, n, sx, sy in zip(groups["row"].astype(int) * CELLS_PER_SIDE + groups["col"].astype(int),
                                     case_kinds(groups), groups["n"], groups["sx"], groups["sy"], strict=True):
        total = sums.setdefault(int(cell), [0, 0.0, 0.0])
        total[0] += int(n)
        total[1] += float(sx)
        total[2] += float(sy)
        kinds.setdefault(int(cell), {}).setdefault(str(kind), 0)
        kinds[int(cell)][str(kind)] += int(n)
    cells = []
    for cell in sorted(sums):
        n, sx, sy = sums[cell]
        lon, lat = transformer(WEB_MERCATOR_SRID, 4326).transform(sx / n, sy / n)
        cells.append({"lat": round(lat, 6), "lon": round(lon, 6), "count": int(n),
                      "kinds": {k: kinds[cell][k] for k in KINDS if k in kinds[cell]}})
    return cells, valid_until


class TileCache:
    """Tiles by (kind, stamp, scope, filters, z, x, y), least recently used first out, at most `max_bytes`.

    The stamp is part of the key, so a changed layer is never served from the cache; its old tiles simply
    age out. Thread-safe: the server answers tile requests on a thread pool.
    """

    def __init__(self, max_bytes: int = 64 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[tuple[Any, ...], tuple[Any, int, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], now_ns: int) -> Any:
        with self._lock:
            hit = self._tiles.get(key)
            if hit is None or hit[2] <= now_ns:
                return None
            self._tiles.move_to_end(key)
            return hit[0]

    def get_or_build(self, session: Session, key: tuple[Any, ...], now_ns: int,
                     build: Callable[[], tuple[bytes, int]]) -> bytes:
        """The tile under `key`, or `build()` it (data, valid until in ns) and keep it.

        A tile is a small indexed query: on PostgreSQL it runs without JIT compilation (50 ms, more than the
        query itself) and without parallel workers (their start costs more than they save), for this
        transaction only."""
        data = self.get(key, now_ns)
        if data is None:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT set_config('jit', 'off', true),"
                                     " set_config('max_parallel_workers_per_gather', '0', true)"))
            data, valid_until = build()
            self.put(key, data, len(data) + 200, valid_until)
        return data  # type: ignore[no-any-return]

    def put(self, key: tuple[Any, ...], value: Any, size: int, valid_until_ns: int = NEVER) -> None:
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._tiles[key] = (value, size, valid_until_ns)
            self._bytes += size
            while self._bytes > self.max_bytes and self._tiles:
                _, (_, dropped, _) = self._tiles.popitem(last=False)
                self._bytes -= dropped


def warm_up(factory: sessionmaker[Session], connections: int = 5) -> None:
    """Ready what the first tile requests would otherwise each set up at once on a cold server: here the
    coordinate transformations (PROJ reads its database: ~0.3 s); in PostGIS, per server connection, its own
    PROJ set-up and plans (~0.1–0.2 s per connection, and a browser opens six at once). One tile of each kind
    at the null island, where there is no data, on `connections` pool connections held together so that each
    is a different one."""
    srid = srid_of(factory)
    transformer(srid, WEB_MERCATOR_SRID), transformer(WEB_MERCATOR_SRID, srid), transformer(WEB_MERCATOR_SRID, 4326)
    nobody = models.User(role="county_reviewer", username="warm-up")
    middle = 2 ** (DETAIL_ZOOM - 1)
    sessions = [factory() for _ in range(connections)]
    try:
        for session in sessions:
            # An empty tile never transforms anything: PostGIS sets PROJ up at a connection's first transform.
            point = func.ST_GeomFromText("POINT(500000 3000000)", srid)
            session.execute(select(func.ST_AsBinary(func.ST_Transform(point, WEB_MERCATOR_SRID))))
            layer_tile(session, "admin", nobody, DETAIL_ZOOM, middle, middle)
            case_tile(session, DeadlinePolicy(), nobody, CaseFilter(), DETAIL_ZOOM, middle, middle,
                      dt.datetime.now(dt.UTC))
            case_cells(session, DeadlinePolicy(), nobody, CaseFilter(), 10, 512, 512, dt.datetime.now(dt.UTC))
    finally:
        for session in sessions:
            session.close()


def count_cases(session: Session) -> int:
    """How many cases the database holds (cases are never deleted: the largest id, an index lookup)."""
    return int(session.execute(select(func.max(models.Case.id))).scalar() or 0)


__all__: Sequence[str] = ["DETAIL_ZOOM", "LAYER_MIN_ZOOM", "MEDIA_TYPE", "NEVER", "CaseTile", "TileCache", "case_cells",
                          "case_tile", "check_tile", "count_cases", "layer_tile",
                          "warm_up"]
