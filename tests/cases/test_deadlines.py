"""The "137" deadlines, across midnight and month ends in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt

from api.cases.deadlines import COUNTY_TZ, DeadlinePolicy, end_of_day_after, evaluate, overdue_from

P = DeadlinePolicy()
UTC = dt.UTC


def cst(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=COUNTY_TZ)


def test_deadlines_fall_at_the_end_of_the_county_day():
    assigned = cst(2026, 1, 31, 15, 0)
    assert end_of_day_after(assigned, 1) == cst(2026, 2, 2)  # end of 1 February
    assert end_of_day_after(assigned, 3) == cst(2026, 2, 4)  # across the month end
    assert end_of_day_after(assigned, 7) == cst(2026, 2, 8)


def test_assignment_just_before_midnight_utc_is_already_the_next_county_day():
    # 16:30 UTC on 31 March is 00:30 on 1 April in Shanghai: the day counted from is 1 April.
    assigned = dt.datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    assert end_of_day_after(assigned, 1) == cst(2026, 4, 3)
    assigned_before = dt.datetime(2026, 3, 31, 15, 59, tzinfo=UTC)  # 23:59 on 31 March
    assert end_of_day_after(assigned_before, 1) == cst(2026, 4, 2)


def test_fresh_case_next_deadline_is_study():
    assigned = cst(2026, 2, 27, 9)
    d = evaluate(P, assigned_at=assigned, now=cst(2026, 2, 27, 10))
    assert d.next_deadline == cst(2026, 3, 1) and d.next_deadline_kind == "study"  # 2026 is not a leap year
    assert not d.overdue and d.on_time


def test_study_overdue_one_second_after_the_deadline():
    assigned = cst(2026, 5, 10, 9)
    assert not evaluate(P, assigned_at=assigned, now=cst(2026, 5, 11, 23, 59)).overdue
    late = evaluate(P, assigned_at=assigned, now=cst(2026, 5, 12, 0, 0))
    assert late.overdue and late.overdue_kinds == ("study",) and not late.on_time


def test_finished_within_three_days_needs_no_report():
    assigned = cst(2026, 5, 10, 9)
    d = evaluate(P, assigned_at=assigned, studied_at=cst(2026, 5, 10, 12), finished_at=cst(2026, 5, 13, 18),
                 now=cst(2026, 6, 30))
    assert not d.overdue and d.on_time and d.next_deadline is None


def test_unfinished_case_owes_a_report_every_seven_days_after_the_last():
    assigned = cst(2026, 5, 10, 9)
    studied = cst(2026, 5, 10, 12)
    d = evaluate(P, assigned_at=assigned, studied_at=studied, now=cst(2026, 5, 14, 1))
    assert d.next_deadline_kind == "report" and d.next_deadline == cst(2026, 5, 18)
    d = evaluate(P, assigned_at=assigned, studied_at=studied, reports=[cst(2026, 5, 16, 10)],
                 now=cst(2026, 5, 20))
    assert not d.overdue and d.next_report_due == cst(2026, 5, 24)  # 7 days after the report on the 16th
    d = evaluate(P, assigned_at=assigned, studied_at=studied, reports=[cst(2026, 5, 16, 10)],
                 now=cst(2026, 5, 24, 0, 1))
    assert d.overdue and d.overdue_kinds == ("report",) and not d.on_time


def test_late_report_breaks_on_time_even_after_catching_up():
    assigned = cst(2026, 5, 10, 9)
    d = evaluate(P, assigned_at=assigned, studied_at=cst(2026, 5, 10, 12), reports=[cst(2026, 5, 19, 10)],
                 now=cst(2026, 5, 20))
    assert not d.on_time  # the report due by the end of the 17th came on the 19th
    assert not d.overdue  # but the case is no longer overdue: the next report is due on the 27th
    assert d.next_report_due == cst(2026, 5, 27)


def test_policy_numbers_are_settings():
    d = evaluate(DeadlinePolicy(study_days=2, finish_days=5, report_every_days=10), assigned_at=cst(2026, 1, 1, 9),
                 now=cst(2026, 1, 1, 10))
    assert d.study_due == cst(2026, 1, 4) and d.finish_due == cst(2026, 1, 7)


def test_overdue_from_agrees_with_evaluate_at_every_later_moment():
    # The review map caches one instant per case; it must say exactly what evaluate says, hour by hour.
    policy = DeadlinePolicy()
    assigned = dt.datetime(2026, 3, 2, 9, 30, tzinfo=COUNTY_TZ)
    scenarios = [
        {},  # nothing done: the study deadline comes first
        {"studied_at": assigned + dt.timedelta(hours=3)},  # studied: the report cycle decides
        {"studied_at": assigned + dt.timedelta(hours=3), "reports": [assigned + dt.timedelta(days=6)]},
        {"studied_at": assigned + dt.timedelta(hours=3), "finished_at": assigned + dt.timedelta(days=2)},
        {"studied_at": assigned + dt.timedelta(days=3), "finished_at": assigned + dt.timedelta(days=9),
         "reports": [assigned + dt.timedelta(days=8)]},
    ]
    for extra in scenarios:
        for start_h in (0, 20, 60, 200):
            now = assigned + dt.timedelta(hours=start_h)
            since = overdue_from(policy, assigned_at=assigned, now=now, **extra)
            for h in range(0, 24 * 30, 5):
                t = now + dt.timedelta(hours=h)
                expected = evaluate(policy, assigned_at=assigned, now=t, **extra).overdue
                assert expected == (since is not None and t >= since), (extra, start_h, h)
