"""The desk's list downloads (`api.reports.case_list`): what a spreadsheet program makes of them."""

from __future__ import annotations

import csv
import io

import pandas as pd

from api.reports.case_list import case_list_csv


def _listed(**overrides: object) -> pd.DataFrame:
    row = {"code": "RL-431021101000-H1", "township_code": "431021101000", "village_code": None, "status": "new",
           "period": "after_cutoff", "disposition": "demolish", "rules": "1", "field_rules": "",
           "footprint_m2": 120.0, "farmland_m2": 80.0, "farmland_mu": 0.12, "remaining_m2": 80.0,
           "next_deadline": "2026-12-01T03:00:00+00:00", "overdue": False, "assignee": None, "file_number": None,
           "upper_review": None}
    return pd.DataFrame([{**row, **overrides}])


def test_a_text_that_would_start_a_formula_is_kept_as_text_in_the_csv():
    """A township officer types the file number; a spreadsheet opening the CSV must not run it."""
    body = case_list_csv(_listed(file_number='=HYPERLINK("http://example.invalid","点击")', assignee="@SUM(1)"),
                         {"431021101000": "和平镇"})
    row = next(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert row["立案号"] == '\'=HYPERLINK("http://example.invalid","点击")'
    assert row["巡查员"] == "'@SUM(1)"
    # Everything else as it was: codes, labels, numbers, times in county time.
    assert row["案件编号"] == "RL-431021101000-H1" and row["乡镇"] == "和平镇" and row["状态代码"] == "new"
    assert row["占地面积 (m²)"] == "120.0" and row["下一期限"] == "2026-12-01 11:00"
