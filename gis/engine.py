"""The check engine: how much of each house lies on farmland, when it was built, and what follows.

Input and output are GeoDataFrames; nothing here reads files or talks to a database, so the same
function runs in `redline check`, in `redline scan` and per partition on a Dask cluster.

Column conventions of the inputs (after import mapping):
- houses: `house_id`, geometry; optional `built_on` (date the construction started), `household_id`,
  `use` (missing means a rural residence / homestead).
- farmland (永久基本农田): geometry.
- cultivated (三调 DLTB): `dlbm`, geometry.
- baseline (footprints on imagery at the cutoff): geometry.
- approvals: `approved_on`, geometry; optional `approval_id`, `kind`.
- households: `household_id`, optional `homesteads_elsewhere` (homesteads held outside these houses).
- plots (contracted cultivated land): `plot_id`, geometry.
All areas are in m² of one projected CRS (CGCS2000 Gauss-Kruger by default).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS

from gis.crs import require_projected, same_crs, to_projected, zone_for_frame
from gis.errors import MissingCRSError, RedlineInputError
from gis.geometry import clean_polygons, polygonal_part
from gis.kernels import Rings, convex_clip_polygons
from gis.overlay import (
    Layer,
    area_on,
    area_or_zero,
    clip_union,
    intersect_or_none,
    subtract_or_keep,
    union_groups,
    union_or_either,
)
from gis.rules import Disposition, Period, Prohibition, RuleSet

#: Values of the house `use` field that mean a homestead (宅基地上的住宅).
HOMESTEAD_USES = frozenset({"", "residential", "homestead", "house", "住宅", "宅基地", "农村住宅", "农房"})

#: Column a caller may precompute: homesteads each house's household holds besides it.
OTHER_HOMESTEADS = "other_homesteads"
#: A part after the cutoff smaller than this (m²) is floating-point noise of footprint − baseline.
NEW_PART_EPSILON_M2 = 1e-6

# Periods, dispositions and code sets travel through the hot path as small integers (index into these
# tuples; a bit mask for the codes): a million Python strings per column cost more than the geometry.
# They become text once, when the result frame is built (`_labels`).
PERIOD_NAMES = tuple(p.value for p in Period)
DISPOSITION_NAMES = tuple(d.value for d in Disposition)
_BEFORE, _AFTER, _EXTENDED, _UNKNOWN = (PERIOD_NAMES.index(p) for p in (
    Period.BEFORE_CUTOFF, Period.AFTER_CUTOFF, Period.EXTENDED_AFTER_CUTOFF, Period.UNKNOWN))
_DEMOLISH, _CLASSIFY, _VERIFY, _NONE = (DISPOSITION_NAMES.index(d) for d in (
    Disposition.DEMOLISH, Disposition.CLASSIFY, Disposition.VERIFY, Disposition.NONE))

RESULT_COLUMNS = [
    "house_id", "footprint_m2", "farmland_m2", "cultivated_m2", "approved_m2",
    "after_cutoff_m2", "farmland_after_cutoff_m2", "cultivated_after_cutoff_m2",
    "unapproved_after_cutoff_m2", "occupied_m2", "period", "date_conflict", "violation", "disposition", "rules",
    "plot_areas",
]


@dataclass
class CheckInputs:
    """The layers of one check; only houses and farmland are required."""

    houses: gpd.GeoDataFrame
    farmland: gpd.GeoDataFrame
    cultivated: gpd.GeoDataFrame | None = None
    baseline: gpd.GeoDataFrame | None = None
    approvals: gpd.GeoDataFrame | None = None
    households: pd.DataFrame | None = None
    plots: gpd.GeoDataFrame | None = None


@dataclass
class CheckResult:
    """Per-house results, house × plot areas, and every geometry repair or drop made on the way."""

    houses: gpd.GeoDataFrame
    plot_areas: pd.DataFrame
    repairs: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> pd.DataFrame:
        """Counts and areas per disposition (m² and 亩)."""
        h = self.houses
        g = h.groupby("disposition", observed=True).agg(
            houses=("house_id", "size"),
            footprint_m2=("footprint_m2", "sum"),
            farmland_m2=("farmland_m2", "sum"),
            cultivated_m2=("cultivated_m2", "sum"),
            unapproved_after_cutoff_m2=("unapproved_after_cutoff_m2", "sum"),
        )
        return g.reindex([d.value for d in Disposition], fill_value=0)


def with_row_numbers(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer with its 1-based input row numbers in `_row` (what error and repair reports name),
    numbered here unless the caller numbered it already (e.g. before splitting it into partitions)."""
    if "_row" in gdf.columns:
        return gdf
    gdf = gdf.copy()
    gdf.insert(0, "_row", np.arange(1, len(gdf) + 1))
    return gdf


def projected_layer(gdf: gpd.GeoDataFrame, name: str, crs: CRS) -> gpd.GeoDataFrame:
    """The layer, numbered (`with_row_numbers`), in the working CRS."""
    return to_projected(with_row_numbers(gdf), crs, source=name)


def _prepare(gdf: gpd.GeoDataFrame | None, name: str, crs: CRS, repairs: list[pd.DataFrame],
             workers: int | None = None) -> gpd.GeoDataFrame | None:
    """Reproject a layer to the working CRS and clean its polygons, recording every repair."""
    if gdf is None:
        return None
    clean, report = clean_polygons(projected_layer(gdf, name, crs), source=name, workers=workers)
    if len(report):
        repairs.append(report)
    return clean


def _prepare_houses(gdf: gpd.GeoDataFrame, crs: CRS, repairs: list[pd.DataFrame],
                    workers: int | None) -> tuple[gpd.GeoDataFrame, np.ndarray, Rings]:
    """The houses cleaned like any layer, with which are convex and their rings (for the clip kernel).

    Convex houses are simple polygons, so GEOS need not validate them: reading their coordinates once
    serves both the cleaning and the kernel. Where cleaning changed anything, the rings are read again.
    """
    projected = projected_layer(gdf, "houses", crs)
    convex, clip = convex_clip_polygons(projected.geometry.to_numpy())
    houses, report = clean_polygons(projected, source="houses", workers=workers, known_valid=convex)
    if len(report):
        repairs.append(report)
        convex, clip = convex_clip_polygons(houses.geometry.to_numpy())
    return houses, convex, clip


def working_crs(houses: gpd.GeoDataFrame, crs: CRS | str | int | None) -> CRS:
    """The projected CRS all areas are measured in: the given one, the houses' own, or their GK zone."""
    if crs is not None:
        return CRS.from_user_input(crs)
    if houses.crs is None:
        raise MissingCRSError("houses have no CRS; give one (--src-crs) or a projected --crs", source="houses")
    own = CRS.from_user_input(houses.crs)
    return own if own.is_projected else zone_for_frame(houses)


def _dates(values: pd.Series | None, n: int, what: str) -> np.ndarray:
    """Parse a date column to datetime64[D]; NaT where missing. A value that is not a date is an error."""
    if values is None:
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    parsed = pd.to_datetime(values, errors="coerce")
    bad = parsed.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise RedlineInputError(f"not a date: {values.iloc[row - 1]!r}", source=what, row=row,
                                field=values.name if isinstance(values.name, str) else None)
    return parsed.to_numpy().astype("datetime64[D]")


def check(inputs: CheckInputs, rules: RuleSet | None = None, *, crs: CRS | str | int | None = None,
          workers: int | None = None, progress: Callable[[int], None] | None = None) -> CheckResult:
    """Check every house against farmland and cultivated land; see the module docstring for columns.

    Returns one row per (clean) house with the columns in `RESULT_COLUMNS` plus the geometry.
    `workers` threads share the work (shapely releases the GIL); default: the number of cores.
    `progress` is called with the number of houses finished after each slice.
    """
    rules = rules or RuleSet()
    work_crs = working_crs(inputs.houses, crs)
    if not work_crs.is_projected:
        raise RedlineInputError(f"{work_crs.name} is not projected; areas need metres", field="crs")
    repairs: list[pd.DataFrame] = []
    houses, convex, clip = _prepare_houses(inputs.houses, work_crs, repairs, workers)
    if "house_id" not in houses.columns:
        raise RedlineInputError("no house_id column", source="houses", field="house_id")
    dup = houses["house_id"].duplicated(keep="first")
    if dup.any():
        first = houses.loc[dup].iloc[0]
        raise RedlineInputError(f"house_id {first['house_id']!r} is not unique", source="houses",
                                row=int(first["_row"]), field="house_id")
    layers = {
        name: _prepare(getattr(inputs, name), name, work_crs, repairs, workers)
        for name in ("farmland", "cultivated", "baseline", "approvals", "plots")
    }
    farmland = layers["farmland"]
    assert farmland is not None
    require_projected(houses, "houses")

    cultivated = layers["cultivated"]
    if cultivated is not None:
        if "dlbm" not in cultivated.columns:
            raise RedlineInputError("no DLBM (land-class code) column", source="cultivated", field="dlbm")
        codes = cultivated["dlbm"].astype(str).str.strip()
        cultivated = cultivated.loc[codes.isin(rules.cultivated_codes).to_numpy()]

    approvals = layers["approvals"]
    ctx = _Context(
        rules=rules,
        farmland=Layer(farmland.geometry.to_numpy()),
        cultivated=Layer(cultivated.geometry.to_numpy()) if cultivated is not None else None,
        baseline=Layer(layers["baseline"].geometry.to_numpy()) if layers["baseline"] is not None else None,
        approvals=Layer(approvals.geometry.to_numpy()) if approvals is not None else None,
        approval_dates=(_dates(approvals.get("approved_on"), len(approvals), "approvals")
                        if approvals is not None else None),
        plots=Layer(layers["plots"].geometry.to_numpy()) if layers["plots"] is not None else None,
    )
    built_on = _dates(houses.get("built_on"), len(houses), "houses")
    others = other_homesteads(houses, inputs.households)
    uses = houses["use"].fillna("").astype(str).str.strip().str.lower() if "use" in houses else None
    homestead = uses.isin(HOMESTEAD_USES).to_numpy() if uses is not None else np.ones(len(houses), bool)

    geoms = houses.geometry.to_numpy()
    chunks = _chunks(len(geoms), workers)
    n_threads = max(1, min(len(chunks), workers or os.cpu_count() or 1))
    # GEOS caches inside prepared geometries are not thread-safe: each thread gets its own copy of the
    # layers (the first keeps the originals). Threads take the next slice as they come free, so the one
    # that starts late (copying its layers) simply takes fewer.
    parts: list[dict[str, np.ndarray]] = [{} for _ in chunks]
    queue = iter(range(len(chunks)))
    lock = threading.Lock()

    def run(worker: int) -> None:
        own = ctx if worker == 0 else ctx.copy()
        while True:
            with lock:
                i = next(queue, None)
            if i is None:
                return
            sl = chunks[i]
            parts[i] = _measure(own, geoms[sl], convex[sl], clip.take(sl), built_on[sl], homestead[sl], others[sl])
            if progress is not None:
                progress(sl.stop - sl.start)

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        list(pool.map(run, range(n_threads)))
    measured: dict[str, object] = {k: np.concatenate([p[k] for p in parts]) for k in RESULT_COLUMNS if k in parts[0]}
    index = pd.RangeIndex(len(houses))
    for column, names in (("period", PERIOD_NAMES), ("disposition", DISPOSITION_NAMES), ("rules", CODE_SETS)):
        measured[column] = _labels(measured[column], names, index)  # type: ignore[arg-type]

    out = gpd.GeoDataFrame(
        {"house_id": houses["house_id"].array, **measured},
        geometry=houses.geometry.array, crs=work_crs, index=index,
    )
    plot_areas = _plot_areas(ctx, geoms, houses["house_id"].to_numpy(),
                             layers["plots"]["plot_id"].to_numpy() if layers["plots"] is not None
                             and "plot_id" in layers["plots"] else None)
    out["plot_areas"] = _plot_area_text(out["house_id"], plot_areas)
    out = out[[*RESULT_COLUMNS, "geometry"]]
    report = pd.concat(repairs, ignore_index=True) if repairs else pd.DataFrame(
        columns=["source", "row", "field", "action", "reason"])
    return CheckResult(houses=out, plot_areas=plot_areas, repairs=report)


@dataclass
class _Context:
    rules: RuleSet
    farmland: Layer
    cultivated: Layer | None
    baseline: Layer | None
    approvals: Layer | None
    approval_dates: np.ndarray | None
    plots: Layer | None

    def copy(self) -> _Context:
        """The same context with private copies of every layer's geometries (for another thread)."""
        def own(layer: Layer | None) -> Layer | None:
            return layer.copy() if layer is not None else None

        return _Context(self.rules, self.farmland.copy(), own(self.cultivated), own(self.baseline), own(self.approvals),
                        self.approval_dates, own(self.plots))


def _chunks(n: int, workers: int | None) -> list[slice]:
    """Split n houses into contiguous slices, a few per worker so the threads stay busy."""
    workers = workers or os.cpu_count() or 1
    if n == 0:
        return [slice(0, 0)]  # one empty slice: the result still has every column
    count = 1 if workers == 1 or n < 20_000 else workers * 4
    bounds = np.linspace(0, n, count + 1).astype(int)
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def homestead_register(households: pd.DataFrame | None) -> pd.Series:
    """Household id → homesteads it holds outside the house layer (from the register; 0 where unknown)."""
    if households is None or "homesteads_elsewhere" not in households.columns:
        return pd.Series(dtype=int)
    register = households.set_index(households["household_id"].astype(str))["homesteads_elsewhere"]
    return pd.to_numeric(register, errors="coerce").fillna(0).astype(int)


def others_from_counts(household_ids: pd.Series, counts: pd.Series, register: pd.Series) -> np.ndarray:
    """Per house: its household's other homesteads, given how many houses each household has (`counts`)."""
    hh = household_ids.astype("string")
    known = (hh.notna() & (hh.str.strip() != "")).fillna(False).to_numpy(dtype=bool)
    mine = pd.to_numeric(hh.map(counts), errors="coerce").fillna(1).to_numpy(dtype=int)
    elsewhere = pd.to_numeric(hh.map(register), errors="coerce").fillna(0).to_numpy(dtype=int)
    return np.where(known, mine - 1 + elsewhere, 0)


def other_homesteads(houses: gpd.GeoDataFrame, households: pd.DataFrame | None) -> np.ndarray:
    """Per house: homesteads its household holds besides this one (other houses + registered elsewhere).

    A precomputed `other_homesteads` column wins: a partition of the houses cannot count a household's
    houses in other partitions (see `gis.partitioned`).
    """
    if OTHER_HOMESTEADS in houses.columns:
        return houses[OTHER_HOMESTEADS].fillna(0).astype(int).to_numpy()
    if "household_id" not in houses.columns:
        return np.zeros(len(houses), dtype=int)
    hh = houses["household_id"].astype("string")
    counts = hh[hh.notna() & (hh.str.strip() != "")].value_counts()
    return others_from_counts(hh, counts, homestead_register(households))


def _measure(ctx: _Context, geoms: np.ndarray, convex: np.ndarray, clip: Rings, built_on: np.ndarray,
             homestead: np.ndarray, other_homesteads: np.ndarray) -> dict[str, np.ndarray]:
    """All per-house measures for one slice of houses (the thread-parallel unit)."""
    measures = _measure_areas(ctx, geoms, convex, clip, built_on)
    return {**measures, **_decide(ctx.rules, measures, homestead, other_homesteads)}


def _period(rules: RuleSet, built_on: np.ndarray, footprint: np.ndarray, old_m2: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Period, area after the cutoff and date conflict of each house.

    Imagery (`old_m2`: area covered by baseline footprints) beats a declared date; with neither the
    period is unknown (after-cutoff area NaN). A new part smaller than `min_area` is digitising noise.
    """
    n = len(footprint)
    cutoff = np.datetime64(rules.cutoff, "D")
    declared = ~np.isnat(built_on)
    declared_after = declared & (built_on >= cutoff)
    period = np.full(n, _UNKNOWN, dtype=np.int8)
    after_m2 = np.full(n, np.nan)
    conflict = np.zeros(n, dtype=bool)
    if old_m2 is not None:
        after_m2 = np.maximum(footprint - old_m2, 0.0)
        period[:] = _EXTENDED
        period[after_m2 < rules.min_area_m2] = _BEFORE
        period[old_m2 < rules.min_area_m2] = _AFTER
        conflict = (declared_after & (period == _BEFORE)) | (declared & ~declared_after & (period == _AFTER))
    else:
        period[declared] = _BEFORE
        period[declared_after] = _AFTER
        after_m2[declared] = np.where(declared_after[declared], footprint[declared], 0.0)
    return period, after_m2, conflict


def _measure_areas(ctx: _Context, geoms: np.ndarray, convex: np.ndarray, clip: Rings,
                   built_on: np.ndarray) -> dict[str, np.ndarray]:
    """Areas per house, by the fast kernel where it is exact, by GEOS geometry where it must be.

    The kernel gives each house's area on each layer. That settles every house that touches no farmland
    or cultivated land, or that does but has no part after the cutoff and no approval. The rest
    (increments and approved houses on farmland — a small share) need the geometry of the part after the
    cutoff intersected with each layer, and go through `_measure_geometry`.
    """
    n = len(geoms)
    footprint = area_or_zero(geoms)
    farmland_m2 = area_on(geoms, ctx.farmland, convex, clip)
    cultivated_m2 = area_on(geoms, ctx.cultivated, convex, clip) if ctx.cultivated is not None else np.zeros(n)
    old_m2 = area_on(geoms, ctx.baseline, convex, clip) if ctx.baseline is not None else None
    period, after_m2, conflict = _period(ctx.rules, built_on, footprint, old_m2)
    plots_m2 = area_on(geoms, ctx.plots, convex, clip) if ctx.plots is not None else np.zeros(n)
    touching = (farmland_m2 > 0) | (cultivated_m2 > 0)
    approval_candidate = np.zeros(n, dtype=bool)
    if ctx.approvals is not None:
        approval_candidate[ctx.approvals.pairs(geoms)[0]] = True
    has_new_part = ~np.isnan(after_m2) & (after_m2 > NEW_PART_EPSILON_M2)
    both = (farmland_m2 > 0) & (cultivated_m2 > 0)  # their union needs geometry
    exact = touching & (has_new_part | approval_candidate | both)

    known = period != _UNKNOWN
    measures = {
        "footprint_m2": footprint,
        "farmland_m2": farmland_m2,
        "cultivated_m2": cultivated_m2,
        "approved_m2": np.zeros(n),
        "after_cutoff_m2": after_m2,
        # Houses settled here have no part after the cutoff on farmland or cultivated land.
        "farmland_after_cutoff_m2": np.where(known, 0.0, np.nan),
        "cultivated_after_cutoff_m2": np.where(known, 0.0, np.nan),
        "unapproved_after_cutoff_m2": np.where(known, 0.0, np.nan),
        "occupied_m2": farmland_m2 + cultivated_m2,  # at most one is non-zero here
        "period": period,
        "date_conflict": conflict,
        "unapproved_cultivated_m2": cultivated_m2,
        "plots_m2": plots_m2,
        "has_approval": np.zeros(n, dtype=bool),
        "approval_after_building": np.zeros(n, dtype=bool),
    }
    idx = np.flatnonzero(exact)
    if len(idx):
        for key, values in _measure_geometry(ctx, geoms[idx], built_on[idx]).items():
            measures[key][idx] = values
    return measures


def _measure_geometry(ctx: _Context, geoms: np.ndarray, built_on: np.ndarray) -> dict[str, np.ndarray]:
    """Exact measures from GEOS geometry: the part after the cutoff, approvals, overlaps counted once."""
    rules = ctx.rules
    n = len(geoms)
    min_area = rules.min_area_m2
    footprint = area_or_zero(geoms)
    on_farmland = clip_union(geoms, ctx.farmland)
    on_cultivated = (clip_union(geoms, ctx.cultivated) if ctx.cultivated is not None
                     else np.full(n, None, dtype=object))
    farmland_m2 = area_or_zero(on_farmland)
    if ctx.baseline is not None:
        new_part = subtract_or_keep(geoms, clip_union(geoms, ctx.baseline))
        period, after_m2, conflict = _period(rules, built_on, footprint, footprint - area_or_zero(new_part))
    else:
        period, after_m2, conflict = _period(rules, built_on, footprint, None)
        new_part = np.full(n, None, dtype=object)
        after = period == _AFTER
        new_part[after] = geoms[after]
    known = period != _UNKNOWN

    # Approvals: valid ones (dated on or before the start of construction) legalise cultivated land,
    # never permanent basic farmland (an approval there is itself prohibition 8).
    approved = np.full(n, None, dtype=object)
    approval_after_building = np.zeros(n, dtype=bool)
    has_approval = np.zeros(n, dtype=bool)
    if ctx.approvals is not None and ctx.approval_dates is not None:
        hi, ai = ctx.approvals.pairs(geoms)
        if len(hi):
            overlap = area_or_zero(shapely.intersection(geoms[hi], ctx.approvals.geoms[ai]))
            real = overlap >= min_area
            hi, ai = hi[real], ai[real]
            has_approval[hi] = True
            adate = ctx.approval_dates[ai]
            late = ~np.isnat(adate) & ~np.isnat(built_on[hi]) & (adate > built_on[hi])
            approval_after_building[hi[late]] = True
            valid_pairs = ~late & ~np.isnat(adate)
            if valid_pairs.any():
                order = np.argsort(hi[valid_pairs], kind="stable")
                vh, va = hi[valid_pairs][order], ai[valid_pairs][order]
                pieces = polygonal_part(shapely.intersection(geoms[vh], ctx.approvals.geoms[va]))
                approved = union_groups(vh, pieces, n)
    approved = subtract_or_keep(approved, on_farmland)
    unapproved_cultivated = subtract_or_keep(on_cultivated, approved)
    occupied = union_or_either(on_farmland, unapproved_cultivated)
    plots_m2 = (area_or_zero(subtract_or_keep(clip_union(geoms, ctx.plots), approved))
                if ctx.plots is not None else np.zeros(n))
    return {
        "footprint_m2": footprint,
        "farmland_m2": farmland_m2,
        "cultivated_m2": area_or_zero(on_cultivated),
        "approved_m2": area_or_zero(approved),
        "after_cutoff_m2": after_m2,
        "farmland_after_cutoff_m2": np.where(known, area_or_zero(intersect_or_none(on_farmland, new_part)), np.nan),
        "cultivated_after_cutoff_m2": np.where(known, area_or_zero(intersect_or_none(on_cultivated, new_part)),
                                               np.nan),
        "unapproved_after_cutoff_m2": np.where(known, area_or_zero(intersect_or_none(occupied, new_part)), np.nan),
        "occupied_m2": area_or_zero(occupied),
        "period": period,
        "date_conflict": conflict,
        "unapproved_cultivated_m2": area_or_zero(unapproved_cultivated),
        "plots_m2": plots_m2,
        "has_approval": has_approval,
        "approval_after_building": approval_after_building,
    }


def _decide(rules: RuleSet, m: dict[str, np.ndarray], homestead: np.ndarray,
            other_homesteads: np.ndarray) -> dict[str, np.ndarray]:
    """Violation, disposition and 八不准 codes from the measures (one place for these decisions)."""
    n = len(m["footprint_m2"])
    min_area = rules.min_area_m2
    period = m["period"]
    known = period != _UNKNOWN
    on_farmland = m["farmland_m2"] >= min_area
    violation = on_farmland | (m["unapproved_cultivated_m2"] >= min_area)
    disposition = np.full(n, _NONE, dtype=np.int8)
    is_new = (period == _AFTER) | (period == _EXTENDED)
    disposition[violation & ~known] = _VERIFY
    disposition[violation & known] = _CLASSIFY
    demolish = violation & is_new & (np.nan_to_num(m["unapproved_after_cutoff_m2"]) >= min_area)
    disposition[demolish] = _DEMOLISH

    codes = np.zeros((n, 9), dtype=bool)
    codes[:, Prohibition.PERMANENT_FARMLAND] = on_farmland
    codes[:, Prohibition.SEIZE_OR_OVER_OCCUPY] = (
        homestead & (m["cultivated_m2"] >= min_area) & violation & (m["footprint_m2"] > rules.homestead_standard_m2))
    codes[:, Prohibition.CONTRACTED_LAND] = m["plots_m2"] >= min_area
    codes[:, Prohibition.ONE_HOUSEHOLD_ONE_HOMESTEAD] = violation & homestead & (other_homesteads > 0)
    codes[:, Prohibition.ILLEGAL_APPROVAL] = (m["has_approval"] & on_farmland) | m["approval_after_building"]
    return {"violation": violation, "disposition": disposition, "rules": _code_mask(codes)}


#: '1,4,6' for every subset of the eight codes, indexed by bit mask (bit k-1 set = code k).
CODE_SETS = tuple(",".join(str(k) for k in range(1, 9) if mask >> (k - 1) & 1) for mask in range(256))


def _code_mask(codes: np.ndarray) -> np.ndarray:
    """A boolean (n, 9) code matrix (column k = code k) as one bit mask per house (see `CODE_SETS`)."""
    return (codes[:, 1:9].astype(np.int64) @ (1 << np.arange(8, dtype=np.int64))).astype(np.uint8)


def _labels(codes: np.ndarray, names: tuple[str, ...], index: pd.Index) -> pd.Series:
    """Text column from integer codes, built by Arrow (`take`) without a Python string per row."""
    return pd.Series(pd.array(pa.array(names).take(pa.array(codes)), dtype="str"), index=index)


def _plot_areas(ctx: _Context, geoms: np.ndarray, house_ids: np.ndarray,
                plot_ids: np.ndarray | None) -> pd.DataFrame:
    """Long table of the house area on each contracted plot it touches (m², > 0 only)."""
    empty = pd.DataFrame({"house_id": pd.Series(dtype=object), "plot_id": pd.Series(dtype=object),
                          "area_m2": pd.Series(dtype=float)})
    if ctx.plots is None:
        return empty
    hi, pi = ctx.plots.pairs(geoms)
    if len(hi) == 0:
        return empty
    area = area_or_zero(shapely.intersection(geoms[hi], ctx.plots.geoms[pi]))
    keep = area > 0
    ids = plot_ids[pi[keep]] if plot_ids is not None else pi[keep] + 1
    return pd.DataFrame({"house_id": house_ids[hi[keep]], "plot_id": ids, "area_m2": area[keep]})


def _plot_area_text(house_ids: pd.Series, plot_areas: pd.DataFrame) -> pd.Series:
    """'P1:12.50;P2:3.20' per house (plots in id order): the plot areas in one readable column."""
    if plot_areas.empty:
        return pd.Series("", index=house_ids.index, dtype="str")
    ordered = plot_areas.assign(_key=plot_areas["plot_id"].astype(str)).sort_values(["house_id", "_key"])
    text = (ordered.assign(t=ordered["_key"] + ":" + ordered["area_m2"].round(2).map("{:.2f}".format))
            .groupby("house_id")["t"].agg(";".join))
    return house_ids.map(text).fillna("")


def cutoff_from_text(text: str) -> dt.date:
    """Parse an ISO date given on the command line."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise RedlineInputError(f"not an ISO date (YYYY-MM-DD): {text!r}", field="cutoff") from exc


__all__ = ["RESULT_COLUMNS", "CheckInputs", "CheckResult", "check", "cutoff_from_text", "same_crs"]
