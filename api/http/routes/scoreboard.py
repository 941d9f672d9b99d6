"""The township scoreboard and the overdue list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.http.deps import SessionDep, SettingsDep
from api.http.identity import CurrentUser
from api.reports.monthly import check_report_month
from api.reports.scoreboard import scoreboard, trend

router = APIRouter(prefix="/api", tags=["scoreboard"])


@router.get("/scoreboard")
def get_scoreboard(session: SessionDep, user: CurrentUser, settings: SettingsDep,
                   month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])]) -> dict[str, Any]:
    """Per township: new increments, closed, demolished and remaining area, on-time rate, overdue, flags.

    A month that has not begun (Asia/Shanghai) is refused with 422."""
    check_report_month(month)
    return {"month": month, "townships": scoreboard(session, user, month, settings)}


@router.get("/scoreboard/trend")
def get_trend(session: SessionDep, user: CurrentUser, settings: SettingsDep,
              month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])],
              months: Annotated[int, Query(ge=2, le=12)] = 6) -> dict[str, Any]:
    """The last `months` months up to `month`, each as of its end (the county's figures; a township
    user's own township's)."""
    check_report_month(month)
    return {"month": month, "months": trend(session, user, month, settings, months)}
