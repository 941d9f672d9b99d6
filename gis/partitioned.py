"""The check engine on Dask (dask-geopandas): spatially partitioned houses, each partition checked against
just the layer partitions it can touch, on a local or remote cluster.

Why it is exact: every house lies in exactly one house partition (houses are assigned whole, never clipped),
and every layer polygon that meets a house lies in a layer partition whose bounding box meets that house
partition's bounding box. So each partition's run sees every polygon that matters to its houses, each house
is measured once, and the result equals the single-machine run.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.engine import (
    OTHER_HOMESTEADS,
    CheckInputs,
    CheckResult,
    check,
    home_counts,
    homestead_register,
    other_homesteads,
    others_from_counts,
    projected_layer,
    with_row_numbers,
    working_crs,
)
from gis.rules import RuleSet

LAYERS = ("farmland", "cultivated", "baseline", "approvals", "plots")
ORDER = "_order"


def _dgpd() -> Any:
    import dask_geopandas  # a heavy import, needed only on this path

    return dask_geopandas


def partition_frame(gdf: gpd.GeoDataFrame, npartitions: int) -> Any:
    """A Hilbert-ordered dask GeoDataFrame with known partition bounds (empty geometries left out: they
    have no place on the curve, and the engine would drop them anyway).

    The frame is in memory already, so it is ordered and cut here, in equal runs along the curve (16 levels
    over its total bounds, as dask-geopandas' `spatial_shuffle`), and each run's convex hull is its
    partition's bounds. `spatial_shuffle` sorted it through the cluster instead: a distributed shuffle, run
    again for the bounds and again for the check, 20 s before the first partition of a 12 000-house county
    was checked on a local two-worker cluster. The index is the Hilbert distance, as `spatial_shuffle` left it.
    """
    import dask
    import dask.dataframe as dd

    _dgpd()  # registers the GeoDataFrame collection: the frame below is a dask-geopandas one
    geoms = gdf.geometry.to_numpy()
    gdf = gdf[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    count = max(1, min(npartitions, len(gdf) or 1))
    if len(gdf):
        distance = gdf.geometry.hilbert_distance(level=16).to_numpy()
        order = np.argsort(distance, kind="stable")
        gdf = gdf.iloc[order].set_axis(pd.Index(distance[order], name="hilbert_distance"))
    edges = np.linspace(0, len(gdf), count + 1).astype(int)
    runs = [gdf.iloc[start:end] for start, end in pairwise(edges)]
    frame = dd.from_delayed([dask.delayed(run) for run in runs], meta=gdf.iloc[:0], verify_meta=False)
    frame.spatial_partitions = gpd.GeoSeries(
        [shapely.convex_hull(shapely.geometrycollections(run.geometry.to_numpy())) for run in runs], crs=gdf.crs)
    return frame


def write_partitions(gdf: gpd.GeoDataFrame, out_dir: Path, npartitions: int) -> int:
    """`redline partition`: write spatially partitioned GeoParquet (one file per partition, with bounds).

    Features without geometry are left out (the engine would drop them); `_row` keeps source row numbers.
    """
    frame = partition_frame(with_row_numbers(gdf), npartitions)
    frame.to_parquet(out_dir)
    return int(frame.npartitions)


def read_partitions(path: Path) -> Any:
    """A partitioned GeoParquet folder as a dask GeoDataFrame (partition bounds from its metadata)."""
    frame = _dgpd().read_parquet(path)
    if frame.spatial_partitions is None:
        frame.calculate_spatial_partitions()
    return frame


def _check_partition(houses: gpd.GeoDataFrame, layers: dict[str, list[gpd.GeoDataFrame]],
                     households: pd.DataFrame | None, rules: RuleSet, crs: str,
                     out_path: str | None = None) -> CheckResult:
    """Run the pure engine on one house partition and the layer partitions it can touch.

    With `out_path` the worker writes the partition's result there (GeoParquet) and sends back only its
    attributes: shipping every footprint back to the client is most of what Dask costs otherwise.
    """
    parts: dict[str, gpd.GeoDataFrame | None] = {}
    house_tree = shapely.STRtree(houses.geometry.to_numpy())
    for name, pieces in layers.items():
        pieces = [p for p in pieces if len(p)]
        if not pieces:
            parts[name] = None
            continue
        layer = gpd.GeoDataFrame(pd.concat(pieces, ignore_index=True), crs=pieces[0].crs)
        # Partition boxes along a Hilbert curve are loose: keep only polygons whose box meets a house's.
        near = np.unique(house_tree.query(layer.geometry.to_numpy())[0])
        parts[name] = layer.iloc[near]
    farmland = parts.get("farmland")
    if farmland is None:
        farmland = gpd.GeoDataFrame({"_row": []}, geometry=[], crs=houses.crs)
    inputs = CheckInputs(houses=houses, farmland=farmland, cultivated=parts.get("cultivated"),
                         baseline=parts.get("baseline"), approvals=parts.get("approvals"), households=households,
                         plots=parts.get("plots"))
    result = check(inputs, rules, crs=crs, workers=1)
    order = houses.set_index("house_id")[ORDER].reindex(result.houses["house_id"]).to_numpy()
    if out_path is not None:
        result.houses.iloc[np.argsort(order, kind="stable")].to_parquet(out_path)
        result.houses = pd.DataFrame(result.houses.drop(columns="geometry"))  # type: ignore[assignment]
    result.houses[ORDER] = order
    return result


def check_partitioned(houses: Any, layers: dict[str, Any], *, households: pd.DataFrame | None = None,
                      rules: RuleSet, crs: CRS | str | int | None = None, client: Any = None,
                      npartitions: int = 16, retries: int = 2,
                      progress: Callable[[int], None] | None = None, out_dir: Path | None = None) -> CheckResult:
    """Check houses (a GeoDataFrame or a partitioned dask GeoDataFrame) on a Dask cluster.

    `layers` maps farmland/cultivated/baseline/approvals/plots to GeoDataFrames or dask GeoDataFrames.
    `client` is a `distributed.Client` (local or remote); without one, Dask's threaded scheduler runs it.
    A lost worker's tasks are retried (`retries`); the result is the same as `gis.engine.check`.
    With `out_dir` (a folder every worker can write, like the input partitions) each worker writes its
    partition's result as `part.NNNNN.parquet` there, and the returned houses carry no geometry.
    """
    import dask

    if isinstance(houses, gpd.GeoDataFrame):
        work_crs = CRS.from_user_input(crs) if crs is not None else working_crs(houses, None)
        houses = projected_layer(houses, "houses", work_crs)
        houses = houses.assign(**{ORDER: np.arange(len(houses)),
                                  OTHER_HOMESTEADS: other_homesteads(houses, households)})
        geoms = houses.geometry.to_numpy()
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        dropped = pd.DataFrame({"source": "houses", "row": houses.loc[empty, "_row"].astype(int).to_numpy(),
                                "field": "geometry", "action": "dropped", "reason": "empty or missing geometry"})
        house_parts = partition_frame(houses, npartitions)
    else:
        dropped = pd.DataFrame(columns=["source", "row", "field", "action", "reason"])
        house_parts = houses
        meta = house_parts._meta
        if "household_id" in meta.columns and OTHER_HOMESTEADS not in meta.columns:
            house_parts = _with_household_counts(house_parts, households)
            meta = house_parts._meta
        if ORDER not in meta.columns:
            house_parts = house_parts.map_partitions(lambda p: p.assign(**{ORDER: p["_row"].to_numpy()}))
            house_parts.spatial_partitions = houses.spatial_partitions
        bounds = house_parts.total_bounds.compute()
        sample = gpd.GeoDataFrame(geometry=[shapely.box(*bounds)], crs=meta.crs)
        work_crs = CRS.from_user_input(crs) if crs is not None else working_crs(sample, None)
    crs_text = work_crs.to_wkt()

    # Partitioned layers (folders) are matched to house partitions by their partition boxes; a layer given
    # in memory is simply cut per house partition box through an STRtree (a Dask shuffle of it would cost
    # more than the whole check).
    layer_parts: dict[str, Any] = {}
    in_memory: dict[str, tuple[gpd.GeoDataFrame, shapely.STRtree]] = {}
    for name in LAYERS:
        layer = layers.get(name)
        if isinstance(layer, gpd.GeoDataFrame):
            layer = projected_layer(layer, name, work_crs)  # numbered as a whole, for repair reports
            in_memory[name] = (layer, shapely.STRtree(layer.geometry.to_numpy()))
        elif layer is not None:
            layer_parts[name] = layer

    house_boxes = _boxes(house_parts, work_crs)
    house_delayed = house_parts.to_delayed()
    layer_boxes = {n: _boxes(p, work_crs) for n, p in layer_parts.items()}
    layer_delayed = {n: p.to_delayed() for n, p in layer_parts.items()}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for old in out_dir.glob("part.*.parquet"):  # a re-run replaces the previous result, never mixes
            old.unlink()
    tasks = []
    for i, box in enumerate(house_boxes):
        touching = {}
        for name, boxes in layer_boxes.items():
            hit = np.flatnonzero(shapely.intersects(boxes, box))
            touching[name] = [layer_delayed[name][j] for j in hit]
        for name, (frame, tree) in in_memory.items():
            touching[name] = [frame.iloc[np.sort(tree.query(box))]]
        out_path = str(out_dir / f"part.{i:05d}.parquet") if out_dir is not None else None
        tasks.append(dask.delayed(_check_partition)(house_delayed[i], touching, households, rules, crs_text,
                                                    out_path))

    if client is not None:
        from distributed import as_completed

        futures = client.compute(tasks, retries=retries)
        for _done in as_completed(futures):
            if progress is not None:
                progress(1)
        results = client.gather(futures)
    else:
        results = list(dask.compute(*tasks, scheduler="threads"))
        if progress is not None:
            progress(len(results))
    merged = _merge(results, work_crs)
    if len(dropped):
        merged.repairs = pd.concat([dropped, merged.repairs], ignore_index=True)
    return merged


def _with_household_counts(parts: Any, households: pd.DataFrame | None) -> Any:
    """Add each house's other homesteads, counted across all partitions (one pass over household ids; homes
    only, as `gis.engine.home_counts` counts them)."""
    counts = parts.map_partitions(home_counts, meta=("count", "int64")).compute().groupby(level=0).sum()
    register = homestead_register(households)

    def add(p: pd.DataFrame) -> pd.DataFrame:
        return p.assign(**{OTHER_HOMESTEADS: others_from_counts(p["household_id"], counts, register)})

    out = parts.map_partitions(add)
    out.spatial_partitions = parts.spatial_partitions
    return out


def _boxes(frame: Any, crs: CRS) -> np.ndarray:
    """Partition bounding boxes in the working CRS."""
    parts = frame.spatial_partitions
    if parts is None:
        frame.calculate_spatial_partitions()
        parts = frame.spatial_partitions
    boxes = gpd.GeoSeries(parts, crs=frame.crs)
    if boxes.crs is not None and not CRS.from_user_input(boxes.crs).equals(crs):
        boxes = boxes.to_crs(crs)
    return boxes.to_numpy()


def _merge(results: list[CheckResult], crs: CRS) -> CheckResult:
    houses = pd.concat([r.houses for r in results], ignore_index=True).sort_values(ORDER, kind="stable")
    houses = houses.drop(columns=ORDER).reset_index(drop=True)
    if "geometry" not in houses.columns:  # the workers wrote the footprints; only attributes came back
        houses["geometry"] = None
    houses = gpd.GeoDataFrame(houses, geometry="geometry", crs=crs)
    plots = pd.concat([r.plot_areas for r in results], ignore_index=True)
    repairs = pd.concat([r.repairs for r in results], ignore_index=True).drop_duplicates()
    return CheckResult(houses=houses, plot_areas=plots, repairs=repairs.reset_index(drop=True))
