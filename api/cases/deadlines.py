"""The county's "137" deadline policy (a setting): study in 1 day, finish in 3, report every 7.

Calendar days in Asia/Shanghai: a deadline of "N days" falls at the end (24:00) of the N-th calendar day
after the day of assignment. A case not finished (submitted for review) by the 3-day deadline owes a staged
progress report within 7 days of assignment, and every 7 days after its last report, until it is finished.
A case the county returns (退回) starts a new round: 3 days to finish from the return, then a report every 7.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from gis.codes import COUNTY_TZ

#: Chinese names of the three deadlines (the "137": study in 1 day, finish in 3, report every 7).
DEADLINE_NAMES: dict[str, str] = {"study": "研究处置（1日）", "finish": "整改到位（3日）",
                                  "report": "进展报告（每7日）"}


@dataclass(frozen=True)
class DeadlinePolicy:
    """The "137" numbers (days)."""

    study_days: int = 1
    finish_days: int = 3
    report_every_days: int = 7


@dataclass(frozen=True)
class Deadlines:
    """Where a case stands against its deadlines at a moment."""

    study_due: dt.datetime
    finish_due: dt.datetime
    next_report_due: dt.datetime | None
    next_deadline: dt.datetime | None
    next_deadline_kind: str | None  # study | finish | report
    overdue: bool
    overdue_kinds: tuple[str, ...]
    on_time: bool  # every deadline that has fallen due so far was met


def end_of_day_after(moment: dt.datetime, days: int) -> dt.datetime:
    """24:00 county time of the `days`-th calendar day after `moment`'s day (an aware datetime)."""
    local_day = moment.astimezone(COUNTY_TZ).date()
    return dt.datetime.combine(local_day + dt.timedelta(days=days + 1), dt.time(0), COUNTY_TZ)


def evaluate(policy: DeadlinePolicy, *, assigned_at: dt.datetime, now: dt.datetime,
             studied_at: dt.datetime | None = None, finished_at: dt.datetime | None = None,
             reports: Sequence[dt.datetime] = (), returned_at: dt.datetime | None = None) -> Deadlines:
    """Evaluate a case's deadlines at `now` (all datetimes aware).

    `returned_at` (the county's last return) restarts the finish clock and the report cycle; `finished_at`
    is then the submission of this round (None until the case is submitted again).
    """
    study_due = end_of_day_after(assigned_at, policy.study_days)
    round_start = max(assigned_at, returned_at) if returned_at is not None else assigned_at
    finish_due = end_of_day_after(round_start, policy.finish_days)
    overdue: list[str] = []
    on_time = True

    studied_late = studied_at is None and now >= study_due
    if studied_late or (studied_at is not None and studied_at >= study_due):
        on_time = False
    if studied_late:
        overdue.append("study")

    next_report: dt.datetime | None = None
    finished_in_time = finished_at is not None and finished_at < finish_due
    if not finished_in_time:
        # Walk the report cycle: each due date is 7 days after the previous report (or the assignment).
        anchor = round_start
        pending = sorted(r for r in reports if finished_at is None or r <= finished_at)
        i = 0
        stop = finished_at or now
        while True:
            due = end_of_day_after(anchor, policy.report_every_days)
            while i < len(pending) and pending[i] < anchor:
                i += 1
            if i < len(pending) and pending[i] < due:  # reported in time: the cycle restarts there
                anchor = pending[i]
                i += 1
                continue
            if due > stop:
                next_report = due if finished_at is None else None
                break
            on_time = False  # a cycle passed with no report
            if i < len(pending):  # a late report still restarts the cycle
                anchor = pending[i]
                i += 1
                continue
            if finished_at is None:
                overdue.append("report")
                next_report = due
            break

    candidates: list[tuple[dt.datetime, str]] = []
    if studied_at is None:
        candidates.append((study_due, "study"))
    if finished_at is None:
        if now < finish_due:
            candidates.append((finish_due, "finish"))
        if next_report is not None:
            candidates.append((next_report, "report"))
    nxt = min(candidates) if candidates else None
    return Deadlines(study_due, finish_due, next_report, nxt[0] if nxt else None, nxt[1] if nxt else None,
                     bool(overdue), tuple(overdue), on_time)


def overdue_from(policy: DeadlinePolicy, *, assigned_at: dt.datetime, now: dt.datetime,
                 studied_at: dt.datetime | None = None, finished_at: dt.datetime | None = None,
                 reports: Sequence[dt.datetime] = (), returned_at: dt.datetime | None = None) -> dt.datetime | None:
    """The moment from which a case is overdue if nothing about it changes (None: never; ≤ now: already).

    Time alone only ever makes a case overdue (a study or report deadline passes); only new data (a
    study, a report, the finish) ends it. So one instant per case tells whether it is overdue at any later
    moment — what lets the review map keep a snapshot of every case and still say "overdue" correctly
    tomorrow, without evaluating each case again. (`evaluate(..., now=t).overdue == (t >= this)` for t ≥ now.)
    """
    d = evaluate(policy, assigned_at=assigned_at, now=now, studied_at=studied_at, finished_at=finished_at,
                 reports=reports, returned_at=returned_at)
    if d.overdue:
        return now
    candidates = []
    if studied_at is None:
        candidates.append(d.study_due)
    if finished_at is None and d.next_report_due is not None:
        candidates.append(d.next_report_due)
    return min(candidates) if candidates else None


def deadlines_due(policy: DeadlinePolicy, *, assigned_at: dt.datetime, start: dt.datetime, end: dt.datetime,
                  studied_at: dt.datetime | None = None, finished_at: dt.datetime | None = None,
                  reports: Sequence[dt.datetime] = (), returned_at: dt.datetime | None = None) -> tuple[int, int]:
    """How many of a case's 137 deadlines fell due in [start, end), and how many of those were met.

    The month's on-time rate is taken over the deadlines that fell due in it — not over a case's whole life —
    so a township is judged on what it had to do that month. Deadlines, as `evaluate` judges them: study
    (1 day); finish (3 days from the assignment, or from the county's last return) — met when finished in
    time; otherwise a progress report every 7 days takes its place (each missed cycle is one missed deadline;
    a late report restarts the cycle).
    """
    due = met = 0

    def count(when: dt.datetime, ok: bool) -> None:
        nonlocal due, met
        if start <= when < end:
            due += 1
            met += int(ok)

    study_due = end_of_day_after(assigned_at, policy.study_days)
    count(study_due, studied_at is not None and studied_at < study_due)
    round_start = max(assigned_at, returned_at) if returned_at is not None else assigned_at
    finish_due = end_of_day_after(round_start, policy.finish_days)
    if finished_at is not None and finished_at < finish_due:
        count(finish_due, True)  # finished within 3 days: no report falls due
        return due, met
    # Not finished within 3 days: as `evaluate` has it, that is the report cycle's turn, not a miss by itself.
    stop = min(finished_at, end) if finished_at is not None else end
    pending = sorted(r for r in reports if r >= round_start)
    anchor, i = round_start, 0
    while True:
        cycle_due = end_of_day_after(anchor, policy.report_every_days)
        if cycle_due > stop:
            return due, met
        while i < len(pending) and pending[i] < anchor:
            i += 1
        reported = i < len(pending) and pending[i] < cycle_due
        count(cycle_due, reported)
        if reported:
            anchor = pending[i]
            i += 1
        else:
            anchor = cycle_due
