"""The review map as vector tiles (MVT), read from the database tile by tile, for counties too big to hold.

The in-memory snapshots (`api.mapview.snapshots`) cost about 0.5 KB per feature per server process and two
seconds per 100 000 features to build after each start or change: fine for a county, 2.5 GB and minutes of
warm-up at 5 million cases. Above `Settings.map_tiles_above` cases the map asks for tiles instead, and each
tile reads only the rows under it through the spatial index:

- reference layers on PostGIS: one `ST_AsMVT` query (PostGIS clips, quantises and encodes);
- cases (both databases) and every layer on SpatiaLite: the rows in the tile's box, clipped and quantised
  here with shapely (vectorised), encoded by `mapbox_vector_tile`. Cases carry their `overdue` flag, which
  depends on the clock and on progress reports (`api.cases.milestones`), so it cannot come out of SQL;
- below `DETAIL_ZOOM` cases come as counts per quarter tile (64 px cells, `case_cells`), never as features.

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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from sqlalchemy import Float, and_, cast, column, func, literal_column, select
from sqlalchemy import table as sql_table
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.cases.deadlines import DeadlinePolicy
from api.cases.filters import CaseFilter
from api.cases.milestones import MILESTONE_COLUMNS, NEVER, overdue_instants
from api.clock import as_utc
from api.db import models
from api.db.engine import srid_of
from api.db.repository import table_of
from api.mapview.snapshots import CASE_PROPERTIES, KINDS, LAYERS, case_kinds

EXTENT = 4096  # tile units a side
BUFFER = 64  # tile units drawn beyond each edge
WEB_MERCATOR = 3857
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


@lru_cache(maxsize=8)
def _to_web(srid: int) -> Transformer:
    return Transformer.from_crs(srid, WEB_MERCATOR, always_xy=True)


@lru_cache(maxsize=8)
def _from_web(srid: int) -> Transformer:
    return Transformer.from_crs(WEB_MERCATOR, srid, always_xy=True)


def county_box(srid: int, bounds: tuple[float, float, float, float], margin: float = 0.0) -> tuple[float, ...]:
    """The box in the county CRS (metres) holding the 3857 box `bounds` grown by `margin` of its side; the
    edges are densified, as a straight line in one projection is a curve in the other."""
    minx, miny, maxx, maxy = bounds
    grow = (maxx - minx) * margin
    return tuple(_from_web(srid).transform_bounds(minx - grow, miny - grow, maxx + grow, maxy + grow,
                                                  densify_pts=21))


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
    """A township user sees only their township's rows (of tables that have a township)."""
    township = township_of(user.role, user.township_code)
    return [table.c.township_code == township] if township is not None and "township_code" in table.c else []


def _quantised(geoms: np.ndarray, srid: int, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """County-CRS geometries in tile units (y down), clipped to the tile and its buffer; empty where nothing
    is left. Vectorised: one coordinate transform and one clip for the whole tile."""
    if not len(geoms):
        return geoms
    minx, _, maxx, maxy = bounds
    scale = EXTENT / (maxx - minx)
    to_web = _to_web(srid)

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


def _properties(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per row, its attributes as MVT values (text, numbers, booleans; dates as ISO text; nulls left out)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(k): (v.isoformat() if isinstance(v, dt.date) else v.item() if isinstance(v, np.generic) else v)
             for k, v in row.items() if v is not None} for row in rows]


def layer_tile(session: Session, name: str, user: models.User, z: int, x: int, y: int) -> bytes:
    """A reference layer's tile (`LAYERS`: farmland, dltb, houses, admin), in the caller's scope."""
    if z < LAYER_MIN_ZOOM[name]:
        return b""
    model, columns = LAYERS[name]
    table = table_of(model)
    srid = srid_of(session)
    bounds = tile_bounds(z, x, y)
    where = [_in_box(table, session, county_box(srid, bounds, BUFFER / EXTENT)), *_scope(table, user)]
    if session.get_bind().dialect.name == "postgresql":
        envelope = func.ST_TileEnvelope(z, x, y)
        rows = select(table.c.id, *[table.c[c] for c in columns],
                      func.ST_AsMVTGeom(func.ST_Transform(table.c.geom, WEB_MERCATOR), envelope, EXTENT, BUFFER,
                                        True).label("geom")).where(and_(*where)).subquery("t")
        tile = session.execute(select(func.ST_AsMVT(literal_column("t"), name, EXTENT, "geom", "id"))
                               .select_from(rows)).scalar()
        return bytes(tile or b"")
    frame = _rows(session, select(table.c.id, *[table.c[c] for c in columns],
                                  func.ST_AsBinary(table.c.geom).label("wkb")).where(and_(*where)))
    geoms = _quantised(shapely.from_wkb(frame.pop("wkb").to_numpy()), srid, bounds)
    return _encode(name, geoms, _properties(frame.drop(columns="id")), frame["id"].tolist())


def _rows(session: Session, stmt: Any) -> pd.DataFrame:
    result = session.execute(stmt)
    frame = pd.DataFrame(list(map(tuple, result.all())), columns=list(result.keys()))
    if "wkb" in frame:
        frame["wkb"] = frame["wkb"].map(bytes)
    return frame


@dataclass(frozen=True)
class CaseTile:
    """A case tile and until when its `overdue` flags hold (ns since the epoch; the earliest instant one of
    its cases becomes overdue, or never)."""

    data: bytes
    valid_until_ns: int


def case_tile(session: Session, policy: DeadlinePolicy, user: models.User, where: CaseFilter, z: int, x: int,
              y: int, now: dt.datetime) -> CaseTile:
    """The cases of a detail tile (z ≥ DETAIL_ZOOM) that pass the filters and the caller's scope, each with
    the properties the map styles and filters on and `overdue` as of `now`."""
    if z < DETAIL_ZOOM:
        return CaseTile(b"", NEVER)
    table = table_of(models.Case)
    srid = srid_of(session)
    bounds = tile_bounds(z, x, y)
    clauses = [_in_box(table, session, county_box(srid, bounds, BUFFER / EXTENT)), *_scope(table, user),
               *where.clauses(session)]
    columns = [c for c in CASE_PROPERTIES if c != "id"] + MILESTONE_COLUMNS
    frame = _rows(session, select(table.c.id, *[table.c[c] for c in columns],
                                  func.ST_AsBinary(table.c.geom).label("wkb")).where(and_(*clauses)))
    if frame.empty:
        return CaseTile(b"", NEVER)
    overdue_from = overdue_instants(session, policy, frame, now)
    now_ns = int(as_utc(now).timestamp() * 1e9)
    overdue = overdue_from <= now_ns
    keep = np.ones(len(frame), dtype=bool) if where.overdue is None else overdue == where.overdue
    later = overdue_from[overdue_from > now_ns]
    frame, overdue = frame[keep].reset_index(drop=True), overdue[keep]
    geoms = _quantised(shapely.from_wkb(frame["wkb"].to_numpy()), srid, bounds)
    props = _properties(pd.DataFrame(frame[CASE_PROPERTIES]))
    for p, flag in zip(props, overdue, strict=True):
        p["overdue"] = bool(flag)
    return CaseTile(_encode("cases", geoms, props, frame["id"].tolist()), int(later.min()) if len(later) else NEVER)


def case_cells(session: Session, policy: DeadlinePolicy, user: models.User, where: CaseFilter, z: int, x: int,
               y: int, now: dt.datetime) -> list[dict[str, Any]]:
    """The cases of a tile as counts on a CELLS_PER_SIDE² grid, each cell at the mean of its cases' centroids
    (lon, lat) with its count by kind (`api.mapview.snapshots.case_kinds`: the colours they are drawn in).
    A case belongs to the tile its centroid falls in, so no case is counted twice across tiles."""
    table = table_of(models.Case)
    srid = srid_of(session)
    bounds = tile_bounds(z, x, y)
    clauses = [_in_box(table, session, county_box(srid, bounds, 0.01)), *_scope(table, user),
               *where.clauses(session)]
    centre = func.ST_Centroid(table.c.geom)
    columns = [table.c.id, table.c.status, table.c.disposition, table.c.still_violating,
               cast(func.ST_X(centre), Float).label("cx"), cast(func.ST_Y(centre), Float).label("cy")]
    if where.overdue is not None:
        columns += [table.c[c] for c in MILESTONE_COLUMNS]
    frame = _rows(session, select(*columns).where(and_(*clauses)))
    if frame.empty:
        return []
    if where.overdue is not None:
        overdue = overdue_instants(session, policy, frame, now) <= int(as_utc(now).timestamp() * 1e9)
        frame = frame[overdue == where.overdue].reset_index(drop=True)
    wx, wy = (np.asarray(v) for v in _to_web(srid).transform(frame["cx"].to_numpy(), frame["cy"].to_numpy()))
    minx, miny, maxx, maxy = bounds
    inside = (wx >= minx) & (wx < maxx) & (wy > miny) & (wy <= maxy)
    if not inside.any():
        return []
    frame, wx, wy = frame[inside].reset_index(drop=True), wx[inside], wy[inside]
    side = (maxx - minx) / CELLS_PER_SIDE
    cell = (np.minimum((maxy - wy) // side, CELLS_PER_SIDE - 1) * CELLS_PER_SIDE
            + np.minimum((wx - minx) // side, CELLS_PER_SIDE - 1)).astype(np.int64)
    lon, lat = (np.asarray(v) for v in _web_to_lonlat().transform(wx, wy))
    kinds = case_kinds(frame)
    cells = []
    for c in np.unique(cell):
        mine = cell == c
        counts = {k: int(n) for k in KINDS if (n := np.count_nonzero(kinds[mine] == k))}
        cells.append({"lat": round(float(lat[mine].mean()), 6), "lon": round(float(lon[mine].mean()), 6),
                      "count": int(mine.sum()), "kinds": counts})
    return cells


@lru_cache(maxsize=1)
def _web_to_lonlat() -> Transformer:
    return Transformer.from_crs(WEB_MERCATOR, 4326, always_xy=True)


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


def count_cases(session: Session) -> int:
    """How many cases the database holds (cases are never deleted: the largest id, an index lookup)."""
    return int(session.execute(select(func.max(models.Case.id))).scalar() or 0)


__all__: Sequence[str] = ["DETAIL_ZOOM", "LAYER_MIN_ZOOM", "MEDIA_TYPE", "NEVER", "CaseTile", "TileCache", "case_cells",
                          "case_tile", "check_tile", "count_cases", "layer_tile"]
