"""The export's workbook (xlsx): the township summary, every case, and the months before compared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from api.reports.export.cases import CASE_COLUMNS
from api.reports.export.reproducible import freeze_zip
from api.reports.monthly import SUMMARY_COLUMNS, MonthFigures, mu

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
    """Sheets: 汇总 (per township, the county total last), 案件 (every case), 逐月 (the months before), and —
    田长制 — 田长巡田 (per chief: patrols required and done, grid cells covered, km) and 耕地抛荒 (per township:
    abandoned land found, remedied, outstanding, overdue remedies, findings)."""
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总 Summary"
    cols = list(SUMMARY_COLUMNS)
    headers = [SUMMARY_COLUMNS[c] for c in cols]
    mu_cols = ["farmland_m2", "occupied_m2", "restored_m2", "remaining_m2"]
    headers += [SUMMARY_COLUMNS[c].replace("(m²)", "(亩)") for c in mu_cols]
    fill_sheet(summary, headers, [
        [*(None if (v is None or (isinstance(v, float) and np.isnan(v))) else v for v in (r[c] for c in cols)),
         *(round(mu(float(r[c])), 4) for c in mu_cols)]
        for r in fig.summary.to_dict("records")
    ], bold_last=True)
    sheet = wb.create_sheet("案件 Cases")
    fill_sheet(sheet, [CASE_COLUMNS[c] for c in cases.columns], cases.to_numpy().tolist())
    trend = wb.create_sheet("逐月 Month-over-month")
    trend_headers = {"month": "月份", "new_cases": "新增案件 (件)", "new_increments": "新增增量 (件)",
                     "closed": "办结 (件)", "restored_m2": "拆除复耕面积 (m²)", "remaining_m2": "剩余未整改面积 (m²)",
                     "overdue": "逾期案件 (件)", "on_time_rate": "按期办理率 (%)"}
    fill_sheet(trend, list(trend_headers.values()),
           [[None if (isinstance(v, float) and np.isnan(v)) else v for v in (row[k] for k in trend_headers)]
            for row in history.to_dict("records")])
    if duty is not None:
        fill_sheet(wb.create_sheet("田长巡田 Patrols"), list(DUTY_COLUMNS.values()),
                   duty[list(DUTY_COLUMNS)].astype(object).where(duty[list(DUTY_COLUMNS)].notna(), None)
                   .to_numpy().tolist())
    if land is not None:
        fill_sheet(wb.create_sheet("耕地抛荒 Abandoned land"), list(LAND_COLUMNS.values()),
                   land[list(LAND_COLUMNS)].astype(object).where(land[list(LAND_COLUMNS)].notna(), None)
                   .to_numpy().tolist())
    return save_reproducibly(wb, path, stamp)


def save_reproducibly(wb: Workbook, path: Path, stamp: dt.datetime) -> Path:
    """Save a workbook so that the same content gives the same bytes: creation and modification times, and
    every time inside the zip container, are `stamp` (the month's end), not the moment of writing."""
    naive = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    wb.properties.creator = "Redline"
    wb.properties.created = naive
    wb.properties.modified = naive
    wb.save(path)
    freeze_zip(path, stamp, core_time=naive)
    return path


def fill_sheet(ws, headers: list[str], rows: list[list[object]], bold_last: bool = False) -> None:  # type: ignore[no-untyped-def]
    ws.append(headers)
    for row in rows:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    ws.freeze_panes = "B2"
    for i, header in enumerate(headers, start=1):
        letter = get_column_letter(i)
        values = [header, *(str(r[i - 1]) for r in rows[:200] if i - 1 < len(r))]
        width = max(_display_width(v) for v in values)
        ws.column_dimensions[letter].width = min(max(10, width + 2), 40)
        for cell in ws[letter][1:]:
            if isinstance(cell.value, float):
                cell.number_format = "#,##0.00"
            elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = "#,##0"
    ws.row_dimensions[1].height = 36
    if bold_last and rows:
        for cell in ws[len(rows) + 1]:
            cell.font = Font(bold=True)


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
