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
    out: Annotated[Path, typer.Option(help="output folder")],
    month: Annotated[str | None, typer.Option(help="YYYY-MM (computed as of the end of that month, Asia/Shanghai)")
                     ] = None,
    period: Annotated[str | None, typer.Option(help="instead of --month: YYYY-Qn (季核) or YYYY (年度评估), as of "
                                                    "its end; what happened in its months")] = None,
    township: Annotated[str | None, typer.Option(help="12-digit township code (default: the whole county)")] = None,
) -> None:
    """Write the red-line compliance export of a month, a quarter or a year: xlsx, GeoPackage, GBK Shapefile zip,
    摸排 table, HTML report, manifest."""
    from api.errors import InvalidQuery
    from api.reports.export import export_month
    from api.reports.monthly import chosen_period

    try:
        month = chosen_period(month, period)
    except Exception as exc:
        fail(exc)
        return
    bar = tqdm(total=100, unit="%", disable=not sys.stderr.isatty(), desc=f"export {month}")

    def progress(fraction: float, what: str) -> None:
        bar.set_postfix_str(what)
        bar.n = int(fraction * 100)
        bar.refresh()

    with factory()() as session:
        try:
            result = export_month(session, month, out, get_settings(), township=township, progress=progress)
        except InvalidQuery as exc:
            bar.close()
            fail(exc)
    bar.close()
    total = result.figures.summary.iloc[-1]
    echo(f"export {month}: {len(result.figures.cases)} cases, remaining {total['remaining_m2']:.1f} m², "
          f"overdue {int(total['overdue'])}")
    for f in result.files:
        echo(f"  {f}")


def dossier_cmd(
    case_code: Annotated[str | None, typer.Argument(help="the case code, e.g. RL-431021101000-H017606")] = None,
    out: Annotated[Path | None, typer.Option(help="the PDF to write (a .zip with --township)")] = None,
    township: Annotated[str | None, typer.Option(help="12-digit township code: every case of the month or period")
                        ] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM, with --township")] = None,
    period: Annotated[str | None, typer.Option(help="YYYY-MM, YYYY-Qn or YYYY (月清/季核/年度评估), with --township")
                      ] = None,
) -> None:
    """Write the case dossier (案件档案, A4 PDF in Chinese), or a zip of a township's dossiers for a month, a
    quarter or a year."""
    from api.errors import InvalidQuery, NotFound
    from api.reports.dossier import case_id_of, dossier_pdf, dossier_zip
    from api.reports.monthly import chosen_period

    settings = get_settings()
    if (case_code is None) == (township is None):
        fail(ValueError("give a case code, or --township with --month or --period (not both)"))
    try:
        sessions = factory()
        if case_code is not None:
            if month is not None or period is not None:
                fail(ValueError("--month and --period go with --township, not with a case code"))
            with sessions() as session:
                case_id = case_id_of(session, case_code)
            dossier = dossier_pdf(sessions, case_id, settings)
            target = out or Path(dossier.name)
            target.write_bytes(dossier.pdf)
            echo(f"dossier {case_code}: {target} ({len(dossier.pdf) // 1024} KiB)")
            return
        assert township is not None
        chosen = chosen_period(month, period)
        target = out or Path(f"dossiers_{township}_{chosen.replace('-', '')}.zip")
        codes = dossier_zip(sessions, township, chosen, settings, target)
        echo(f"dossiers {township} {chosen}: {len(codes)} cases in {target}")
    except (NotFound, InvalidQuery) as exc:
        fail(ValueError(str(exc)))
