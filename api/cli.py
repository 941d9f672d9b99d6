"""The `redline` command line (Typer): database, imports, checks, scans, the demo and the server."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm
from typer.core import TyperGroup

from api.settings import get_settings
from gis.errors import RedlineInputError
from gis.rules import MU_M2, RuleSet

#: Exit statuses: 0 done, 1 the command ran and found a failure (a broken audit chain, a broken photo) or
#: failed inside, 2 bad input (a file, row or field named on the one error line).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
log = logging.getLogger("redline")


class _ErrorsAsOneLine(TyperGroup):
    """Every error a command raises becomes one line on stderr and an exit status — never a traceback.

    Bad input (`RedlineInputError`, `ValueError` from a validator) exits 2 with the message, which names the
    file, row and field. Anything unexpected exits 1 naming only its type: its text may carry SQL
    parameters (a password hash, say); REDLINE_DEBUG=1 re-raises it for a developer.
    """

    def invoke(self, ctx: Any) -> Any:  # typer._click.core.Context (Typer vendors Click)
        try:
            return super().invoke(ctx)
        except (RedlineInputError, ValueError) as exc:
            if hasattr(exc, "exit_code"):  # Click's own usage errors: it prints them itself
                raise
            _error_line(str(exc))
            raise typer.Exit(code=EXIT_BAD_INPUT) from None
        except Exception as exc:
            if hasattr(exc, "exit_code") or os.environ.get("REDLINE_DEBUG") == "1":
                raise  # typer.Exit / Abort / UsageError (Click's control flow), or a developer asking
            _error_line(f"internal error ({type(exc).__name__}); run again with REDLINE_DEBUG=1 for details")
            raise typer.Exit(code=EXIT_FAILED) from None


def _error_line(text: str) -> None:
    typer.secho(f"error: {' '.join(text.split())}", fg=typer.colors.RED, err=True)


def _typer(help: str) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, cls=_ErrorsAsOneLine, pretty_exceptions_enable=False)


app = _typer("Redline: rural houses on farmland — check, queue, track.")
db_app = _typer("Database schema.")
app.add_typer(db_app, name="db")
user_app = _typer("Users and roles.")
app.add_typer(user_app, name="user")
audit_app = _typer("The tamper-evident audit trail.")
app.add_typer(audit_app, name="audit")

DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"
#: The demo county's layers in import order (townships first: houses are located in villages).
DEMO_LAYERS = [("townships", "townships.parquet"), ("dltb", "dltb.parquet"), ("farmland", "farmland.parquet"),
               ("households", "households.csv"), ("houses", "houses.parquet"), ("baseline", "baseline.parquet"),
               ("approvals", "approvals.parquet"), ("plots", "plots.parquet")]


def _echo(text: str) -> None:
    typer.echo(text)


def _advance(bar: tqdm, n: int) -> None:  # type: ignore[type-arg]
    bar.update(n)


def _fail(exc: Exception) -> None:
    """Bad input: one line on stderr, exit status 2."""
    _error_line(str(exc))
    raise typer.Exit(code=EXIT_BAD_INPUT)


def _factory():  # type: ignore[no-untyped-def]
    from api.database import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(get_settings().resolved_database_url))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the schema (SpatiaLite file by default; REDLINE_DATABASE_URL for PostGIS)."""
    from api.database import make_engine
    from api.migrate import upgrade

    url = get_settings().resolved_database_url
    upgrade(make_engine(url), revision)
    _echo(f"database at {revision}: {url}")


@app.command("import")
def import_cmd(
    kind: Annotated[str, typer.Argument(help="townships|farmland|dltb|houses|baseline|households|approvals|plots")],
    path: Annotated[Path, typer.Argument(help="any OGR source: .gpkg, .shp, .zip, .geojson, .parquet, .gdb, .csv")],
    layer: Annotated[str | None, typer.Option(help="layer name in a multi-layer source")] = None,
    src_crs: Annotated[str | None, typer.Option(help="CRS of a source that declares none, e.g. EPSG:4490")] = None,
    id_field: Annotated[str | None, typer.Option(help="the source's own id field (idempotent re-imports)")] = None,
    field: Annotated[list[str] | None, typer.Option(help="map a field: model_column=SOURCE_FIELD (repeatable)")] = None,
    allow_drops: Annotated[bool, typer.Option(help="store the rest even when more than 1% of rows must be dropped")
                           ] = False,
    allow_outside_county: Annotated[bool, typer.Option(help="accept features outside the county's townships "
                                                            "(or its CRS zone): only for data knowingly elsewhere")
                                    ] = False,
) -> None:
    """Import one layer into the database, in one transaction; re-importing adds nothing.

    KIND `leads` (satellite change polygons with a lead code) creates one case per new lead.
    """
    from api.importing import import_layer

    if kind == "leads":
        from api.leads import import_leads

        try:
            leads = import_leads(_factory(), path, get_settings().rules, layer=layer, src_crs=src_crs,
                                 allow_drops=allow_drops)
        except RedlineInputError as exc:
            _fail(exc)
            return
        _echo(f"leads: read {leads.rows_read}, new cases {leads.created}, already known {leads.existing}")
        _print_problems(leads.problems)
        return

    overrides = {}
    for item in field or []:
        if "=" not in item:
            _fail(RedlineInputError(f"--field takes model_column=SOURCE_FIELD, got {item!r}"))
        k, v = item.split("=", 1)
        overrides[k.strip()] = v.strip()
    bar = tqdm(total=0, unit="rows", disable=not sys.stderr.isatty(), desc=f"import {kind}")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        report = import_layer(_factory(), kind, path, layer=layer, src_crs=src_crs, id_field=id_field,
                              field_map=overrides, progress=progress, allow_drops=allow_drops,
                              allow_outside=allow_outside_county)
    except RedlineInputError as exc:
        bar.close()
        _fail(exc)
        return
    bar.close()
    _echo(f"{kind}: read {report.rows_read}, inserted {report.inserted}, updated {report.updated}, "
          f"repaired {report.repaired}, dropped {report.dropped}")
    _print_problems(report.problems)


def _print_problems(problems: Any) -> None:
    """Repairs and drops, one line per reason with its count and first rows (the full list is stored with
    the import run)."""
    from api.importing import summarise_problems

    if problems.empty:
        return
    for part in summarise_problems(problems).split("; "):
        _echo(f"  {part}")


def _rules(cutoff: str | None, min_area: float | None) -> RuleSet:
    s = get_settings()
    try:
        when = dt.date.fromisoformat(cutoff) if cutoff else s.cutoff
    except ValueError:
        _fail(RedlineInputError(f"not an ISO date (YYYY-MM-DD): {cutoff!r}", field="cutoff"))
        raise
    return RuleSet(cutoff=when, min_area_m2=s.min_area_m2 if min_area is None else min_area,
                   homestead_standard_m2=s.homestead_standard_m2)


def _print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    _echo(f"{'disposition':<10} {'houses':>7} {'footprint m²':>14} {'farmland m²':>13} {'farmland 亩':>11} "
          f"{'to demolish m²':>15}")
    for disposition, row in summary.iterrows():
        _echo(f"{disposition:<10} {int(row.houses):>7} {row.footprint_m2:>14.1f} {row.farmland_m2:>13.1f} "
              f"{row.farmland_m2 / MU_M2:>11.2f} {row.unapproved_after_cutoff_m2:>15.1f}")


@app.command("check")
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
    from api.checkfiles import CheckFiles, is_folder_output, run_check, run_check_distributed

    rules = _rules(cutoff, min_area)
    if is_folder_output(out) and workers is None and cluster is None:
        _fail(RedlineInputError("a folder output (partitioned GeoParquet) is written by Dask workers: "
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
                                               src_crs=src_crs, progress=lambda n: _advance(bar, n),
                                               npartitions=partitions)
        else:
            result = run_check(files, out, rules, crs=crs, id_field=id_field, src_crs=src_crs,
                               progress=lambda n: _advance(bar, n), workers=threads)
    except RedlineInputError as exc:
        bar.close()
        _fail(exc)
        return
    bar.close()
    _echo(f"{len(result.houses)} houses checked in {result.houses.crs.name}; results in {out}")
    _print_summary(result.summary())
    _print_problems(result.repairs)
    for warning in result.warnings:
        _echo(f"warning: {warning}")


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


@app.command("partition")
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
        _fail(exc)
        return
    n = write_partitions(frame, out, partitions)
    _echo(f"{len(frame)} features in {n} partitions: {out}")


@app.command("photo-info")
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


@app.command("scan")
def scan_cmd(workers: Annotated[int | None, typer.Option(help="threads (default: all cores)")] = None) -> None:
    """Check every stored house and queue one case per violating house (idempotent)."""
    from api.scanning import scan

    report = scan(_factory(), get_settings().rules, workers=workers)
    _echo(f"scanned {report.houses} houses: {report.violations} violations; cases created {report.created}, "
          f"updated {report.updated}, no longer violating {report.cleared}")
    _print_summary(report.result.summary())
    for warning in report.result.warnings:
        _echo(f"warning: {warning}")


@app.command("export")
def export_cmd(
    month: Annotated[str, typer.Option(help="YYYY-MM (computed as of the end of that month, Asia/Shanghai)")],
    out: Annotated[Path, typer.Option(help="output folder")],
    township: Annotated[str | None, typer.Option(help="12-digit township code (default: the whole county)")] = None,
) -> None:
    """Write the monthly red-line compliance export: xlsx, GeoPackage, GBK Shapefile zip, HTML report, manifest."""
    from api.exporting import export_month
    from api.monthly import check_report_month

    try:
        check_report_month(month)
    except Exception as exc:
        _fail(exc)
    bar = tqdm(total=100, unit="%", disable=not sys.stderr.isatty(), desc=f"export {month}")

    def progress(fraction: float, what: str) -> None:
        bar.set_postfix_str(what)
        bar.n = int(fraction * 100)
        bar.refresh()

    with _factory()() as session:
        result = export_month(session, month, out, get_settings(), township=township, progress=progress)
    bar.close()
    total = result.figures.summary.iloc[-1]
    _echo(f"export {month}: {len(result.figures.cases)} cases, remaining {total['remaining_m2']:.1f} m², "
          f"overdue {int(total['overdue'])}")
    for f in result.files:
        _echo(f"  {f}")


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="inspector | township_officer | county_reviewer | admin")],
    township: Annotated[str | None, typer.Option(help="12-digit township code (township roles)")] = None,
    password: Annotated[str | None, typer.Option(help="default: generated and printed once")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Create a user; prints the password when it was generated."""
    import secrets

    from api.auth import create_user

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with _factory().begin() as session:
            create_user(session, username, password, role, township, name)
    except ValueError as exc:
        _fail(exc)
    _echo(f"user {username} ({role}{', ' + township if township else ''}) created"
          + (f"; password: {password}" if generated else ""))


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Deactivate a user and revoke every token they hold (they are logged out everywhere at once)."""
    from api.auth import disable_user

    try:
        with _factory().begin() as session:
            revoked = disable_user(session, username)
    except ValueError as exc:
        _fail(exc)
        return
    _echo(f"user {username} disabled; {revoked} token(s) revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain; name the first broken link (exit status 1 if any)."""
    from api.audit import verify_chain

    with _factory()() as session:
        report = verify_chain(session)
    if report.ok:
        _echo(f"audit chain intact: {report.events} events")
        return
    typer.secho(f"audit chain BROKEN at event {report.broken_event_id}: {report.reason}", fg=typer.colors.RED,
                err=True)
    raise typer.Exit(code=1)


@app.command("serve")
def serve_cmd(host: str | None = None, port: int | None = None) -> None:
    """Serve the API, the review map (/map) and the field app (/field)."""
    import uvicorn

    s = get_settings()
    uvicorn.run("api.main:create_app", factory=True, host=host or s.host, port=port or s.port, log_level="info")


DEMO_TOWNSHIP = "431021101000"


def demo_users(factory) -> list[str]:  # type: ignore[no-untyped-def]
    """Create one demo user per role (skipping existing ones); return what to print."""
    import secrets

    from sqlalchemy import select

    from api.auth import create_user
    from api.models import User

    wanted = [("admin", "admin", None), ("county", "county_reviewer", None),
              ("township", "township_officer", DEMO_TOWNSHIP), ("inspector", "inspector", DEMO_TOWNSHIP)]
    lines = []
    with factory.begin() as session:
        for username, role, township in wanted:
            if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
                lines.append(f"{username:<10} {role:<17} (exists)")
                continue
            password = secrets.token_urlsafe(9)
            create_user(session, username, password, role, township)
            lines.append(f"{username:<10} {role:<17} password: {password}" + (f"  township {township}" if township
                                                                               else ""))
    return lines


@app.command("demo")
def demo_cmd(
    serve: Annotated[bool, typer.Option(help="serve after loading")] = True,
    port: int | None = None,
) -> None:
    """Create the embedded database, import the demo county, scan it and serve the map."""
    from api.database import make_engine, make_sessionmaker
    from api.importing import import_layer
    from api.migrate import upgrade
    from api.scanning import scan

    s = get_settings()
    engine = make_engine(s.resolved_database_url)
    _echo(f"database: {s.resolved_database_url}")
    upgrade(engine)
    factory = make_sessionmaker(engine)
    for kind, name in DEMO_LAYERS:
        imported = import_layer(factory, kind, DEMO_DIR / name)
        _echo(f"  {kind:<10} {imported.rows_read:>6} rows (new {imported.inserted}, updated {imported.updated})")
    scanned = scan(factory, s.rules)
    _echo(f"scan: {scanned.houses} houses, {scanned.violations} violations, {scanned.created} new cases")
    _print_summary(scanned.result.summary())
    _echo("\nusers (one per role; passwords are shown once, when created):")
    for line in demo_users(factory):
        _echo(f"  {line}")
    if serve:
        port = port or s.port
        _echo(f"\nRedline demo: open http://{s.host}:{port}/map  (API docs: http://{s.host}:{port}/docs)")
        serve_cmd(host=s.host, port=port)


if __name__ == "__main__":  # pragma: no cover
    app()
