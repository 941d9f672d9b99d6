"""The export's workbook (xlsx): the township summary, every case, and the months before compared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from api.reports.export.cases import CASE_COLUMNS
from api.reports.export.reproducible import freeze_zip
from api.reports.monthly import SUMMARY_COLUMNS, MonthFigures, mu, worded
from api.reports.xlsx import Book

#: The field-chief and abandoned-land sheets: column → Chinese header.
DUTY_COLUMNS = {"chief": "田长", "level": "级别", "area_name": "责任区域", "area_code": "区域代码",
                "patrols_required": "应巡田 (次)", "patrols_done": "已巡田 (次)", "grids": "网格 (个)",
                "grids_covered": "已巡网格 (个)", "km_walked": "巡田里程 (km)"}
LAND_COLUMNS = {"township_name": "乡镇", "township_code": "乡镇代码", "abandoned_found_m2": "本月发现抛荒 (m²)",
                "abandoned_remedied_m2": "本月整治到位 (m²)", "abandoned_outstanding_m2": "尚未整治 (m²)",
                "abandoned_outstanding_mu": "尚未整治 (亩)", "outstanding_share": "占耕地比例",
                "overdue_remedies": "整治逾期 (宗)", "findings": "巡田发现 (条)"}


def write_workbook(path: Path, fig: MonthFigures, cases: pd.DataFrame, history: pd.DataFrame,
                   stamp: dt.datetime, duty: pd.DataFrame | None = None, land: pd.DataFrame | None = None) -> Path:
    """Sheets: 汇总 (per township, the county total last), 案件 (every case), 逐月 (the months before, or the
    quarter's or year's own months), and —
    田长制 — 田长巡田 (per chief: patrols required and done, grid cells covered, km) and 耕地抛荒 (per township:
    abandoned land found, remedied, outstanding, overdue remedies, findings)."""
    book = Book(path, created=stamp)
    cols = list(SUMMARY_COLUMNS)
    headers = [SUMMARY_COLUMNS[c] for c in cols]
    # Each area in m² also in 亩 at the end, unless the summary has its 亩 column already (restored_mu).
    mu_cols = [c for c in ("farmland_m2", "occupied_m2", "restored_m2", "remaining_m2")
               if c.removesuffix("_m2") + "_mu" not in SUMMARY_COLUMNS]
    headers += [SUMMARY_COLUMNS[c].replace("(m²)", "(亩)") for c in mu_cols]
    headers = [worded(h, fig.month) for h in headers]  # a quarter's say 本季度 where a month's say 本月
    book.sheet("汇总 Summary", headers, [
        [*(r[c] for c in cols), *(round(mu(float(r[c])), 4) for c in mu_cols)]
        for r in fig.summary.to_dict("records")
    ], bold_last=True)
    book.sheet("案件 Cases", [CASE_COLUMNS[c] for c in cases.columns], cases.to_numpy().tolist())
    trend_headers = {"month": "月份", "new_cases": "新增案件 (件)", "new_increments": "新增增量 (件)",
                     "closed": "办结 (件)", "restored_m2": "拆除复耕面积 (m²)", "remaining_m2": "剩余未整改面积 (m²)",
                     "overdue": "逾期案件 (件)", "on_time_rate": "按期办理率 (%)"}
    book.sheet("逐月 Month-over-month", list(trend_headers.values()),
               [[row[k] for k in trend_headers] for row in history.to_dict("records")])
    if duty is not None:
        book.sheet("田长巡田 Patrols", list(DUTY_COLUMNS.values()), duty[list(DUTY_COLUMNS)].to_numpy().tolist())
    if land is not None:
        book.sheet("耕地抛荒 Abandoned land", [worded(h, fig.month) for h in LAND_COLUMNS.values()],
                   land[list(LAND_COLUMNS)].to_numpy().tolist())
    return save_reproducibly(book, path, stamp)


def save_reproducibly(book: Book, path: Path, stamp: dt.datetime) -> Path:
    """Close a workbook written to `path` so that the same content gives the same bytes: its document times and
    every time inside the zip container are `stamp` (the month's end), not the moment of writing."""
    book.close()
    freeze_zip(path, stamp, core_time=stamp.astimezone(dt.UTC).replace(tzinfo=None))
    return path
