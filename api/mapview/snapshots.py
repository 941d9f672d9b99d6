"""What the review map draws, held in memory per application, so a pan or zoom costs an index lookup.

A bounding-box query against SpatiaLite or PostGIS, a reprojection and a JSON encoding per request cost
hundreds of milliseconds for a few thousand features, and the map asks on every pan and zoom. Instead each
layer is read once into a snapshot: geometries in EPSG:4326 under an STRtree, one ready GeoJSON text per
feature, and (for cases) the columns the map filters on. A snapshot is rebuilt when its stamp changes —
index lookups on every request, whatever the size of the table: every import adds an import run; a new case
raises the largest case id (cases are never deleted); a scan moves `scanned_at` on every case it touches;
every other change to a case appends to the audit chain (the audit trail's own rule). Whether a case is
overdue is kept as the instant it becomes overdue (`api.cases.deadlines.overdue_from`), so the snapshot stays
right as time passes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.roles import township_of
from api.cases.audit import CASE_CHAIN
from api.cases.deadlines import DeadlinePolicy
from api.cases.filters import CaseFilter
from api.cases.milestones import MILESTONE_COLUMNS, overdue_instants
from api.clock import as_utc
from api.db import models
from api.db.repository import read_frame, table_of
from gis.codes import WEB_CRS

#: Reference layers of the map: the model and the attribute columns each feature carries.
LAYERS: dict[str, tuple[type[models.Base], list[str]]] = {
    "farmland": (models.Farmland, ["bsm", "dlbm", "area_m2"]),
    "dltb": (models.LandParcel, ["bsm", "dlbm", "dlmc", "zldwmc", "area_m2"]),
    "houses": (models.House, ["built_on", "use", "township_code", "village_code", "area_m2"]),
    "admin": (models.AdminArea, ["code", "name", "level"]),
}
#: What a case feature on the map carries: enough to style, filter and scope it. The popup and the side
#: panel load the rest (`/api/cases/{id}`) when opened.
CASE_PROPERTIES = ["id", "code", "township_code", "village_code", "status", "period", "disposition", "rules",
                   "field_rules", "still_violating"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """One layer in memory: features in EPSG:4326 under an index, and their GeoJSON texts."""

    stamp: tuple[Any, ...]
    tree: shapely.STRtree
    texts: np.ndarray  # per feature: GeoJSON Feature text (cases: open at the end, see `CaseSnapshot`)
    township: np.ndarray | None  # per feature, for layers township users see only their part of

    def in_box(self, box: tuple[float, float, float, float] | None) -> np.ndarray:
        """Indices (ascending) of the features whose box meets `box` (lon/lat); all without a box."""
        if box is None:
            return np.arange(len(self.texts))
        return np.sort(self.tree.query(shapely.box(*box)))

    def visible(self, idx: np.ndarray, user: models.User) -> np.ndarray:
        """Per feature of `idx`: may the user see it? A township user sees only their township's."""
        township = township_of(user.role, user.township_code)
        if self.township is None or township is None:
            return np.ones(len(idx), dtype=bool)
        return np.asarray(self.township[idx] == township, dtype=bool)


@dataclass(frozen=True)
class CaseSnapshot(Snapshot):
    """Cases: besides the features, the columns filters need, county-CRS centroids and overdue instants.

    A case's text stops right after `"overdue":` — the flag is the one part that depends on the clock.
    """

    attrs: pd.DataFrame
    x: np.ndarray  # centroids in the county CRS (metres: the grid of the counts)
    y: np.ndarray
    lon: np.ndarray  # and in EPSG:4326 (where a count is drawn: no reprojection per request)
    lat: np.ndarray
    overdue_from_ns: np.ndarray  # int64 ns since the epoch (UTC); `NEVER` when it cannot become overdue

    def overdue(self, now: dt.datetime) -> np.ndarray:
        return self.overdue_from_ns <= int(as_utc(now).timestamp() * 1e9)


class MapData:
    """The snapshots of one database, rebuilt lazily when their stamp moves (thread-safe)."""

    def __init__(self, policy: DeadlinePolicy) -> None:
        self.policy = policy
        self._snapshots: dict[str, Snapshot] = {}
        self._locks = {name: threading.Lock() for name in [*LAYERS, "cases"]}

    def layer(self, session: Session, name: str) -> Snapshot:
        model, columns = LAYERS[name]
        stamp = layer_stamp(session, name)
        return self._current(name, stamp, lambda: _layer_snapshot(session, model, columns, stamp))

    def cases(self, session: Session) -> CaseSnapshot:
        stamp = case_stamp(session)
        snap = self._current("cases", stamp, lambda: _case_snapshot(session, self.policy, stamp))
        assert isinstance(snap, CaseSnapshot)
        return snap

    def warm_up(self, factory: sessionmaker[Session]) -> None:
        """Build the snapshots the map opens with (cases; admin areas and farmland), two at a time;
        failures are only logged (a cold snapshot is simply built by the first request instead)."""
        def build(names: tuple[str, ...]) -> None:
            try:
                with factory() as session:
                    for name in names:
                        if name == "cases":
                            self.cases(session)
                        else:
                            self.layer(session, name)
            except Exception:
                log.warning("map snapshots %s not prepared at start-up", names, exc_info=True)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(build, [("cases",), ("admin", "farmland")]))

    def _current(self, name: str, stamp: tuple[Any, ...], build: Callable[[], Snapshot]) -> Snapshot:
        snap = self._snapshots.get(name)
        if snap is not None and snap.stamp == stamp:
            return snap
        with self._locks[name]:  # one rebuild at a time; others wait for it rather than repeat it
            snap = self._snapshots.get(name)
            if snap is None or snap.stamp != stamp:
                snap = build()
                self._snapshots[name] = snap
            return snap


def layer_stamp(session: Session, name: str) -> tuple[Any, ...]:
    """What moves when a reference layer changes (its largest id, the newest import run): index lookups, in
    one round trip (asked on every map request)."""
    table = table_of(LAYERS[name][0])
    row = session.execute(select(select(func.max(table.c.id)).scalar_subquery(),
                                 select(func.max(models.ImportRun.id)).scalar_subquery())).one()
    return tuple(row)


def case_stamp(session: Session) -> tuple[Any, ...]:
    """What moves when any case changes: the largest case id, the newest scan and the case chain's head
    (not the land chain's: any audited change to a case moves it). Index lookups, in one round trip."""
    c = models.Case
    newest_event = select(models.AuditHead.last_event_id).where(models.AuditHead.id == CASE_CHAIN.head_id)
    row = session.execute(select(select(func.max(c.id)).scalar_subquery(),
                                 select(func.max(c.scanned_at)).scalar_subquery(),
                                 newest_event.scalar_subquery())).one()
    return tuple(row)


def _web(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Geometries in EPSG:4326, to 7 decimals (about 1 cm: a third less JSON than full doubles)."""
    if not len(frame):
        return np.zeros(0, dtype=object)
    return shapely.transform(frame.to_crs(WEB_CRS).geometry.to_numpy(), lambda c: np.round(c, 7))


def _property_texts(frame: pd.DataFrame) -> list[str]:
    """One JSON object text per row (dates as ISO text, missing as null), encoded by pandas in C."""
    if frame.empty:
        return []
    clean = frame.copy()
    for name in clean.columns:
        if clean[name].dtype == object:
            clean[name] = clean[name].map(lambda v: v.isoformat() if isinstance(v, dt.date) else v)
    return clean.to_json(orient="records", lines=True, force_ascii=False).splitlines()


def _feature_heads(geoms: np.ndarray, props: list[str]) -> np.ndarray:
    texts = np.asarray(shapely.to_geojson(geoms), dtype=object) if len(geoms) else np.zeros(0, dtype=object)
    return '{"type":"Feature","geometry":' + texts + ',"properties":' + np.asarray(props, dtype=object)


def _layer_snapshot(session: Session, model: type[models.Base], columns: list[str],
                    stamp: tuple[Any, ...]) -> Snapshot:
    frame = read_frame(session, model, columns, order_by="id")
    geoms = _web(frame)
    props = _property_texts(pd.DataFrame(frame.drop(columns="geometry")))
    texts = _feature_heads(geoms, props) + "}" if len(geoms) else np.zeros(0, dtype=object)
    township = frame["township_code"].to_numpy(dtype=object) if "township_code" in frame else None
    return Snapshot(stamp, shapely.STRtree(geoms), texts, township)


def _case_snapshot(session: Session, policy: DeadlinePolicy, stamp: tuple[Any, ...]) -> CaseSnapshot:
    frame = read_frame(session, models.Case, [c for c in CASE_PROPERTIES if c != "id"]
                       + MILESTONE_COLUMNS, order_by="id")
    geoms = _web(frame)
    props = _property_texts(pd.DataFrame(frame[CASE_PROPERTIES]))
    heads = (_feature_heads(geoms, [p[:-1] + ',"overdue":' for p in props]) if len(geoms)
             else np.zeros(0, dtype=object))
    centroids = shapely.centroid(frame.geometry.to_numpy())
    web_centroids = shapely.centroid(geoms)
    return CaseSnapshot(stamp, shapely.STRtree(geoms), heads, frame["township_code"].to_numpy(dtype=object),
                        attrs=pd.DataFrame(frame[CASE_PROPERTIES]).reset_index(drop=True),
                        x=shapely.get_x(centroids), y=shapely.get_y(centroids),
                        lon=shapely.get_x(web_centroids), lat=shapely.get_y(web_centroids),
                        overdue_from_ns=overdue_instants(session, policy, frame, dt.datetime.now(dt.UTC)))


def select_cases(snap: CaseSnapshot, box: tuple[float, float, float, float] | None, where: CaseFilter,
                 user: models.User, now: dt.datetime) -> np.ndarray:
    """Indices of the cases in `box` that pass the filters and the caller's scope."""
    idx = snap.in_box(box)
    keep = snap.visible(idx, user) & where.mask(snap.attrs.iloc[idx])
    if where.overdue is not None:
        keep &= snap.overdue(now)[idx] == where.overdue
    return idx[keep]


def case_features_text(snap: CaseSnapshot, idx: np.ndarray, now: dt.datetime, **extra: Any) -> str:
    """A FeatureCollection of the chosen cases, with `overdue` as of `now`."""
    flags = np.where(snap.overdue(now)[idx], "true}}", "false}}")
    features = ",".join((snap.texts[idx] + flags).tolist())
    return _collection(features, extra)


def layer_features_text(snap: Snapshot, idx: np.ndarray, **extra: Any) -> str:
    return _collection(",".join(snap.texts[idx].tolist()), extra)


def _collection(features: str, extra: dict[str, Any]) -> str:
    members = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in extra.items())
    return '{"type":"FeatureCollection","features":[' + features + "]" + members + "}"


def grid_cells(snap: CaseSnapshot, idx: np.ndarray, zoom: float) -> list[dict[str, Any]]:
    """Case counts on a grid of about 64 screen pixels at `zoom`, each at the mean of its cases' centroids."""
    if not len(idx):
        return []
    cell = 40_075_016.0 / (2 ** min(int(zoom), 22)) / 256 * 64 * 0.9  # metres per 64 px at ~25°N
    x, y = snap.x[idx], snap.y[idx]
    gx, gy = np.floor(x / cell).astype(np.int64), np.floor(y / cell).astype(np.int64)
    _, group, counts = np.unique((gx - gx.min()) * (int(gy.max() - gy.min()) + 1) + (gy - gy.min()),
                                 return_inverse=True, return_counts=True)
    lon = np.bincount(group, weights=snap.lon[idx]) / counts
    lat = np.bincount(group, weights=snap.lat[idx]) / counts
    # What each cell holds, by the colour its cases are drawn in (`api.mapview.style`): so a count of closed
    # cases does not look like a count of houses to demolish.
    kind = case_kinds(snap.attrs.iloc[idx])
    by_kind = {k: np.bincount(group[kind == k], minlength=len(counts)) for k in KINDS}
    return [{"lat": round(float(lat[i]), 6), "lon": round(float(lon[i]), 6), "count": int(counts[i]),
             "kinds": {k: int(by_kind[k][i]) for k in KINDS if by_kind[k][i]}}
            for i in range(len(counts))]


#: The kinds of case a cell counts, in the order a cluster shows them.
KINDS = ("demolish", "verify", "classify", "none", "closed")


def case_kinds(attrs: pd.DataFrame) -> np.ndarray:
    """Per case: its colour key (`api.mapview.style.case_colour`'s rule) — closed, none (no longer
    violating), else its disposition."""
    disposition = attrs["disposition"].fillna("none").astype(str).to_numpy()
    violating = attrs["still_violating"].fillna(True).astype(bool).to_numpy()
    closed = (attrs["status"] == "closed").to_numpy()
    return np.where(closed, "closed", np.where(violating, disposition, "none"))


__all__: Sequence[str] = [
    "LAYERS",
    "MapData",
    "case_features_text",
    "case_stamp",
    "grid_cells",
    "layer_features_text",
    "layer_stamp",
    "select_cases",
]
