"""The township scoreboard (通报表扬/通报批评): the monthly figures, ranked, in the caller's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.models import User
from api.monthly import figures
from api.settings import Settings
from api.workflow import Role


def scoreboard(session: Session, user: User, month: str, settings: Settings) -> list[dict[str, Any]]:
    """One row per township (only the user's own for township roles), best on-time rate first."""
    township = user.township_code if user.role in (Role.INSPECTOR, Role.TOWNSHIP_OFFICER) else None
    summary = figures(session, month, settings, township).summary
    rows = summary[summary["township_code"] != ""].copy()
    rows["_rate"] = rows["on_time_rate"].astype(float).fillna(100.0)
    rows = rows.sort_values(["_rate", "overdue", "township_code"], ascending=[False, True, True])
    out = []
    for r in rows.to_dict("records"):
        out.append({
            "township_code": r["township_code"], "township_name": r["township_name"],
            "new_cases": int(r["new_cases"]), "new_increments": int(r["new_increments"]), "closed": int(r["closed"]),
            "restored_m2": round(float(r["restored_m2"]), 2), "remaining_m2": round(float(r["remaining_m2"]), 2),
            "overdue": int(r["overdue"]),
            "on_time_rate": None if r["on_time_rate"] is None or r["on_time_rate"] != r["on_time_rate"]
            else float(r["on_time_rate"]),
            "commend": str(r["flag"]).startswith("通报表扬"), "criticise": str(r["flag"]).startswith("通报批评"),
        })
    return out
