"""The township scoreboard (通报表扬/通报批评): the monthly figures, ranked, in the caller's scope."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.db.models import User
from api.reports.monthly import figures, previous_months
from api.settings import Settings
from api.stewardship.duty import month_duty, township_land


def scoreboard(session: Session, user: User, period: str, settings: Settings) -> list[dict[str, Any]]:
    """One row per township (only the user's own for township roles), ranked by results: fewest new
    increments (遏制新增 comes first), fewest overdue, best on-time rate over the period's deadlines, most
    demolished and restored. `period`: a month (月通报), a quarter (季核) or a year (年度评估); patrols owed and
    done over it (owed once per month of it so far), abandoned land as of its end."""
    township = township_of(user.role, user.township_code)
    summary = figures(session, period, settings, township).summary
    rows = summary[summary["township_code"] != ""].copy()
    rows["_rate"] = pd.to_numeric(rows["on_time_rate"], errors="coerce").fillna(-1.0)
    rows = rows.sort_values(["new_increments", "overdue", "_rate", "restored_m2", "township_code"],
                            ascending=[True, True, False, False, True])
    land = township_land(session, period).set_index("township_code")
    duty = month_duty(session, period, settings.patrol_duty)
    duty = duty[duty["township_code"].notna()].groupby("township_code")[["patrols_required", "patrols_done"]].sum()
    out = []
    for r in rows.to_dict("records"):
        code = r["township_code"]
        abandoned = land.loc[code] if code in land.index else None
        patrols = duty.loc[code] if code in duty.index else None
        out.append({
            "township_code": r["township_code"], "township_name": r["township_name"],
            "new_cases": int(r["new_cases"]), "new_increments": int(r["new_increments"]), "closed": int(r["closed"]),
            "restored_m2": round(float(r["restored_m2"]), 2), "restored_mu": round(float(r["restored_mu"]), 4),
            "rectified_stock": int(r["rectified_stock"]), "reopened": int(r["reopened"]),
            "remaining_m2": round(float(r["remaining_m2"]), 2), "overdue": int(r["overdue"]),
            "due": int(r["due"]), "met": int(r["met"]),
            "on_time_rate": _number(r["on_time_rate"]),
            # 月清: the period's satellite leads checked on site by its end, and every lead still unchecked.
            "leads_received": int(r["leads_received"]), "leads_checked": int(r["leads_checked"]),
            "lead_clearance_rate": _number(r["lead_clearance_rate"]), "leads_unchecked": int(r["leads_unchecked"]),
            "commend": str(r["flag"]).startswith("通报表扬"), "criticise": str(r["flag"]).startswith("通报批评"),
            # 田长制 and abandoned land: what the township's chiefs owe and did, what lies abandoned.
            "abandoned_outstanding_m2": float(abandoned["abandoned_outstanding_m2"]) if abandoned is not None else 0.0,
            "overdue_remedies": int(abandoned["overdue_remedies"]) if abandoned is not None else 0,
            "patrols_required": int(patrols["patrols_required"]) if patrols is not None else 0,
            "patrols_done": int(patrols["patrols_done"]) if patrols is not None else 0,
        })
    return out


def _number(value: object) -> float | None:
    """A figure that may be missing (None or NaN: nothing to divide by) as a float or None."""
    return None if value is None or value != value else float(value)  # type: ignore[arg-type]


#: The trend's figures, per month (the county's total row, or the township's for township users).
TREND_FIGURES = ("new_cases", "new_increments", "closed", "restored_m2", "remaining_m2", "overdue", "on_time_rate")


def trend(session: Session, user: User, month: str, settings: Settings, months: int = 6) -> list[dict[str, Any]]:
    """The months up to `month` (oldest first), each as of its own end: how new increments, closures,
    restoration, the remaining area, overdue cases and the on-time rate moved."""
    township = township_of(user.role, user.township_code)
    out = []
    for m in previous_months(month, months):
        total = figures(session, m, settings, township).summary.iloc[-1]
        row: dict[str, Any] = {"month": m}
        for key in TREND_FIGURES:
            value = _number(total[key])
            row[key] = None if value is None else round(value, 4)
        out.append(row)
    return out
