"""Commands on files that never touch the database: `check`, `partition`, `photo-info`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from api.cli.base import advance, echo, fail, print_problems, print_summary, rules_from
from gis.errors import RedlineInputError


def check_cmd(
    farmland: Annotated[Path, typer.Option(help="permanent basic farmland polygons")],
    houses: Annotated[Path, typer.Option(help="house footprints (id field: id, or --id-field)")],
    out: Annotated[Path, typer.Option(help="output: .gpkg .geojson .csv .parquet, or (on Dask) a folder")],
    cultivated: Annotated[Path | None, typer.Option(help="三调 DLTB parcels with DLBM")] = None,
    baseline: Annotated[Path | None, typer.Option(help="footprints on imagery at the cutoff")] = None,
    approvals: Annotated[Path | None, typer.Option(help="approvals with approved_on")] = None,
    households: Annotated[Path | None, typer.Option(help="household register (household_id)")] = None,
    plots: Annotated[Path | None, typer.Option(help="contracted plots (plot_id)")] = None,
    cutoff: Annotated[str | None, typer.Option(help="cutoff date, inclusive (default 2020-07-03)")] = None,
    min_area: Annotated[float | None, typer.Option(help="smallest overlap that counts, m² (default 1.0)")] = None,
    crs: Annotated[str | None, typer.Option(help="projected CRS for areas (default: the houses' GK zone)")] = None,
    id_field: Annotated[str | None, typer.Option(help="house id field")] = None,
    src_crs: Annotated[str | None, typer.Option(help="CRS of inputs that declare none")] = None,
    threads: Annotated[int | None, typer.Option(help="threads on this machine (default: all cores)")] = None,
    workers: Annotated[int | None, typer.Option(help="run on a local Dask cluster of N worker processes")] = None,
    cluster: Annotated[str | None, typer.Option(help="run on an existing Dask scheduler, e.g. tcp://host:8786")] = None,
    partitions: Annotated[int, typer.Option(help="house partitions when inputs are not partitioned")] = 16,
) -> None:
    """Check house footprints against farmland and cultivated land: file in, file out, no database.

    Inputs may be partitioned GeoParquet folders (`redline partition`) when run on Dask.
    """
    from gis.files import CheckFiles, is_folder_output, run_check, run_check_distributed

    rules = rules_from(cutoff, min_area)
    if is_folder_output(out) and workers is None and cluster is None:
        fail(RedlineInputError("a folder output (partitioned GeoParquet) is written by Dask workers: "
                                "give --workers or --cluster, or an output file (.gpkg .geojson .csv .parquet)",
                                source=str(out)))
        return
    files = CheckFiles(houses=houses, farmland=farmland, cultivated=cultivated, baseline=baseline,
                       approvals=approvals, households=households, plots=plots)
    distributed = workers is not None or cluster is not None
    bar = tqdm(unit="partitions" if distributed else "houses", disable=not sys.stderr.isatty(), desc="check")
    try:
        if distributed:
            with _dask_client(workers, cluster) as client:
                result = run_check_distributed(files, out, rules, client=client, crs=crs, id_field=id_field,
                                               src_crs=src_crs, progress=lambda n: advance(bar, n),
                                               npartitions=partitions)
        else:
            result = run_check(files, out, rules, crs=crs, id_field=id_field, src_crs=src_crs,
                               progress=lambda n: advance(bar, n), workers=threads)
    except RedlineInputError as exc:
        bar.close()
        fail(exc)
        return
    bar.close()
    echo(f"{len(result.table)} houses checked in {result.crs.name if result.crs else '?'}; results in {out}")
    print_summary(result.summary())
    print_problems(result.repairs)
    for warning in result.warnings:
        echo(f"warning: {warning}")


@contextmanager
def _dask_client(workers: int | None, cluster: str | None) -> Iterator[Any]:
    """A Dask client: on the given scheduler, or on a local cluster of `workers` processes."""
    from distributed import Client, LocalCluster

    if cluster:
        with Client(cluster) as client:
            yield client
        return
    with LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc, \
            Client(lc) as client:
        yield client


def partition_cmd(
    source: Annotated[Path, typer.Argument(help="any OGR source (houses, farmland, DLTB, ...)")],
    out: Annotated[Path, typer.Option(help="output folder of GeoParquet partitions")],
    partitions: Annotated[int, typer.Option(help="number of partitions")] = 16,
    layer: Annotated[str | None, typer.Option(help="layer name in a multi-layer source")] = None,
    src_crs: Annotated[str | None, typer.Option(help="CRS of a source that declares none")] = None,
    crs: Annotated[str | None, typer.Option(help="projected CRS to store (default: the source's GK zone)")] = None,
) -> None:
    """Prepare Hilbert-ordered, spatially partitioned GeoParquet (partition bounds kept) for Dask runs."""
    from gis.crs import to_projected
    from gis.partitioned import write_partitions
    from gis.sources import read_source

    try:
        frame = to_projected(read_source(source, layer=layer, src_crs=src_crs), crs, source=str(source))
    except RedlineInputError as exc:
        fail(exc)
        return
    n = write_partitions(frame, out, partitions)
    echo(f"{len(frame)} features in {n} partitions: {out}")


def photo_info_cmd(files: Annotated[list[Path], typer.Argument(help="photo files")]) -> None:
    """Print each photo's position, bearing and time as one JSON object per line (exit 1 if any is broken)."""
    import json

    from gis.photo_meta import read_meta

    broken = False
    for path in files:
        meta = read_meta(path)
        if meta.error:
            broken = True
            typer.echo(json.dumps({"path": str(path), "error": meta.error}, ensure_ascii=False))
            continue
        out = meta.as_json()
        keep = ("path", "sha256", "lat", "lon", "altitude_m", "bearing_deg", "bearing_ref", "taken_at", "make",
                "model", "bearing_source", "time_source", "gps_accuracy_m")
        typer.echo(json.dumps({k: out[k] for k in keep}, ensure_ascii=False))
    if broken:
        raise typer.Exit(code=1)
