"""The monthly red-line compliance export: workbook, the national 摸排 table, GIS layers, printable report and
a manifest — and the same package for a quarter (季核, 'YYYY-Qn') or a year (年度评估, 'YYYY'): its figures, its
months laid out, its headers in its own words (本季度, 季末; `api.reports.monthly.worded`).

Everything is computed as of the end of the month (the period) from the case history (`api.cases.history`), and
every file is written byte-for-byte reproducibly (`reproducible`: fixed timestamps inside the xlsx and zip
containers, in the DBF header and in the GeoPackage), so the export of a past month re-run later is identical
except for the manifest's creation time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cases.deadlines import COUNTY_TZ
from api.cases.history import lead_codes_at
from api.db.areas import check_township
from api.db.models import AdminArea
from api.reports.export.cases import case_table
from api.reports.export.layers import write_geopackage, write_shapefile_zip
from api.reports.export.mopai import mopai_table, write_mopai
from api.reports.export.report import write_report
from api.reports.export.reproducible import write_manifest
from api.reports.export.workbook import write_workbook
from api.reports.monthly import MonthFigures, begun_months, figures, period_kind, previous_months
from api.settings import Settings
from api.stewardship.duty import month_duty, township_land

Progress = Callable[[float, str], None]
MONTHS_COMPARED = 12


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: list[Path]
    figures: MonthFigures


def export_month(session: Session, month: str, out_dir: Path, settings: Settings, *, township: str | None = None,
                 progress: Progress | None = None) -> ExportResult:
    """Write the month's export for the county (or one township) into `out_dir`; a township the county does
    not have is refused (InvalidQuery) before anything is written."""
    if township is not None:
        check_township(session, township)

    def step(fraction: float, what: str) -> None:
        if progress:
            progress(fraction, what)

    out_dir.mkdir(parents=True, exist_ok=True)
    step(0.05, "figures")
    fig = figures(session, month, settings, township)
    stamp = fig.as_of.astimezone(COUNTY_TZ)
    names = _names(session, township)
    cases = case_table(fig, names, lead_codes_at(session, fig.cases, fig.as_of))
    history = []
    # A month is compared with the months before it; a quarter or a year lays out its own months (so far).
    compared = previous_months(month, MONTHS_COMPARED) if period_kind(month) == "month" else begun_months(month)
    for i, m in enumerate(compared):
        step(0.1 + 0.5 * i / len(compared), f"month {m}")
        total = figures(session, m, settings, township).summary.iloc[-1]
        history.append({"month": m, **{k: total[k] for k in ("new_cases", "new_increments", "closed", "restored_m2",
                                                             "remaining_m2", "overdue", "on_time_rate")}})
    tag = month.replace("-", "") + (f"_{township}" if township else "")
    files = []
    step(0.65, "workbook")
    duty = month_duty(session, month, settings.patrol_duty)
    land = township_land(session, month)
    if township:
        duty = duty[duty["township_code"] == township]
        land = land[land["township_code"] == township]
    files.append(write_workbook(out_dir / f"redline_{tag}.xlsx", fig, cases, pd.DataFrame(history), stamp,
                                duty=duty, land=land))
    step(0.75, "GIS layers")
    layer = gpd.GeoDataFrame(cases, geometry=fig.cases.geometry.to_numpy(), crs=fig.cases.crs)
    files.append(write_geopackage(out_dir / f"redline_{tag}.gpkg", layer, f"cases_{tag}", stamp))
    files.append(write_shapefile_zip(out_dir / f"redline_{tag}_shp.zip", layer, f"cases_{tag}", stamp))
    step(0.85, "摸排 table")
    files.append(write_mopai(out_dir / f"redline_{tag}_mopai.xlsx", mopai_table(session, fig, names), names, stamp))
    step(0.9, "report")
    files.append(write_report(out_dir / f"redline_{tag}_report.html", fig, cases, layer, session, township,
                              duty=duty, land=land))
    write_manifest(out_dir / "manifest.json", month, township, files)
    step(1.0, "done")
    return ExportResult(out_dir, [*files, out_dir / "manifest.json"], fig)


def _names(session: Session, township: str | None) -> dict[str, str]:
    return dict(session.execute(select(AdminArea.code, AdminArea.name)).all())
