"""`redline check`: stateless file in → file out, any OGR input, output format from the extension."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyproj import CRS

from gis.collector import cycle_collector_paused
from gis.engine import CheckInputs, CheckResult, check
from gis.errors import RedlineInputError
from gis.fields import names, renamed
from gis.kernels import warm_up
from gis.rules import RuleSet
from gis.sources import read_footprints, read_source, read_table

OUTPUT_FORMATS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV",
                  ".parquet": "Parquet"}


@dataclass(frozen=True)
class CheckFiles:
    """Paths of the layers of one check; only houses and farmland are required."""

    houses: Path
    farmland: Path
    cultivated: Path | None = None
    baseline: Path | None = None
    approvals: Path | None = None
    households: Path | None = None
    plots: Path | None = None


def _fields(id_field: str | None) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per input layer, the fields the engine reads and what deliveries call them (`gis.fields`)."""
    houses = names("houses", "house_id", "built_on", "household_id", "use")
    if id_field:
        houses["house_id"] = (id_field,)
    return {"houses": houses, "farmland": {}, "cultivated": names("dltb", "dlbm"), "baseline": {},
            "approvals": names("approvals", "approved_on", "kind", "approved_area_m2", "household_id"),
            "plots": names("plots", "plot_id"),
            "households": names("households", "household_id", "homesteads_elsewhere")}


def read_inputs(files: CheckFiles, *, id_field: str | None = None, src_crs: str | None = None) -> CheckInputs:
    """Read and normalise every input layer to the engine's column names. Houses in WKB GeoParquet stay as the
    file's bytes (`gis.footprints.Footprints`): the engine decodes only the footprints it must."""
    wanted = _fields(id_field)
    footprints = read_footprints(files.houses, src_crs=src_crs)
    houses = renamed(footprints.frame if footprints is not None else read_source(files.houses, src_crs=src_crs),
                     wanted["houses"])
    if "house_id" not in houses.columns:
        if id_field:
            raise RedlineInputError(f"no field {id_field!r}", source=str(files.houses), field=id_field)
        houses["house_id"] = houses["_row"]
    if houses["house_id"].isna().any():
        row = int(houses.loc[houses["house_id"].isna(), "_row"].iloc[0])
        raise RedlineInputError("empty id", source=str(files.houses), row=row, field="house_id")

    def layer(name: str) -> gpd.GeoDataFrame | None:
        path = getattr(files, name)
        return None if path is None else renamed(read_source(path, src_crs=src_crs), wanted[name])

    cultivated = layer("cultivated")
    if cultivated is not None and "dlbm" not in cultivated.columns:
        raise RedlineInputError("no DLBM field", source=str(files.cultivated), field="DLBM")
    households = None
    if files.households is not None:
        households = renamed(read_table(files.households), wanted["households"])
    return CheckInputs(
        houses=footprints.with_frame(houses) if footprints is not None else houses,
        farmland=layer("farmland"),  # type: ignore[arg-type]
        cultivated=cultivated,
        baseline=layer("baseline"),
        approvals=layer("approvals"),
        households=households,
        plots=layer("plots"),
    )


def _renamed(frame: Any, wanted: dict[str, tuple[str, ...]]) -> Any:
    """`gis.fields.renamed` for a GeoDataFrame or a dask GeoDataFrame (keeping partition bounds); an
    optional layer that was not given (None) stays None."""
    if frame is None:
        return None
    if isinstance(frame, pd.DataFrame):
        return renamed(frame, wanted)
    renames = {old: new for old, new in zip(frame.columns, renamed(frame._meta, wanted).columns,
                                            strict=True) if old != new}
    if not renames:
        return frame
    out = frame.rename(columns=renames)
    out.spatial_partitions = frame.spatial_partitions
    return out


def _load_any(path: Path | None, src_crs: str | None) -> Any:
    """A partitioned GeoParquet folder as a dask GeoDataFrame, any other source as a GeoDataFrame."""
    if path is None:
        return None
    if path.is_dir() and any(path.glob("*.parquet")):
        from gis.partitioned import read_partitions

        return read_partitions(path)
    return read_source(path, src_crs=src_crs)


def run_check_distributed(files: CheckFiles, out: Path, rules: RuleSet, *, client: Any, crs: str | None = None,
                          id_field: str | None = None, src_crs: str | None = None,
                          progress: Callable[[int], None] | None = None, npartitions: int = 16) -> CheckResult:
    """The same check on a Dask cluster (`client`): inputs may be partitioned GeoParquet folders.

    An `out` without an extension is a folder: the workers write the result there as partitioned
    GeoParquet (`part.NNNNN.parquet`; plot areas beside it, in `<folder>_plot_areas.csv`) instead of sending every
    footprint back to this process — the form for a province.
    """
    from gis.partitioned import check_partitioned

    wanted = _fields(id_field)
    houses = _renamed(_load_any(files.houses, src_crs), wanted["houses"])
    if "house_id" not in houses.columns:
        raise RedlineInputError("no id field (give --id-field)", source=str(files.houses), field="house_id")
    layers = {name: _renamed(_load_any(getattr(files, name), src_crs), wanted[name])
              for name in ("farmland", "cultivated", "baseline", "approvals", "plots")}
    households = None
    if files.households is not None:
        households = renamed(read_table(files.households), wanted["households"])
    folder = is_folder_output(out)
    result = check_partitioned(houses, layers, households=households, rules=rules, crs=crs, client=client,
                               npartitions=npartitions, progress=progress, out_dir=out if folder else None)
    if folder:
        if not result.plot_areas.empty:  # beside the folder: inside, it would spoil the dataset
            result.plot_areas.to_csv(out.with_name(out.name + "_plot_areas.csv"), index=False)
    else:
        write_result(result, out)
    return result


def is_folder_output(out: Path) -> bool:
    """An output path without an extension names a folder of result partitions (Dask runs only)."""
    return out.suffix == "" or out.is_dir()


#: GeoParquet's names of the geometry types, by WKB type code (shapely's type id + 1).
GEOPARQUET_TYPES = {1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
                    6: "MultiPolygon", 7: "GeometryCollection"}


def wkb_geometry_types(wkb: pa.Array | pa.ChunkedArray) -> list[str]:
    """GeoParquet's names of the geometry types in a WKB column, read from each value's header (byte order, then
    the type code) without decoding a geometry. ISO codes (1003: a Polygon Z) and EWKB flags name the plain type."""
    chunks = wkb.chunks if isinstance(wkb, pa.ChunkedArray) else [wkb]
    codes = [_wkb_type_codes(chunk) for chunk in chunks if len(chunk)]
    found = np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    return sorted(GEOPARQUET_TYPES[int(t)] for t in found if int(t) in GEOPARQUET_TYPES)


def _wkb_type_codes(array: pa.Array) -> np.ndarray:
    """The plain WKB type code (1 Point … 7 GeometryCollection) of every value at least a header long."""
    offset_type = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=offset_type)[array.offset:array.offset + len(array) + 1]
    starts = offsets[:-1].astype(np.int64)
    present = np.diff(offsets) >= 5
    if array.null_count:
        present &= array.is_valid().to_numpy(zero_copy_only=False)
    starts = starts[present]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8) if len(starts) else np.zeros(0, dtype=np.uint8)
    byte = [data[starts + k].astype(np.uint32) for k in range(5)]
    code = np.where(byte[0] == 1, byte[1] | byte[2] << 8 | byte[3] << 16 | byte[4] << 24,
                    byte[4] | byte[3] << 8 | byte[2] << 16 | byte[1] << 24)
    return np.flatnonzero(np.bincount((code & 0x0FFFFFFF) % 1000))


def write_geoparquet(frame: pd.DataFrame, out: Path, wkb: pa.Array, crs: CRS | None, bbox: list[float]) -> None:
    """Write GeoParquet 1.1: `frame`'s columns and the footprints' WKB as `geometry` (the CRS as PROJJSON, the
    bounding box and the geometry types in the `geo` metadata, as the specification and geopandas write it)."""
    # The columns as they are (copy=False): merging the result's ~20 columns into pandas' 2-D blocks first copied
    # ~150 MB per million houses (0.3–0.5 s of a `redline check`) only to split them into Arrow columns again.
    table = pa.Table.from_pandas(pd.DataFrame(dict(frame.items()), copy=False), preserve_index=False)
    table = table.append_column("geometry", wkb)
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": wkb_geometry_types(wkb), "bbox": bbox,
                              "crs": crs.to_json_dict() if crs is not None else None}
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": json.dumps(geo)}), out)


def write_result(result: CheckResult, out: Path) -> None:
    """Write per-house results to `out` in the format its extension names (plot areas beside, in GPKG).
    GeoParquet carries each footprint as its input file's bytes where the check kept it as read
    (`gis.footprints.HouseShapes.wkb`)."""
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise RedlineInputError(f"unknown output format {suffix!r}; use one of {', '.join(OUTPUT_FORMATS)}",
                                source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        table = result.table.assign(house_id=result.table["house_id"].astype(str))
        shapes = result.footprints
        wkb = shapes.wkb() if shapes is not None else None
        if shapes is None or wkb is None:
            geoms = result.houses.geometry.to_numpy()
            wkb = pa.array(shapely.to_wkb(geoms), type=pa.binary())
            present = ~shapely.is_missing(geoms)
            bounds = shapely.total_bounds(geoms) if present.any() else []
        else:
            bounds = [*np.nanmin(shapes.bounds[:, :2], axis=0), *np.nanmax(shapes.bounds[:, 2:], axis=0)] \
                if len(shapes) else []
        write_geoparquet(table.drop(columns="geometry", errors="ignore"), out, wkb, result.crs,
                         [float(v) for v in bounds])
        return
    houses = result.houses.copy()
    houses["house_id"] = houses["house_id"].astype(str)
    if suffix == ".csv":
        frame = pd.DataFrame(houses.drop(columns="geometry"))
        frame["wkt"] = houses.geometry.to_wkt()
        frame.to_csv(out, index=False)
    else:
        if out.exists():
            out.unlink()
        pyogrio.write_dataframe(houses, out, layer="houses" if suffix == ".gpkg" else None,
                                driver=OUTPUT_FORMATS[suffix])
        if suffix == ".gpkg" and not result.plot_areas.empty:
            pyogrio.write_dataframe(result.plot_areas.astype({"house_id": str, "plot_id": str}), out,
                                    layer="plot_areas", driver="GPKG", append=True)


@cycle_collector_paused()
def run_check(files: CheckFiles, out: Path, rules: RuleSet, *, crs: str | None = None, id_field: str | None = None,
              src_crs: str | None = None, progress: Callable[[int], None] | None = None,
              workers: int | None = None) -> CheckResult:
    """Read, check, write; return the result (for the summary). Reading and writing a county's footprints make
    and drop a million geometries as the check does: the cyclic collector waits for all three (`gis.collector`)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        kernels = pool.submit(warm_up)  # loaded from Numba's cache while the files are read (`warm_up`)
        inputs = read_inputs(files, id_field=id_field, src_crs=src_crs)
        kernels.result()
    result = check(inputs, rules, crs=crs, progress=progress, workers=workers)
    write_result(result, out)
    return result
