"""`redline export`: the monthly red-line compliance export of the county or one township."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from api.cli.base import echo, factory, fail
from api.settings import get_settings


def export_cmd(
    month: Annotated[str, typer.Option(help="YYYY-MM (computed as of the end of that month, Asia/Shanghai)")],
    out: Annotated[Path, typer.Option(help="output folder")],
    township: Annotated[str | None, typer.Option(help="12-digit township code (default: the whole county)")] = None,
) -> None:
    """Write the monthly red-line compliance export: xlsx, GeoPackage, GBK Shapefile zip, HTML report, manifest."""
    from api.reports.export import export_month
    from api.reports.monthly import check_report_month

    try:
        check_report_month(month)
    except Exception as exc:
        fail(exc)
    bar = tqdm(total=100, unit="%", disable=not sys.stderr.isatty(), desc=f"export {month}")

    def progress(fraction: float, what: str) -> None:
        bar.set_postfix_str(what)
        bar.n = int(fraction * 100)
        bar.refresh()

    with factory()() as session:
        result = export_month(session, month, out, get_settings(), township=township, progress=progress)
    bar.close()
    total = result.figures.summary.iloc[-1]
    echo(f"export {month}: {len(result.figures.cases)} cases, remaining {total['remaining_m2']:.1f} m², "
          f"overdue {int(total['overdue'])}")
    for f in result.files:
        echo(f"  {f}")
