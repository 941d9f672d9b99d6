"""The township scoreboard and the overdue list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.http.deps import SessionDep, SettingsDep
from api.http.identity import CurrentUser
from api.reports.monthly import (
    PERIOD_KIND_NAMES,
    PERIOD_PATTERN,
    begun_months,
    check_report_month,
    chosen_period,
    period_kind,
)
from api.reports.scoreboard import scoreboard, trend

router = APIRouter(prefix="/api", tags=["scoreboard"])


@router.get("/scoreboard")
def get_scoreboard(session: SessionDep, user: CurrentUser, settings: SettingsDep,
                   month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])] = None,
                   period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=7,
                                                       description="a month (YYYY-MM), a quarter (YYYY-Qn, 季核) "
                                                                   "or a year (YYYY, 年度评估)",
                                                       examples=["2026-Q4"])] = None) -> dict[str, Any]:
    """Per township: new increments, closed, demolished and remaining area, on-time rate, overdue, flags — for a
    month (`month`, or `period=YYYY-MM`), a quarter or a year (`period`): what happened in it, and what stands at
    its end (now, for the running one).

    A period that has not begun (Asia/Shanghai) is refused with 422, as are a month and a period at once."""
    chosen = chosen_period(month, period)
    kind = period_kind(chosen)
    return {"month": chosen if kind == "month" else None, "period": chosen, "kind": kind,
            "kind_name": PERIOD_KIND_NAMES[kind], "months": begun_months(chosen),
            "townships": scoreboard(session, user, chosen, settings)}


@router.get("/scoreboard/trend")
def get_trend(session: SessionDep, user: CurrentUser, settings: SettingsDep,
              month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])],
              months: Annotated[int, Query(ge=2, le=12)] = 6) -> dict[str, Any]:
    """The last `months` months up to `month`, each as of its end (the county's figures; a township
    user's own township's)."""
    check_report_month(month)
    return {"month": month, "months": trend(session, user, month, settings, months)}
