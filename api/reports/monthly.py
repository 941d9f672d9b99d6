"""Monthly figures per township, as of the end of a month (from the case history).

One computation serves the scoreboard (`/api/scoreboard`) and the monthly export, so the numbers an
official sees on screen are the ones filed upward.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from api.cases.deadlines import COUNTY_TZ, DeadlinePolicy
from api.cases.history import lead_arrivals, snapshot
from api.cases.milestones import deadlines_due_of, deadlines_of
from api.cases.workflow import INCREMENT_PERIODS, Status, awaited_level
from api.clock import utcnow
from api.db.models import Case
from api.errors import InvalidQuery, Message
from api.ingest.farmland_totals import totals_as_of, townships
from api.settings import Settings
from gis.rules import MU_M2

#: The summary columns, in order, with their Chinese headers and units (the workbook uses these).
SUMMARY_COLUMNS: dict[str, str] = {
    "township_code": "乡镇代码",
    "township_name": "乡镇名称",
    "farmland_m2": "永久基本农田面积 (m²)",
    "occupied_m2": "房屋占用面积 合计 (m²)",
    "occupied_stock_m2": "其中存量 (m²)",
    "occupied_increment_m2": "其中增量 (m²)",
    "new_cases": "本月新增案件 (件)",
    "new_increments": "其中新增增量 (件)",
    "closed": "本月办结 (件)",
    "demolished_reported": "本月上报拆除 (件)",
    "demolished_confirmed": "本月影像确认拆除 (件)",
    "restored_m2": "本月拆除复耕面积 (m²)",
    "restored_mu": "本月拆除复耕面积 (亩)",
    "rectified_stock": "本月存量整改 (件)",
    "reopened": "本月重新立案整改 (件)",
    "remaining_m2": "剩余未整改面积 (m²)",
    "awaiting_review": "月末已销号待上级审核 (件)",
    "leads_received": "本月卫片图斑 (个)",
    "leads_checked": "其中月末已核查 (个)",
    "lead_clearance_rate": "月清率 (%)",
    "leads_unchecked": "月末累计未核查图斑 (个)",
    "overdue": "月末逾期案件 (件)",
    "due": "本月到期节点 (个)",
    "on_time_rate": "按期办理率 (%)",
    "flag": "通报",
}


#: The first month a report may cover: the zero-tolerance cutoff (2020-07) leaves nothing to report before.
FIRST_REPORT_MONTH = "2020-01"


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (exclusive) of 'YYYY-MM' in county time, as aware datetimes."""
    try:
        year_text, mon_text = month.split("-")
        if len(year_text) != 4 or len(mon_text) != 2:
            raise ValueError(month)
        year, mon = int(year_text), int(mon_text)
        start = dt.datetime(year, mon, 1, tzinfo=COUNTY_TZ)
        end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=COUNTY_TZ)
    except ValueError as exc:
        raise InvalidQuery(Message(f"月份须为 YYYY-MM 格式（0001–9998 年），收到 {month!r}",
                                   f"month must be YYYY-MM (years 0001-9998), got {month!r}")) from exc
    return start, end


def check_report_month(month: str, now: dt.datetime | None = None) -> str:
    """A month a report may be asked for: well-formed, not before FIRST_REPORT_MONTH, and already begun in
    Asia/Shanghai. A future month has no figures and is refused (HTTP 422, CLI exit 2), never reported as
    '100% on time'."""
    month_bounds(month)
    current = (now or dt.datetime.now(dt.UTC)).astimezone(COUNTY_TZ)
    if month > f"{current:%Y-%m}":
        raise InvalidQuery(Message(f"{month} 尚未开始（北京时间现为 {current:%Y-%m}）",
                                   f"month {month} has not begun yet (now {current:%Y-%m} in Asia/Shanghai)"))
    if month < FIRST_REPORT_MONTH:
        raise InvalidQuery(Message(f"{month} 早于 {FIRST_REPORT_MONTH}：没有可报告的内容",
                                   f"month {month} is before {FIRST_REPORT_MONTH}: nothing to report"))
    return month


#: The periods figures are asked for (domain: leads cleared monthly 月清, checked quarterly 季核, assessed yearly
#: 年度评估): 'YYYY-MM', 'YYYY-Qn' or 'YYYY'. The HTTP routes validate against it; `period_months` parses it.
PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
#: What each kind of period is called where the figures are shown (the scoreboard's title, its print-out).
PERIOD_KIND_NAMES: dict[str, str] = {"month": "月通报", "quarter": "季核", "year": "年度评估"}
PERIOD_KIND_NAMES_EN: dict[str, str] = {"month": "monthly notice", "quarter": "quarterly check",
                                        "year": "yearly assessment"}


@dataclass(frozen=True)
class PeriodWords:
    """How headers and reports name a period where a month's say 本月 (this month), 月末 (the month's end) and
    月清率 (the month's lead clearance): the monthly words are the columns' own (`SUMMARY_COLUMNS`)."""

    this: str
    end: str
    clearance: str
    report_zh: str
    report_en: str


PERIOD_WORDS: dict[str, PeriodWords] = {
    "month": PeriodWords("本月", "月末", "月清率", "红线月报", "Red-line compliance report"),
    "quarter": PeriodWords("本季度", "季末", "期末核查率", "红线季核报告", "Red-line quarterly check"),
    "year": PeriodWords("本年度", "年末", "期末核查率", "红线年度评估报告", "Red-line yearly assessment"),
}


def worded(header: str, period: str) -> str:
    """A header written for a month, said for `period` (本月 → 本季度, 月末 → 季末, 月清率 → 期末核查率)."""
    words = PERIOD_WORDS[period_kind(period)]
    return header.replace("月清率", words.clearance).replace("本月", words.this).replace("月末", words.end)


def period_kind(period: str) -> str:
    """'month', 'quarter' or 'year' (422 for anything else)."""
    if re.fullmatch(PERIOD_PATTERN, period) is None:
        raise InvalidQuery(Message(f"期间须为 YYYY-MM（月）、YYYY-Qn（季度）或 YYYY（年度），收到 {period!r}",
                                   f"a period is YYYY-MM, YYYY-Qn (a quarter) or YYYY (a year), got {period!r}"))
    return "quarter" if "Q" in period else "month" if "-" in period else "year"


def period_months(period: str) -> list[str]:
    """The months of a period, oldest first: a month itself, a quarter's three, a year's twelve."""
    kind = period_kind(period)
    if kind == "month":
        return [period]
    year = int(period[:4])
    first, count = ((int(period[-1]) - 1) * 3 + 1, 3) if kind == "quarter" else (1, 12)
    return [f"{year:04d}-{m:02d}" for m in range(first, first + count)]


def period_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """Start of the period's first month and end (exclusive) of its last, in county time."""
    months = period_months(period)
    return month_bounds(months[0])[0], month_bounds(months[-1])[1]


def check_report_period(period: str, now: dt.datetime | None = None) -> str:
    """A period a report may be asked for: a month as `check_report_month` says, or a quarter or a year that has
    begun (its first month) and does not start before FIRST_REPORT_MONTH; a running one stands as of now."""
    months = period_months(period)
    check_report_month(months[0], now)
    return period


def chosen_period(month: str | None, period: str | None) -> str:
    """The period a caller asked for, by `month` (a month) or by `period` (any period): exactly one of them, and
    one a report may be asked for (422 / exit 2 otherwise). The scoreboard, the export job and the CLI take both."""
    if (month is None) == (period is None):
        raise InvalidQuery(Message("请给出 month 或 period 其中之一", "give either month or period, not both"))
    return check_report_month(month) if month is not None else check_report_period(str(period))


def begun_months(period: str, now: dt.datetime | None = None) -> list[str]:
    """The period's months that have begun in Asia/Shanghai (all of them, for a period that has ended)."""
    current = f"{(now or dt.datetime.now(dt.UTC)).astimezone(COUNTY_TZ):%Y-%m}"
    return [m for m in period_months(period) if m <= current]


def previous_months(month: str, count: int) -> list[str]:
    """`count` months ending with `month`, oldest first."""
    year, mon = (int(p) for p in month.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


@dataclass(frozen=True)
class MonthFigures:
    """A month's per-township summary (with a county total row) and the cases as of its end."""

    month: str
    as_of: dt.datetime
    summary: pd.DataFrame
    cases: gpd.GeoDataFrame


def figures(session: Session, month: str, settings: Settings, township: str | None = None) -> MonthFigures:
    """Summary per township (and county total) as of the end of `month` (or now, for the running month).

    `month` may be any report period (`PERIOD_PATTERN`): a quarter's or a year's figures count what happened in
    its months (new cases, closures, restoration, deadlines due and met, leads received) and stand as of its end
    (remaining area, overdue cases, leads still unchecked) — what the quarterly check and the yearly assessment
    read."""
    start, end = period_bounds(month)
    as_of = min(end, utcnow())
    towns = townships(session, township)
    where = [Case.township_code == township] if township else []
    cases = snapshot(session, as_of, where)
    cases = cases[cases["township_code"].isin(towns["code"])] if len(cases) else cases
    policy = settings.deadline_policy
    cases = _with_deadline_state(cases, policy, as_of, start)
    # 月清: each satellite lead (卫片图斑) checked on site within its month — the leads each case answered then.
    cases["leads"] = pd.Series(lead_arrivals(session, cases, as_of) if len(cases) else [], index=cases.index,
                               dtype=object)
    farmland = totals_as_of(session, towns, as_of)
    rows = []
    for code, name in zip(towns["code"], towns["name"], strict=True):
        rows.append({"township_code": code, "township_name": name, "farmland_m2": float(farmland.get(code, 0.0)),
                     **_figures_of(cases[cases["township_code"] == code], start, end)})
    summary = pd.DataFrame(rows)
    total = {"township_code": "", "township_name": "合计 County total",
             "farmland_m2": float(summary["farmland_m2"].sum()) if len(summary) else 0.0,
             **_figures_of(cases, start, end)}
    summary = pd.concat([summary, pd.DataFrame([total])], ignore_index=True)
    # The county total is no township: it is neither commended nor criticised.
    summary["flag"] = [scoreboard_flag(r, settings) if r.township_code else "" for r in summary.itertuples()]
    return MonthFigures(month, as_of, summary[[*list(SUMMARY_COLUMNS), "met"]], cases)


def _with_deadline_state(cases: gpd.GeoDataFrame, policy: DeadlinePolicy, at: dt.datetime,
                         start: dt.datetime) -> gpd.GeoDataFrame:
    """Per case: overdue and the next deadline at `at`; the deadlines that fell due in [start, at) and met."""
    overdue: list[bool] = []
    next_deadline: list[dt.datetime | None] = []
    due: list[int] = []
    met: list[int] = []
    for row in cases.itertuples():
        times = {"assigned_at": row.assigned_at, "studied_at": row.studied_at, "finished_at": row.finished_at,
                 "reports": row.reports, "returned_at": row.returned_at}
        d = deadlines_of(policy, at, **times)
        overdue.append(bool(d is not None and d.overdue and row.status != Status.CLOSED))
        next_deadline.append(d.next_deadline if d is not None else None)
        n_due, n_met = deadlines_due_of(policy, start, at, **times)
        due.append(n_due)
        met.append(n_met)
    cases = cases.copy()
    cases["overdue"] = overdue
    cases["next_deadline"] = next_deadline
    cases["due"] = due
    cases["met"] = met
    return cases


def _in(series: pd.Series, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    return np.array([v is not None and v == v and start <= v < end for v in series], dtype=bool)


def _figures_of(cases: gpd.GeoDataFrame, start: dt.datetime, end: dt.datetime) -> dict[str, float | int | None]:
    if cases.empty:
        return {"occupied_m2": 0.0, "occupied_stock_m2": 0.0, "occupied_increment_m2": 0.0, "new_cases": 0,
                "new_increments": 0, "closed": 0, "demolished_reported": 0, "demolished_confirmed": 0,
                "restored_m2": 0.0, "restored_mu": 0.0, "rectified_stock": 0,
                "reopened": 0, "remaining_m2": 0.0, "awaiting_review": 0, "overdue": 0, "due": 0, "met": 0,
                "on_time_rate": None,
                "leads_received": 0, "leads_checked": 0, "lead_clearance_rate": None, "leads_unchecked": 0}
    open_ = (cases["status"] != Status.CLOSED).to_numpy()
    violating = cases["still_violating"].astype(bool).to_numpy()
    occupied = cases["occupied_m2"].astype(float).to_numpy()
    period = cases["period"]
    # An extension counts its new part as increment and its old part as stock.
    new_part = np.minimum(cases["unapproved_after_cutoff_m2"].astype(float).fillna(0.0).to_numpy(), occupied)
    increment_m2 = np.where(period == "after_cutoff", occupied,
                            np.where(period == "extended_after_cutoff", new_part, 0.0))
    stock_m2 = np.where(period == "before_cutoff", occupied,
                        np.where(period == "extended_after_cutoff", occupied - new_part, 0.0))
    increment = period.isin(INCREMENT_PERIODS).to_numpy()
    standing = open_ & violating
    new = _in(cases["created_at"], start, end)
    # What a demolition removed and the land took back, in the month of its restoration: an extension's first, its
    # new part alone; its second (the old part, classified `demolish`), the rest.
    extension = (period == "extended_after_cutoff").to_numpy()
    demolished_m2 = np.where(extension, new_part, occupied)
    restored = float(demolished_m2[_in(cases["restored_at"], start, end)].sum()
                     + (occupied - new_part)[extension & _in(cases["old_part_restored_at"], start, end)].sum())
    due, met = int(cases["due"].sum()), int(cases["met"].sum())
    # A lead counts as checked once its case has an on-site verdict (the case answers all its leads); one that
    # reached the county this month and is unchecked at its end is what 月清 misses.
    checked = cases["studied_at"].map(lambda v: v is not None and v == v).to_numpy()
    arrived = [[when for _, when in leads] for leads in cases["leads"]]
    received = np.array([sum(1 for w in whens if w is not None and start <= w < end) for whens in arrived])
    received_total = int(received.sum())
    leads_checked = int(received[checked].sum())
    return {
        "occupied_m2": float(occupied[standing].sum()),
        "occupied_stock_m2": float(stock_m2[standing].sum()),
        "occupied_increment_m2": float(increment_m2[standing].sum()),
        "new_cases": int(new.sum()),
        "new_increments": int((new & increment).sum()),
        "closed": int(_in(cases["closed_at"], start, end).sum()),
        # Demolitions the township reported, and (apart) those a new imagery pass confirmed: the county is
        # judged by what the satellite shows.
        "demolished_reported": int(_in(cases["demolished_at"], start, end).sum()),
        "demolished_confirmed": int(_in(cases["confirmed_at"], start, end).sum()),
        "restored_m2": restored,
        "restored_mu": round(restored / MU_M2, 4),
        "rectified_stock": int((_in(cases["rectified_at"], start, end) & ~increment).sum()),
        "reopened": int(_in(cases["reopened_at"], start, end).sum()),
        "remaining_m2": float(cases.loc[open_, "remaining_m2"].astype(float).sum()),
        # A case counts as rectified only once the review is over (county → city → province): those the county
        # closed that the city or the province has yet to pass.
        "awaiting_review": int(sum(1 for status, level in zip(cases["status"], cases["upper_review"], strict=True)
                                   if status == Status.CLOSED
                                   and awaited_level(level) is not None)),
        "overdue": int(cases["overdue"].sum()),
        "due": due,
        "met": met,
        "on_time_rate": round(100.0 * met / due, 2) if due else None,
        "leads_received": received_total,
        "leads_checked": leads_checked,
        "lead_clearance_rate": round(100.0 * leads_checked / received_total, 2) if received_total else None,
        "leads_unchecked": int(sum(len(whens) for whens, seen in zip(arrived, checked, strict=True) if not seen)),
    }


def scoreboard_flag(row: object, settings: Settings) -> str:
    """通报: commend a township that found no new increment, let nothing go overdue and met its deadlines —
    over enough deadlines to mean something; criticise new increments, overdue cases or a low on-time rate."""
    rate = getattr(row, "on_time_rate")  # noqa: B009
    overdue = int(getattr(row, "overdue"))  # noqa: B009
    due = int(getattr(row, "due"))  # noqa: B009
    increments = int(getattr(row, "new_increments"))  # noqa: B009
    low = rate is not None and not pd.isna(rate) and due >= settings.commend_min_due \
        and rate / 100 < settings.criticise_below
    if increments >= settings.criticise_new_increments or overdue >= settings.criticise_overdue or low:
        return "通报批评 criticise"
    if (due >= settings.commend_min_due and increments == 0 and overdue == 0 and rate is not None
            and not pd.isna(rate) and rate / 100 >= settings.commend_on_time_rate):
        return "通报表扬 commend"
    return ""


def mu(m2: float) -> float:
    """m² → 亩."""
    return m2 / MU_M2


__all__ = [
    "PERIOD_KIND_NAMES",
    "PERIOD_KIND_NAMES_EN",
    "PERIOD_PATTERN",
    "PERIOD_WORDS",
    "SUMMARY_COLUMNS",
    "MonthFigures",
    "PeriodWords",
    "begun_months",
    "check_report_month",
    "check_report_period",
    "chosen_period",
    "figures",
    "month_bounds",
    "mu",
    "period_bounds",
    "period_kind",
    "period_months",
    "previous_months",
    "worded",
]
