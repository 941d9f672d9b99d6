"""`redline import` and `redline scan`: layers and leads into the database, cases out of a scan."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from api.cli.base import echo, factory, fail, iso_day, print_problems, print_summary
from api.settings import get_settings
from gis.errors import RedlineInputError


def import_cmd(
    kind: Annotated[str, typer.Argument(help="townships|farmland|dltb|houses|baseline|households|approvals|plots"
                                             "|grids|leads|epoch|abandoned")],
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
    imaged_on: Annotated[str | None, typer.Option(help="epoch: the imagery date, YYYY-MM-DD")] = None,
    surveyed_on: Annotated[str | None, typer.Option(help="houses: the day the survey was made, YYYY-MM-DD, for "
                                                         "rows without their own (DCRQ/调查日期; default: the "
                                                         "import's time)")] = None,
) -> None:
    """Import one layer into the database, in one transaction; re-importing adds nothing.

    A houses survey shows its houses standing on the day it was made (`--surveyed-on`; without it, the import's
    time): a demolition recorded before that day and contradicted by it reopens the case at the next scan.

    KIND `leads` (satellite change polygons with a lead code) creates one case per new lead; KIND `epoch` stores
    the footprints digitised from one imagery pass (`--imaged-on`), to be compared with `redline compare`; KIND
    `grids` the farmland grid (code, name, village); KIND `abandoned` a survey's abandoned-land findings.
    """
    from api.ingest.layers import import_layer

    if surveyed_on is not None and kind != "houses":
        fail(RedlineInputError("--surveyed-on is given with a houses survey only", field="surveyed_on"))
    survey_day = iso_day(surveyed_on, "surveyed_on")
    if kind == "epoch":
        import_epoch_cmd(path, imaged_on, layer=layer, src_crs=src_crs, id_field=id_field, allow_drops=allow_drops,
                         allow_outside=allow_outside_county)
        return

    if kind == "abandoned":
        from api.stewardship.abandoned import import_abandoned

        try:
            read, created = import_abandoned(factory(), path, layer=layer, src_crs=src_crs)
        except RedlineInputError as exc:
            fail(exc)
            return
        echo(f"abandoned: read {read}, new records {created}")
        return

    if kind == "leads":
        from api.ingest.leads import import_leads

        settings = get_settings()
        try:
            leads = import_leads(factory(), path, settings.rules, layer=layer, src_crs=src_crs,
                                 compare_rules=settings.compare_rules, allow_drops=allow_drops)
        except RedlineInputError as exc:
            fail(exc)
            return
        echo(f"leads: read {leads.rows_read}, new cases {leads.created}, already known {leads.existing}, "
             f"the house of an open case (attached to it) {leads.attached}")
        print_problems(leads.problems)
        return

    overrides = {}
    for item in field or []:
        if "=" not in item:
            fail(RedlineInputError(f"--field takes model_column=SOURCE_FIELD, got {item!r}"))
        k, v = item.split("=", 1)
        overrides[k.strip()] = v.strip()
    bar = tqdm(total=0, unit="rows", disable=not sys.stderr.isatty(), desc=f"import {kind}")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        report = import_layer(factory(), kind, path, layer=layer, src_crs=src_crs, id_field=id_field,
                              field_map=overrides, progress=progress, allow_drops=allow_drops,
                              allow_outside=allow_outside_county, surveyed_on=survey_day)
    except RedlineInputError as exc:
        bar.close()
        fail(exc)
        return
    bar.close()
    kept = f", kept {report.kept} (a later survey holds them)" if report.kept else ""
    echo(f"{kind}: read {report.rows_read}, inserted {report.inserted}, updated {report.updated}{kept}, "
          f"repaired {report.repaired}, dropped {report.dropped}")
    print_problems(report.problems)


def scan_cmd(workers: Annotated[int | None, typer.Option(help="threads (default: all cores)")] = None) -> None:
    """Check every stored house and queue one case per violating house (idempotent)."""
    from api.cases.audit import SCAN_ACTOR
    from api.ingest.scan import scan
    from api.stewardship.patrols import follow_waiting_findings

    settings = get_settings()
    sessions = factory()
    report = scan(sessions, settings.rules, workers=workers, compare_rules=settings.compare_rules)
    # Then the patrol findings waiting for a footprint: the survey may have brought their building.
    followed = follow_waiting_findings(sessions, settings.rules, settings.compare_rules, SCAN_ACTOR)
    echo(f"scanned {report.houses} houses: {report.violations} violations; cases created {report.created}, "
          f"updated {report.updated}, no longer violating {report.cleared}; reopened {report.reopened}, growth "
          f"cases {report.grown}, changes of period for the county to decide {report.period_requests}; patrol "
          f"findings that found their building {followed}")
    print_summary(report.result.summary())
    for warning in report.result.warnings:
        echo(f"warning: {warning}")


def import_epoch_cmd(path: Path, imaged_on: str | None, **options: object) -> None:
    from api.ingest.epochs import import_epoch

    day = iso_day(imaged_on, "imaged_on")
    if day is None:
        fail(RedlineInputError("an epoch needs its imagery date: --imaged-on YYYY-MM-DD", field="imaged_on"))
        return
    report = import_epoch(factory(), path, day, **options)  # type: ignore[arg-type]
    echo(f"epoch {day}: read {report.rows_read}, footprints {report.stored}"
         + (" (the same file again: unchanged)" if report.unchanged else ""))
    print_problems(report.problems)


def compare_cmd(
    before: Annotated[str | None, typer.Option("--from", help="the earlier epoch's date (default: the one "
                                                             "before --to)")] = None,
    after: Annotated[str | None, typer.Option("--to", help="the later epoch's date (default: the newest)")] = None,
) -> None:
    """Compare two imagery passes house by house and apply it to the cases: demolitions confirmed, sham
    demolitions reopened, growth and new buildings on farmland or cultivated land opened as cases."""
    from api.cases.audit import IMAGERY_ACTOR
    from api.ingest.imagery import compare_epochs
    from api.stewardship.patrols import follow_waiting_findings

    settings = get_settings()
    sessions = factory()
    report = compare_epochs(sessions, settings.rules, settings.compare_rules, before=iso_day(before, "from"),
                            after=iso_day(after, "to"))
    # Then the patrol findings waiting for a footprint: the pass may show their building.
    followed = follow_waiting_findings(sessions, settings.rules, settings.compare_rules, IMAGERY_ACTOR)
    changes = ", ".join(f"{k} {v}" for k, v in sorted(report.changes.items()))
    echo(f"imagery {report.before} → {report.after}: houses {changes}; new footprints {report.new_footprints}")
    echo(f"demolitions confirmed {report.confirmed}, reopened {report.reopened}, cases for growth "
         f"{report.grown_cases}, cases for new buildings {report.new_cases}, open cases whose building this pass "
         f"shows {report.seen_cases}; patrol findings that found their building {followed}")
