"""通报: who is commended and who is criticised, from one month's figures (`api.reports.monthly.scoreboard_flag`)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from api.reports.monthly import scoreboard_flag
from api.settings import Settings

SETTINGS = Settings()


def row(**kw: object) -> SimpleNamespace:
    base = {"township_code": "431021101000", "on_time_rate": 100.0, "overdue": 0, "due": 12, "new_increments": 0}
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(("figures", "flag"), [
    ({}, "通报表扬 commend"),
    ({"due": 2}, ""),  # acted on 2 of 290: too few deadlines to commend
    ({"new_increments": 1}, "通报批评 criticise"),  # 遏制新增 first: a new increment is criticised
    ({"overdue": 5}, "通报批评 criticise"),
    ({"overdue": 1}, ""),  # not commended with an overdue case, not yet criticised
    ({"on_time_rate": 50.0}, "通报批评 criticise"),
    ({"on_time_rate": 50.0, "due": 3}, ""),  # a low rate over three deadlines says little
    ({"on_time_rate": 80.0}, ""),
    ({"on_time_rate": None, "due": 0}, ""),
])
def test_flags_follow_results_not_speed(figures: dict, flag: str):
    assert scoreboard_flag(row(**figures), SETTINGS) == flag
