"""What every command shares: one error line and an exit status instead of a traceback, output, the database.

Exit statuses: 0 done, 1 the command ran and found a failure (a broken audit chain, a broken photo) or failed
inside, 2 bad input (a file, row or field named on the one error line).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

import typer
from tqdm import tqdm
from typer.core import TyperGroup

from api.settings import get_settings
from gis.errors import RedlineInputError
from gis.rules import MU_M2, RuleSet

#: Exit statuses (see the module docstring).
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
            error_line(str(exc))
            raise typer.Exit(code=EXIT_BAD_INPUT) from None
        except Exception as exc:
            if hasattr(exc, "exit_code") or os.environ.get("REDLINE_DEBUG") == "1":
                raise  # typer.Exit / Abort / UsageError (Click's control flow), or a developer asking
            error_line(f"internal error ({type(exc).__name__}); run again with REDLINE_DEBUG=1 for details")
            raise typer.Exit(code=EXIT_FAILED) from None


def error_line(text: str) -> None:
    typer.secho(f"error: {' '.join(text.split())}", fg=typer.colors.RED, err=True)


def typer_app(help: str) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, cls=_ErrorsAsOneLine, pretty_exceptions_enable=False)


def echo(text: str) -> None:
    typer.echo(text)


def advance(bar: tqdm, n: int) -> None:  # type: ignore[type-arg]
    bar.update(n)


def fail(exc: Exception) -> None:
    """Bad input: one line on stderr, exit status 2."""
    error_line(str(exc))
    raise typer.Exit(code=EXIT_BAD_INPUT)


def factory():  # type: ignore[no-untyped-def]
    """The session factory of the configured database, in the configured county CRS."""
    from api.db.engine import open_database

    settings = get_settings()
    return open_database(settings.resolved_database_url, settings.srid, write_wait_s=settings.write_wait_s)


def print_problems(problems: Any) -> None:
    """Repairs and drops, one line per reason with its count and first rows (the full list is stored with
    the import run)."""
    from gis.geometry import summarise_problems

    if problems.empty:
        return
    for part in summarise_problems(problems).split("; "):
        echo(f"  {part}")


def iso_day(text: str | None, option: str) -> dt.date | None:
    """A day given on the command line (YYYY-MM-DD), None when not given; anything else is one line naming the
    option, exit 2."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(RedlineInputError(f"not an ISO date (YYYY-MM-DD): {text!r}", field=option))
        raise


def rules_from(cutoff: str | None, min_area: float | None) -> RuleSet:
    s = get_settings()
    when = iso_day(cutoff, "cutoff") or s.cutoff
    return RuleSet(cutoff=when, min_area_m2=s.min_area_m2 if min_area is None else min_area,
                   homestead_standard_m2=s.homestead_standard_m2)


def print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    echo(f"{'disposition':<10} {'houses':>7} {'footprint m²':>14} {'farmland m²':>13} {'farmland 亩':>11} "
          f"{'to demolish m²':>15}")
    for disposition, row in summary.iterrows():
        echo(f"{disposition:<10} {int(row.houses):>7} {row.footprint_m2:>14.1f} {row.farmland_m2:>13.1f} "
              f"{row.farmland_m2 / MU_M2:>11.2f} {row.unapproved_after_cutoff_m2:>15.1f}")
