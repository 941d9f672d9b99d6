"""The check engine: how much of each house lies on farmland, when it was built, and what follows.

Input and output are GeoDataFrames; nothing here reads files or talks to a database, so the same
function runs in `redline check`, in `redline scan` and per partition on a Dask cluster.

Column conventions of the inputs (after import mapping):
- houses: `house_id`, geometry; optional `built_on` (date the construction started), `household_id`,
  `use` (missing means a rural residence / homestead).
- farmland (永久基本农田): geometry.
- cultivated (三调 DLTB): `dlbm`, geometry.
- baseline (footprints on imagery at the cutoff): geometry; optional `imaged_on` (a footprint imaged after
  the cutoff proves only where there was *no* house yet, never that one stood there before the cutoff).
- approvals: `approved_on`, `kind` (homestead / land_conversion / planning_permit, or their Chinese names:
  only the first two legalise), geometry; optional `approval_id`, `approved_area_m2` (legalises at most
  that much), `household_id` (covers only that household's houses).
- households: `household_id`, optional `homesteads_elsewhere` (homesteads held outside these houses).
- plots (contracted cultivated land): `plot_id`, geometry.
All areas are in m² of one projected CRS (CGCS2000 Gauss-Kruger by default).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS

from gis.collector import cycle_collector_paused
from gis.crs import require_projected, same_crs, to_projected, zone_for_frame
from gis.dates import DateError, parse_days
from gis.errors import MissingCRSError, RedlineInputError
from gis.footprints import Footprints, HouseShapes
from gis.geometry import clean_polygons, polygonal_part, unchanged
from gis.kernels import clip_rows, convex_clip_polygons, convex_clip_wkb, merged_clip
from gis.numbers import NumberError, parse_numbers
from gis.overlay import (
    Layer,
    area_on,
    area_or_zero,
    clip_union,
    intersect_or_none,
    pair_areas,
    subtract_or_keep,
    union_groups,
    union_or_either,
)
from gis.rules import LEGALISING_KINDS, ApprovalKind, Disposition, Period, Prohibition, RuleSet, approval_kind

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
    "house_id", "footprint_m2", "farmland_m2", "cultivated_m2", "approved_m2", "unapproved_cultivated_m2",
    "after_cutoff_m2", "farmland_after_cutoff_m2", "cultivated_after_cutoff_m2",
    "unapproved_after_cutoff_m2", "occupied_m2", "period", "date_conflict", "retro_approval", "violation",
    "disposition", "rules", "plot_areas",
]


@dataclass
class CheckInputs:
    """The layers of one check; only houses and farmland are required. The houses may come as a GeoDataFrame or,
    read from a WKB GeoParquet file, as `Footprints`: then only the footprints the clip kernel cannot measure
    from their rings are ever decoded into geometry objects (`gis.footprints`)."""

    houses: gpd.GeoDataFrame | Footprints
    farmland: gpd.GeoDataFrame
    cultivated: gpd.GeoDataFrame | None = None
    baseline: gpd.GeoDataFrame | None = None
    approvals: gpd.GeoDataFrame | None = None
    households: pd.DataFrame | None = None
    plots: gpd.GeoDataFrame | None = None


class CheckResult:
    """Per-house results, house × plot areas, and every geometry repair or drop made on the way.

    `table` has the result columns (`RESULT_COLUMNS`), one row per checked house; `houses` is the same with each
    house's footprint (in `crs`), a GeoDataFrame made when first asked for: `redline check` writing GeoParquet
    never asks, and writes the footprints as their file had them (`HouseShapes.wkb`).
    """

    def __init__(self, houses: pd.DataFrame, plot_areas: pd.DataFrame, repairs: pd.DataFrame | None = None,
                 warnings: list[str] | None = None, *, crs: CRS | None = None,
                 footprints: HouseShapes | None = None) -> None:
        self.table = houses
        self.plot_areas = plot_areas
        self.repairs = repairs if repairs is not None else pd.DataFrame()
        #: What the office should know about the inputs: approvals of a kind that legalises nothing or that
        #: no one could read, baseline imagery taken after the cutoff.
        self.warnings = warnings if warnings is not None else []
        self.crs = crs if crs is not None else getattr(houses, "crs", None)
        #: Where given, the footprints of `table`'s houses, row for row (`houses` is made from them).
        self.footprints = footprints
        self._houses: pd.DataFrame | None = houses if footprints is None else None

    @property
    def houses(self) -> gpd.GeoDataFrame:
        """The result columns with each house's footprint."""
        if self._houses is None:
            assert self.footprints is not None
            self._houses = gpd.GeoDataFrame(self.table, geometry=gpd.GeoSeries(
                self.footprints.geometries(), index=self.table.index, crs=self.crs), crs=self.crs)
        return self._houses  # type: ignore[return-value]

    @houses.setter
    def houses(self, frame: pd.DataFrame) -> None:
        self._houses = self.table = frame
        self.footprints = None

    def summary(self) -> pd.DataFrame:
        """Counts and areas per disposition (m² and 亩)."""
        g = self.table.groupby("disposition", observed=True).agg(
            houses=("house_id", "size"),
            footprint_m2=("footprint_m2", "sum"),
            farmland_m2=("farmland_m2", "sum"),
            cultivated_m2=("cultivated_m2", "sum"),
            unapproved_after_cutoff_m2=("unapproved_after_cutoff_m2", "sum"),
        )
        return g.reindex([d.value for d in Disposition], fill_value=0)


def with_row_numbers(gdf: pd.DataFrame) -> pd.DataFrame:
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


def _prepare_houses(gdf: gpd.GeoDataFrame, crs: CRS, repairs: list[pd.DataFrame], workers: int | None
                    ) -> tuple[gpd.GeoDataFrame, HouseShapes]:
    """The houses cleaned like any layer, with their shapes (which are convex, their rings, boxes and areas).

    Convex houses are simple polygons, so GEOS need not validate them: reading their coordinates once
    serves both the cleaning and the kernel. Where cleaning repaired a house, its rings are read again; the
    houses it left alone keep those read before (reading them all again cost ~0.15–0.5 s a million houses on any
    delivery with a single repair).
    """
    projected = projected_layer(gdf, "houses", crs)
    geoms = projected.geometry.to_numpy()
    convex, clip = convex_clip_polygons(geoms)
    houses, report = clean_polygons(projected, source="houses", workers=workers, known_valid=convex)
    cleaned = houses.geometry.to_numpy()
    if len(report):
        repairs.append(report)
        kept = projected.index.get_indexer(houses.index)
        same = unchanged(cleaned, geoms[kept])
        repaired = np.flatnonzero(~same)
        convex, clip = merged_clip(len(cleaned), (np.flatnonzero(same), *clip_rows(convex, clip, kept[same])),
                                   (repaired, *convex_clip_polygons(cleaned[repaired])))
    return houses, HouseShapes.of(cleaned, convex, clip)


def _prepare_footprints(footprints: Footprints, crs: CRS, repairs: list[pd.DataFrame], workers: int | None
                        ) -> tuple[pd.DataFrame, HouseShapes]:
    """`_prepare_houses` for footprints still in their file's WKB, already in the working CRS `crs`.

    The convex ones are read from the bytes into rings (`convex_clip_wkb`) and never decoded: a convex ring is a
    valid polygon with area, which cleaning would keep as it is. Only the others (concave, with holes, several
    parts, empty, with Z values) are decoded and go through `_prepare_houses`; what cleaning repaired is written
    out anew, everything else as the file's own bytes (`HouseShapes.wkb`).
    """
    n = len(footprints)
    wkb = footprints.wkb
    attributes = with_row_numbers(footprints.frame)
    convex, rings = convex_clip_wkb(wkb)
    rest = np.flatnonzero(~convex)
    decoded = footprints.decode(rest)
    cleaned, rest_shapes = _prepare_houses(
        gpd.GeoDataFrame({"_row": attributes["_row"].to_numpy()[rest]}, geometry=decoded, crs=crs), crs, repairs,
        workers)
    kept_rest = cleaned.index.to_numpy()  # positions in `rest` (the frame's RangeIndex)
    keep = np.ones(n, dtype=bool)
    keep[rest] = False
    keep[rest[kept_rest]] = True
    kept = np.flatnonzero(keep)
    position = np.full(n, -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    objects = np.full(len(kept), None, dtype=object)
    at = position[rest[kept_rest]]
    objects[at] = rest_shapes.objects
    changed = np.zeros(len(kept), dtype=bool)
    changed[at] = ~unchanged(rest_shapes.objects, decoded[kept_rest])
    fast = np.flatnonzero(convex)
    convex_kept, clip = merged_clip(len(kept), (position[fast], *clip_rows(convex, rings, fast)),
                                    (at, rest_shapes.convex, rest_shapes.clip))
    everything = len(kept) == n
    frame = attributes if everything else attributes.iloc[kept].reset_index(drop=True)
    source = wkb if everything else wkb.take(pa.array(kept))
    return frame, HouseShapes.of(objects, convex_kept, clip, source=source, changed=changed)


def _prepare_layers(inputs: CheckInputs, crs: CRS, repairs: list[pd.DataFrame], workers: int | None
                    ) -> tuple[dict[str, gpd.GeoDataFrame | None], Layer]:
    """Every layer but the houses cleaned (`_prepare`), and the farmland indexed for clipping."""
    layers = {name: _prepare(getattr(inputs, name), name, crs, repairs, workers)
              for name in ("farmland", "cultivated", "baseline", "approvals", "plots")}
    farmland = layers["farmland"]
    assert farmland is not None
    return layers, Layer(farmland.geometry.to_numpy())


def _houses_in_working_crs(houses: gpd.GeoDataFrame | Footprints, crs: CRS | str | int | None
                           ) -> tuple[gpd.GeoDataFrame | Footprints, CRS]:
    """The working CRS, and the houses as the engine takes them: `Footprints` stay bytes where they are in that CRS
    already; otherwise they are decoded (a reprojection moves every vertex: there is nothing to keep)."""
    if isinstance(houses, Footprints):
        if houses.crs is None and crs is None:
            raise MissingCRSError("houses have no CRS; give one (--src-crs) or a projected --crs", source="houses")
        if houses.crs is not None and houses.crs.is_projected and (crs is None or same_crs(houses.crs, crs)):
            return houses, CRS.from_user_input(crs) if crs is not None else houses.crs
        houses = houses.to_geodataframe()
    return houses, working_crs(houses, crs)


def working_crs(houses: gpd.GeoDataFrame, crs: CRS | str | int | None) -> CRS:
    """The projected CRS all areas are measured in: the given one, the houses' own, or their GK zone."""
    if crs is not None:
        return CRS.from_user_input(crs)
    if houses.crs is None:
        raise MissingCRSError("houses have no CRS; give one (--src-crs) or a projected --crs", source="houses")
    own = CRS.from_user_input(houses.crs)
    return own if own.is_projected else zone_for_frame(houses)


def _dates(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A date column as the county's days (datetime64[D], `gis.dates`); NaT where missing or absent. A value
    that is not a day is an error naming its input row."""
    if column not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
    try:
        return parse_days(frame[column])
    except DateError as exc:
        raise RedlineInputError(str(exc), source=what, row=_input_row(frame, exc.position), field=column) from None


def _numbers(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A number column as floats (NaN where empty or absent). A value that is not a number is an error naming its
    input row: read as "not given", an approved area of '120平方米' would have capped nothing (批少占多)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        return parse_numbers(frame[column]).to_numpy(dtype=float)
    except NumberError as exc:
        raise RedlineInputError(str(exc), source=what, row=_input_row(frame, exc.position), field=column) from None


def _input_row(frame: pd.DataFrame, position: int) -> int:
    """The input row (1-based, as the file numbers it: `_row`) of the frame's row at `position`."""
    return int(frame["_row"].iloc[position]) if "_row" in frame.columns else position + 1


@cycle_collector_paused()
def check(inputs: CheckInputs, rules: RuleSet, *, crs: CRS | str | int | None = None,
          workers: int | None = None, progress: Callable[[int], None] | None = None) -> CheckResult:
    """Check every house against farmland and cultivated land; see the module docstring for columns.

    Returns one row per (clean) house with the columns in `RESULT_COLUMNS` (and, asked for, the footprint).
    `workers` threads share the work (shapely releases the GIL); default: the number of cores.
    `progress` is called with the number of houses finished after each slice. The rules are always given:
    a county's cutoff and thresholds are its settings, never a silent national default.
    Python's cyclic collector is held off meanwhile (`gis.collector`: a million geometries are no cycles).
    """
    given, work_crs = _houses_in_working_crs(inputs.houses, crs)
    if not work_crs.is_projected:
        raise RedlineInputError(f"{work_crs.name} is not projected; areas need metres", field="crs")
    repairs: list[pd.DataFrame] = []
    layer_repairs: list[pd.DataFrame] = []
    houses: pd.DataFrame
    # The other layers are cleaned, and the farmland indexed, on a thread while the houses are prepared: house
    # preparation is mostly GeoArrow and Numba, layer cleaning mostly GEOS, and each releases the GIL much of
    # the time. A house error still comes first, as when the layers waited for the houses.
    with ThreadPoolExecutor(max_workers=1) as pool:
        prepared = pool.submit(_prepare_layers, inputs, work_crs, layer_repairs, workers)
        if isinstance(given, Footprints):
            houses, shapes = _prepare_footprints(given, work_crs, repairs, workers)
        else:
            houses, shapes = _prepare_houses(given, work_crs, repairs, workers)
            require_projected(houses, "houses")
        if "house_id" not in houses.columns:
            raise RedlineInputError("no house_id column", source="houses", field="house_id")
        dup = houses["house_id"].duplicated(keep="first")
        if dup.any():
            first = houses.loc[dup].iloc[0]
            raise RedlineInputError(f"house_id {first['house_id']!r} is not unique", source="houses",
                                    row=int(first["_row"]), field="house_id")
        layers, farmland_layer = prepared.result()
    repairs += layer_repairs

    cultivated = layers["cultivated"]
    if cultivated is not None:
        if "dlbm" not in cultivated.columns:
            raise RedlineInputError("no DLBM (land-class code) column", source="cultivated", field="dlbm")
        codes = cultivated["dlbm"].astype(str).str.strip()
        cultivated = cultivated.loc[codes.isin(rules.cultivated_codes).to_numpy()]

    warnings: list[str] = []
    baseline, late_baseline = _split_baseline(layers["baseline"], rules, warnings)
    ctx = _Context(
        rules=rules,
        farmland=farmland_layer,
        cultivated=Layer(cultivated.geometry.to_numpy()) if cultivated is not None else None,
        baseline=baseline,
        late_baseline=late_baseline,
        approvals=(_approvals(layers["approvals"], farmland_layer, rules, warnings)
                   if layers["approvals"] is not None else None),
        plots=Layer(layers["plots"].geometry.to_numpy()) if layers["plots"] is not None else None,
    )
    built_on = _dates(houses, "built_on", "houses")
    others = other_homesteads(houses, inputs.households)
    homestead = is_home(houses)
    household = household_ids(houses)

    chunks = _chunks(len(shapes), workers)
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
            parts[i] = _measure(own, shapes.take(sl), built_on[sl], homestead[sl], others[sl], household[sl])
            if progress is not None:
                progress(sl.stop - sl.start)

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        list(pool.map(run, range(n_threads)))
    measured: dict[str, object] = {k: np.concatenate([p[k] for p in parts]) for k in RESULT_COLUMNS if k in parts[0]}
    index = pd.RangeIndex(len(houses))
    for column, names in (("period", PERIOD_NAMES), ("disposition", DISPOSITION_NAMES), ("rules", CODE_SETS)):
        measured[column] = _labels(measured[column], names, index)  # type: ignore[arg-type]

    # copy=False: the columns are this function's own fresh arrays. Stacking them into pandas' 2-D blocks
    # copied ~100 MB per million houses into freshly faulted memory, 0.1–0.6 s of a `redline check`.
    out = pd.DataFrame({"house_id": houses["house_id"].array, **measured}, index=index, copy=False)
    plot_areas = _plot_areas(ctx, shapes, houses["house_id"].to_numpy(),
                             layers["plots"]["plot_id"].to_numpy() if layers["plots"] is not None
                             and "plot_id" in layers["plots"] else None)
    out["plot_areas"] = _plot_area_text(out["house_id"], plot_areas)
    out = out[RESULT_COLUMNS]
    report = pd.concat(repairs, ignore_index=True) if repairs else pd.DataFrame(
        columns=["source", "row", "field", "action", "reason"])
    return CheckResult(out, plot_areas, report, warnings, crs=work_crs, footprints=shapes)


@dataclass
class _Approvals:
    """The approvals layer with what each approval can and cannot do, decided once per check."""

    layer: Layer
    #: Date of approval (NaT where the register has none: such an approval legalises nothing).
    dates: np.ndarray
    #: A kind that grants or converts the land (homestead, land conversion): see `gis.rules.ApprovalKind`.
    legalises: np.ndarray
    #: The approval's own polygon lies on permanent basic farmland: the approval itself is unlawful (8).
    on_farmland: np.ndarray
    #: The area it approves, m² (NaN where not given): the most it can legalise (批少占多).
    cap_m2: np.ndarray
    #: The household it was granted to (None where not given).
    household: np.ndarray

    def copy(self) -> _Approvals:
        return _Approvals(self.layer.copy(), self.dates, self.legalises, self.on_farmland, self.cap_m2,
                          self.household)


def _approvals(frame: gpd.GeoDataFrame, farmland: Layer, rules: RuleSet, warnings: list[str]) -> _Approvals:
    """Read the approvals' kinds, dates, areas and households; warn about those that legalise nothing."""
    geoms = frame.geometry.to_numpy()
    kinds = (frame["kind"].map(approval_kind) if "kind" in frame.columns
             else pd.Series(ApprovalKind.UNKNOWN, index=frame.index))
    unknown = int((kinds == ApprovalKind.UNKNOWN).sum())
    if unknown:
        sample = sorted({str(v) for v in frame.loc[(kinds == ApprovalKind.UNKNOWN).to_numpy(), "kind"]
                         .head(50)}) if "kind" in frame.columns else ["(no kind field)"]
        warnings.append(f"{unknown} approvals of unknown kind (e.g. {', '.join(sample[:3])}) were not trusted: "
                        "only homestead (宅基地) and land-conversion (农用地转用) approvals legalise")
    permits = int((kinds == ApprovalKind.PLANNING_PERMIT).sum())
    if permits:
        warnings.append(f"{permits} rural planning permits (乡村建设规划许可) legalise no cultivated land "
                        "by themselves")
    cap = _numbers(frame, "approved_area_m2", "approvals")
    on_farmland = area_or_zero(clip_union(geoms, farmland)) >= rules.min_area_m2
    return _Approvals(Layer(geoms), _dates(frame, "approved_on", "approvals"),
                      kinds.isin(LEGALISING_KINDS).to_numpy(), on_farmland, cap, household_ids(frame))


def _split_baseline(frame: gpd.GeoDataFrame | None, rules: RuleSet, warnings: list[str]
                    ) -> tuple[Layer | None, Layer | None]:
    """The baseline footprints that prove a house stood at the cutoff (imaged on or before it, or with
    no date), and those imaged after it, which prove only absence."""
    if frame is None:
        return None, None
    dates = _dates(frame, "imaged_on", "baseline")
    if "imaged_on" not in frame.columns or np.isnat(dates).all():
        warnings.append("the baseline has no imaged_on: its footprints are taken as imaged at the cutoff")
    late = ~np.isnat(dates) & (dates > np.datetime64(rules.cutoff, "D"))
    if late.any():
        days = sorted({str(d) for d in np.unique(dates[late])})
        warnings.append(f"{int(late.sum())} baseline footprints were imaged after the cutoff ({', '.join(days[:5])}): "
                        "a house on them is not proven older than the cutoff")
    geoms = frame.geometry.to_numpy()
    early = Layer(geoms[~late]) if (~late).any() else None
    return early, (Layer(geoms[late]) if late.any() else None)


@dataclass
class _Context:
    rules: RuleSet
    farmland: Layer
    cultivated: Layer | None
    baseline: Layer | None
    late_baseline: Layer | None
    approvals: _Approvals | None
    plots: Layer | None

    def copy(self) -> _Context:
        """The same context with private copies of every layer's geometries (for another thread)."""
        def own(layer: Layer | None) -> Layer | None:
            return layer.copy() if layer is not None else None

        return _Context(self.rules, self.farmland.copy(), own(self.cultivated), own(self.baseline),
                        own(self.late_baseline), self.approvals.copy() if self.approvals is not None else None,
                        own(self.plots))


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


def is_home(houses: pd.DataFrame) -> np.ndarray:
    """Which houses are homes (a homestead's dwelling): the `use` field names one, or is empty. Sheds,
    animal houses and stores (附属用房, 畜禽舍, 仓库, ...) are not homesteads and never count for 一户一宅."""
    if "use" not in houses.columns:
        return np.ones(len(houses), dtype=bool)
    uses = houses["use"].fillna("").astype(str).str.strip().str.lower()
    return uses.isin(HOMESTEAD_USES).to_numpy()


def household_ids(frame: pd.DataFrame) -> np.ndarray:
    """Each row's `household_id` as text (a house's, or an approval's grantee), None where not given."""
    if "household_id" not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    hh = frame["household_id"].astype("string").str.strip()
    return hh.astype(object).where(hh.notna() & (hh != ""), None).to_numpy()


def home_counts(houses: pd.DataFrame) -> pd.Series:
    """Household id → number of homes among `houses` (the 一户一宅 count; sheds excluded)."""
    hh = houses["household_id"].astype("string")
    homes = hh[pd.Series(is_home(houses), index=houses.index) & hh.notna() & (hh.str.strip() != "")]
    return homes.value_counts()


def other_homesteads(houses: gpd.GeoDataFrame, households: pd.DataFrame | None) -> np.ndarray:
    """Per house: homesteads its household holds besides this one (its other homes + registered elsewhere).

    A precomputed `other_homesteads` column wins: a partition of the houses cannot count a household's
    houses in other partitions (see `gis.partitioned`).
    """
    if OTHER_HOMESTEADS in houses.columns:
        return houses[OTHER_HOMESTEADS].fillna(0).astype(int).to_numpy()
    if "household_id" not in houses.columns:
        return np.zeros(len(houses), dtype=int)
    return others_from_counts(houses["household_id"], home_counts(houses), homestead_register(households))


def _measure(ctx: _Context, shapes: HouseShapes, built_on: np.ndarray, homestead: np.ndarray,
             other_homesteads: np.ndarray, household: np.ndarray) -> dict[str, np.ndarray]:
    """All per-house measures for one slice of houses (the thread-parallel unit)."""
    measures = _measure_areas(ctx, shapes, built_on, household)
    return {**measures, **decide(ctx.rules, measures, homestead, other_homesteads)}


def _period(rules: RuleSet, built_on: np.ndarray, footprint: np.ndarray, old_m2: np.ndarray | None,
            late_m2: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Period, area after the cutoff and date conflict of each house.

    Imagery at the cutoff (`old_m2`: area on baseline footprints imaged on or before it) beats a declared
    date. Imagery taken after the cutoff (`late_m2`) proves only absence: the part of a house not on it is
    new; the part on it may be old or new — unknown, unless the declared date is before the cutoff. With
    no imagery the declared date decides; with nothing at all the period is unknown (after-cutoff area
    NaN). A new part smaller than `min_area` is digitising noise.
    """
    n = len(footprint)
    min_area = rules.min_area_m2
    cutoff = np.datetime64(rules.cutoff, "D")
    declared = ~np.isnat(built_on)
    declared_after = declared & (built_on >= cutoff)
    declared_before = declared & ~declared_after
    period = np.full(n, _UNKNOWN, dtype=np.int8)
    after_m2 = np.full(n, np.nan)
    conflict = np.zeros(n, dtype=bool)
    if old_m2 is None and late_m2 is None:
        period[declared] = _BEFORE
        period[declared_after] = _AFTER
        after_m2[declared] = np.where(declared_after[declared], footprint[declared], 0.0)
        return period, after_m2, conflict
    old = old_m2 if old_m2 is not None else np.zeros(n)
    late = late_m2 if late_m2 is not None else np.zeros(n)
    on_early = old >= min_area  # imagery at the cutoff decides
    new_m2 = np.maximum(footprint - old, 0.0)
    period[on_early] = np.where(new_m2[on_early] < min_area, _BEFORE, _EXTENDED)
    after_m2[on_early] = new_m2[on_early]
    only_late = ~on_early & (late >= min_area)  # seen only after the cutoff: presence proves nothing
    proven_new = np.maximum(footprint - late, 0.0)
    grew = only_late & (proven_new >= min_area)
    period[grew] = np.where(declared_before[grew], _EXTENDED, _AFTER)
    after_m2[grew] = proven_new[grew]  # only what the later imagery proves new counts as increment
    settled_late = only_late & ~grew
    period[settled_late & declared_before] = _BEFORE
    after_m2[settled_late & declared_before] = 0.0
    absent = ~on_early & ~only_late  # on no imagery at all: built after the cutoff
    period[absent] = _AFTER
    after_m2[absent] = new_m2[absent]
    conflict = (declared_after & (period == _BEFORE)) | (declared_before & (period == _AFTER))
    return period, after_m2, conflict


def _measure_areas(ctx: _Context, shapes: HouseShapes, built_on: np.ndarray, household: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """Areas per house, by the fast kernel where it is exact, by GEOS geometry where it must be.

    The kernel gives each house's area on each layer. That settles every house that touches no farmland
    or cultivated land, or that does but has no part after the cutoff and no approval. The rest
    (increments and approved houses on farmland — a small share) need the geometry of the part after the
    cutoff intersected with each layer, and go through `_measure_geometry`.
    """
    n = len(shapes)
    footprint = shapes.area
    farmland_m2 = area_on(shapes, ctx.farmland)
    cultivated_m2 = area_on(shapes, ctx.cultivated) if ctx.cultivated is not None else np.zeros(n)
    old_m2 = area_on(shapes, ctx.baseline) if ctx.baseline is not None else None
    late_m2 = area_on(shapes, ctx.late_baseline) if ctx.late_baseline is not None else None
    if old_m2 is None and late_m2 is not None:
        old_m2 = np.zeros(n)
    period, after_m2, conflict = _period(ctx.rules, built_on, footprint, old_m2, late_m2)
    plots_m2 = area_on(shapes, ctx.plots) if ctx.plots is not None else np.zeros(n)
    touching = (farmland_m2 > 0) | (cultivated_m2 > 0)
    approval_candidate = np.zeros(n, dtype=bool)
    if ctx.approvals is not None:  # boxes that meet: the exact pass decides whether an approval covers the house
        approval_candidate[ctx.approvals.layer.boxes.pairs(shapes.bounds)[0]] = True
    has_new_part = ~np.isnan(after_m2) & (after_m2 > NEW_PART_EPSILON_M2)
    both = (farmland_m2 > 0) & (cultivated_m2 > 0)  # their union needs geometry
    exact = touching & (has_new_part | approval_candidate | both)

    known = period != _UNKNOWN
    measures = {
        "footprint_m2": footprint,
        "farmland_m2": farmland_m2,
        # The area on cultivated land is a fact of the ground; what is unapproved of it starts as a copy
        # (never the same array: the exact pass below rewrites the unapproved part only).
        "cultivated_m2": cultivated_m2,
        "unapproved_cultivated_m2": cultivated_m2.copy(),
        "approved_m2": np.zeros(n),
        "after_cutoff_m2": after_m2,
        # Houses settled here have no part after the cutoff on farmland or cultivated land.
        "farmland_after_cutoff_m2": np.where(known, 0.0, np.nan),
        "cultivated_after_cutoff_m2": np.where(known, 0.0, np.nan),
        "unapproved_after_cutoff_m2": np.where(known, 0.0, np.nan),
        "occupied_m2": farmland_m2 + cultivated_m2,  # at most one is non-zero here
        "period": period,
        "date_conflict": conflict,
        "plots_m2": plots_m2,
        "excess_m2": np.zeros(n),
        "illegal_approval": np.zeros(n, dtype=bool),
        "retro_approval": np.zeros(n, dtype=bool),
    }
    idx = np.flatnonzero(exact)
    if len(idx):
        for key, values in _measure_geometry(ctx, shapes.geometries(idx), built_on[idx], household[idx]).items():
            measures[key][idx] = values
    return measures


def _new_parts(ctx: _Context, geoms: np.ndarray, built_on: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Period, after-cutoff area, date conflict and the geometry of the part built after the cutoff (None
    where there is none or the period is unknown), by the same rules as `_period`."""
    n = len(geoms)
    rules = ctx.rules
    footprint = area_or_zero(geoms)
    if ctx.baseline is None and ctx.late_baseline is None:
        period, after_m2, conflict = _period(rules, built_on, footprint, None)
        new_part = np.full(n, None, dtype=object)
        after = period == _AFTER
        new_part[after] = geoms[after]
        return period, after_m2, conflict, new_part
    early = clip_union(geoms, ctx.baseline) if ctx.baseline is not None else np.full(n, None, dtype=object)
    late = clip_union(geoms, ctx.late_baseline) if ctx.late_baseline is not None else np.full(n, None, dtype=object)
    period, after_m2, conflict = _period(rules, built_on, footprint, area_or_zero(early), area_or_zero(late))
    on_early = area_or_zero(early) >= rules.min_area_m2
    new_part = np.where(on_early, subtract_or_keep(geoms, early), subtract_or_keep(geoms, late))
    new_part[~((period == _AFTER) | (period == _EXTENDED))] = None
    return period, after_m2, conflict, new_part


def _measure_geometry(ctx: _Context, geoms: np.ndarray, built_on: np.ndarray,
                      household: np.ndarray) -> dict[str, np.ndarray]:
    """Exact measures from GEOS geometry: the part after the cutoff, approvals, overlaps counted once."""
    n = len(geoms)
    footprint = area_or_zero(geoms)
    on_farmland = clip_union(geoms, ctx.farmland)
    on_cultivated = (clip_union(geoms, ctx.cultivated) if ctx.cultivated is not None
                     else np.full(n, None, dtype=object))
    farmland_m2 = area_or_zero(on_farmland)
    period, after_m2, conflict, new_part = _new_parts(ctx, geoms, built_on)
    known = period != _UNKNOWN
    approved, excess, illegal_approval, retro = _approved_parts(ctx, geoms, built_on, household, period,
                                                                on_farmland)
    approved = subtract_or_keep(approved, on_farmland)
    approved_cultivated = intersect_or_none(approved, on_cultivated)
    # The part an approval does not cover (批少占多: beyond its approved area) lies in what it covers, on
    # cultivated land; as no map says which square metres are the excess, it is counted first against
    # the part built after the cutoff (zero tolerance gives it no benefit of the doubt).
    excess = np.minimum(excess, area_or_zero(approved_cultivated))
    excess_new = np.minimum(excess, area_or_zero(intersect_or_none(approved_cultivated, new_part)))
    unapproved_cultivated = subtract_or_keep(on_cultivated, approved)
    occupied = union_or_either(on_farmland, unapproved_cultivated)
    plots_m2 = (area_or_zero(subtract_or_keep(clip_union(geoms, ctx.plots), approved))
                if ctx.plots is not None else np.zeros(n))
    return {
        "footprint_m2": footprint,
        "farmland_m2": farmland_m2,
        "cultivated_m2": area_or_zero(on_cultivated),
        "unapproved_cultivated_m2": area_or_zero(unapproved_cultivated) + excess,
        "approved_m2": area_or_zero(approved) - excess,
        "after_cutoff_m2": after_m2,
        "farmland_after_cutoff_m2": np.where(known, area_or_zero(intersect_or_none(on_farmland, new_part)), np.nan),
        "cultivated_after_cutoff_m2": np.where(known, area_or_zero(intersect_or_none(on_cultivated, new_part)),
                                               np.nan),
        "unapproved_after_cutoff_m2": np.where(known, area_or_zero(intersect_or_none(occupied, new_part))
                                               + excess_new, np.nan),
        "occupied_m2": area_or_zero(occupied) + excess,
        "period": period,
        "date_conflict": conflict,
        "plots_m2": plots_m2,
        "excess_m2": excess,
        "illegal_approval": illegal_approval,
        "retro_approval": retro,
    }


def _approved_parts(ctx: _Context, geoms: np.ndarray, built_on: np.ndarray, household: np.ndarray,
                    period: np.ndarray, on_farmland: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the approvals of each house legalise, and what they say about it.

    Returns, per house: the union of the parts lawfully approved (None where none), the area by which
    they exceed their approved areas (m²), whether an approval of the house is itself unlawful
    (prohibition 8), and whether the house holds an after-the-fact approval of a stock house (补办).
    The rules, in the order they read (`gis.rules` has the kinds):
    - an approval covers a house only where they overlap by `min_area` or more, and not where both name a
      household and the households differ;
    - it legalises only if it is of a kind that grants or converts the land, is dated, lies on no
      permanent basic farmland, and was granted on or before the start of construction;
    - an approval on permanent basic farmland, or one granted after an increment was built, is unlawful (8);
    - an approval granted after a stock house (built before the cutoff) was built is the normal
      regularisation route (补办): it legalises nothing by itself and is no 8, but the office must see it;
    - it legalises at most its approved area.
    """
    n = len(geoms)
    approved = np.full(n, None, dtype=object)
    excess = np.zeros(n)
    illegal = np.zeros(n, dtype=bool)
    retro = np.zeros(n, dtype=bool)
    a = ctx.approvals
    if a is None:
        return approved, excess, illegal, retro
    hi, ai = a.layer.pairs(geoms)
    if len(hi) == 0:
        return approved, excess, illegal, retro
    pieces = shapely.intersection(geoms[hi], a.layer.geoms[ai])
    other_household = np.array([h is not None and o is not None and h != o
                                for h, o in zip(household[hi], a.household[ai], strict=True)], dtype=bool)
    covers = (area_or_zero(pieces) >= ctx.rules.min_area_m2) & ~other_household
    hi, ai, pieces = hi[covers], ai[covers], pieces[covers]
    adate = a.dates[ai]
    late = ~np.isnat(adate) & ~np.isnat(built_on[hi]) & (adate > built_on[hi])
    stock = period[hi] == _BEFORE
    retro[hi[late & stock]] = True
    illegal[hi[a.on_farmland[ai] | (late & ~stock)]] = True
    lawful = a.legalises[ai] & ~np.isnat(adate) & ~late & ~a.on_farmland[ai]
    if lawful.any():
        order = np.argsort(hi[lawful], kind="stable")
        vh, va = hi[lawful][order], ai[lawful][order]
        parts = polygonal_part(pieces[lawful][order])
        covered = area_or_zero(subtract_or_keep(parts, on_farmland[vh]))
        cap = a.cap_m2[va]
        over = np.where(np.isnan(cap), 0.0, np.maximum(covered - cap, 0.0))
        excess = np.bincount(vh, weights=over, minlength=n).astype(float)
        approved = union_groups(vh, parts, n)
    return approved, excess, illegal, retro


def decide(rules: RuleSet, m: dict[str, np.ndarray], homestead: np.ndarray,
           other_homesteads: np.ndarray) -> dict[str, np.ndarray]:
    """Violation, disposition and 八不准 codes from the measures: the one place these decisions are made.

    - Violation: any permanent basic farmland (≥ min_area), or cultivated land not lawfully approved.
    - Disposition: a violation built after the cutoff whose new part is unapproved is demolished (zero
      tolerance); other violations of known period are classified; of unknown period, verified on site.
    - 1 占用永久基本农田: on permanent basic farmland.
    - 2 多占: a home on cultivated land beyond the provincial homestead standard, or beyond the area its
      approval grants (批少占多).
    - 4 承包地: on contracted cultivated land (not approved).
    - 6 一户多宅: a home of a household that has another homestead.
    - 8 违法审批: an approval of the house is itself unlawful (on permanent basic farmland, or granted after
      an increment was built).
    3, 5 and 7 are established on site only.
    """
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
    over_standard = homestead & (m["cultivated_m2"] >= min_area) & (m["footprint_m2"] > rules.homestead_standard_m2)
    codes[:, Prohibition.SEIZE_OR_OVER_OCCUPY] = violation & (over_standard | (m["excess_m2"] >= min_area))
    codes[:, Prohibition.CONTRACTED_LAND] = m["plots_m2"] >= min_area
    codes[:, Prohibition.ONE_HOUSEHOLD_ONE_HOMESTEAD] = violation & homestead & (other_homesteads > 0)
    codes[:, Prohibition.ILLEGAL_APPROVAL] = m["illegal_approval"]
    return {"violation": violation, "disposition": disposition, "rules": _code_mask(codes)}


#: '1,4,6' for every subset of the eight codes, indexed by bit mask (bit k-1 set = code k).
CODE_SETS = tuple(",".join(str(k) for k in range(1, 9) if mask >> (k - 1) & 1) for mask in range(256))


def _code_mask(codes: np.ndarray) -> np.ndarray:
    """A boolean (n, 9) code matrix (column k = code k) as one bit mask per house (see `CODE_SETS`)."""
    return (codes[:, 1:9].astype(np.int64) @ (1 << np.arange(8, dtype=np.int64))).astype(np.uint8)


def _labels(codes: np.ndarray, names: tuple[str, ...], index: pd.Index) -> pd.Series:
    """Text column from integer codes, built by Arrow (`take`) without a Python string per row."""
    return pd.Series(pd.array(pa.array(names).take(pa.array(codes)), dtype="str"), index=index)


def _plot_areas(ctx: _Context, shapes: HouseShapes, house_ids: np.ndarray,
                plot_ids: np.ndarray | None) -> pd.DataFrame:
    """Long table of the house area on each contracted plot it touches (m², > 0 only)."""
    empty = pd.DataFrame({"house_id": pd.Series(dtype=object), "plot_id": pd.Series(dtype=object),
                          "area_m2": pd.Series(dtype=float)})
    if ctx.plots is None:
        return empty
    hi, pi, area = pair_areas(shapes, ctx.plots)
    if len(hi) == 0:
        return empty
    ids = plot_ids[pi] if plot_ids is not None else pi + 1
    return pd.DataFrame({"house_id": house_ids[hi], "plot_id": ids, "area_m2": area})


def _plot_area_text(house_ids: pd.Series, plot_areas: pd.DataFrame) -> pd.Series:
    """'P1:12.50;P2:3.20' per house (plots in id order): the plot areas in one readable column."""
    if plot_areas.empty:
        return pd.Series("", index=house_ids.index, dtype="str")
    ordered = plot_areas.assign(_key=plot_areas["plot_id"].astype(str)).sort_values(["house_id", "_key"])
    text = (ordered.assign(t=ordered["_key"] + ":" + ordered["area_m2"].round(2).map("{:.2f}".format))
            .groupby("house_id")["t"].agg(";".join))
    return house_ids.map(text).fillna("")


__all__ = ["RESULT_COLUMNS", "CheckInputs", "CheckResult", "check", "decide", "same_crs"]
