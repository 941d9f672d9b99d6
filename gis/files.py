"""`redline check`: stateless file in → file out, any OGR input, output format from the extension."""

from __future__ import annotations

import json
from collections.abc import Callable
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

from gis.collector import cycle_collector_paused
from gis.engine import CheckInputs, CheckResult, check
from gis.errors import RedlineInputError
from gis.fields import names, renamed
from gis.geometry import unchanged
from gis.rules import RuleSet
from gis.sources import read_source, read_source_and_wkb, read_table

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


def read_inputs(files: CheckFiles, *, id_field: str | None = None, src_crs: str | None = None
                ) -> tuple[CheckInputs, SourceFootprints | None]:
    """Read and normalise every input layer to the engine's column names; with them the houses' footprints as
    the file encodes them, where it is WKB GeoParquet (`SourceFootprints`)."""
    wanted = _fields(id_field)
    frame, wkb = read_source_and_wkb(files.houses, src_crs=src_crs)
    houses = renamed(frame, wanted["houses"])
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
    footprints = SourceFootprints.of(houses, wkb)
    inputs = CheckInputs(
        houses=houses,
        farmland=layer("farmland"),  # type: ignore[arg-type]
        cultivated=cultivated,
        baseline=layer("baseline"),
        approvals=layer("approvals"),
        households=households,
        plots=layer("plots"),
        houses_wkb=footprints.wkb if footprints is not None else None,
    )
    return inputs, footprints


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


#: GeoParquet's names of the geometry types, by shapely type id.
GEOPARQUET_TYPES = {0: "Point", 1: "LineString", 2: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
                    6: "MultiPolygon", 7: "GeometryCollection"}


@dataclass(frozen=True)
class SourceFootprints:
    """The houses as read from a WKB GeoParquet file: their geometry objects and the file's own encoding of
    them. A footprint the check kept as it was read (same CRS, not repaired) is written out as those very
    bytes: encoding a million footprints again costs about a second and gives the same bytes."""

    house_ids: pd.Index
    geoms: np.ndarray
    wkb: pa.ChunkedArray

    @classmethod
    def of(cls, houses: gpd.GeoDataFrame, wkb: pa.ChunkedArray | None) -> SourceFootprints | None:
        """The footprints of `houses` as read, with `wkb`, their file's encoding of them row for row
        (`gis.sources.read_source_and_wkb`); None where there is no such encoding."""
        if wkb is None or len(wkb) != len(houses) or not (pa.types.is_binary(wkb.type)
                                                          or pa.types.is_large_binary(wkb.type)):
            return None
        return cls(pd.Index(houses["house_id"]), houses.geometry.to_numpy(), wkb)

    def wkb_for(self, house_ids: pd.Series, geoms: np.ndarray) -> pa.Array | pa.ChunkedArray:
        """WKB of `geoms` (the result's footprints of `house_ids`): the source's bytes where the footprint is
        the very object read, freshly encoded elsewhere."""
        pos = self.house_ids.get_indexer(pd.Index(house_ids))
        kept = pos >= 0
        kept[kept] = unchanged(geoms[kept], self.geoms[pos[kept]])
        if kept.all():
            return self.wkb.take(pa.array(pos))
        out = np.empty(len(geoms), dtype=object)
        out[kept] = self.wkb.take(pa.array(pos[kept])).to_numpy(zero_copy_only=False)
        out[~kept] = shapely.to_wkb(geoms[~kept])
        return pa.array(out, type=pa.binary())


def write_geoparquet(frame: gpd.GeoDataFrame, out: Path, wkb: pa.Array | pa.ChunkedArray | None = None) -> None:
    """Write GeoParquet 1.1 (WKB geometry, the CRS as PROJJSON, the bounding box and geometry types in the
    `geo` metadata, as the specification and geopandas write it). `wkb`, when given, is the geometry column
    already encoded (see `SourceFootprints`)."""
    geoms = frame.geometry.to_numpy()
    name = frame.geometry.name
    # The other columns as they are (copy=False): `frame.drop` merged the result's ~20 columns into pandas'
    # 2-D blocks first, copying ~150 MB per million houses (0.3–0.5 s of a `redline check`) only to split
    # them into Arrow columns again.
    others = pd.DataFrame({column: frame[column] for column in frame.columns if column != name}, copy=False)
    table = pa.Table.from_pandas(others, preserve_index=False)
    table = table.append_column(name, wkb if wkb is not None else pa.array(shapely.to_wkb(geoms), type=pa.binary()))
    present = ~shapely.is_missing(geoms)
    types = sorted(GEOPARQUET_TYPES[t] for t in np.unique(shapely.get_type_id(geoms[present])))
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": types,
                              "bbox": [float(v) for v in shapely.total_bounds(geoms)] if present.any() else []}
    column["crs"] = frame.crs.to_json_dict() if frame.crs is not None else None
    geo = {"version": "1.1.0", "primary_column": name, "columns": {name: column}}
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": json.dumps(geo)}), out)


def write_result(result: CheckResult, out: Path, source: SourceFootprints | None = None) -> None:
    """Write per-house results to `out` in the format its extension names (plot areas beside, in GPKG).
    `source`: the houses as read, whose footprint bytes a GeoParquet output may reuse."""
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise RedlineInputError(f"unknown output format {suffix!r}; use one of {', '.join(OUTPUT_FORMATS)}",
                                source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        houses = result.houses.assign(house_id=result.houses["house_id"].astype(str))
        wkb = (source.wkb_for(result.houses["house_id"], houses.geometry.to_numpy())
               if source is not None else None)
        write_geoparquet(houses, out, wkb)
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
    inputs, footprints = read_inputs(files, id_field=id_field, src_crs=src_crs)
    result = check(inputs, rules, crs=crs, progress=progress, workers=workers)
    write_result(result, out, footprints)
    return result
