"""Every spreadsheet Redline writes (the monthly export's workbook, the 摸排表, the desk's case list), written by
XlsxWriter: one look for all of them — a bold, shaded, frozen header; numbers with thousands separators,
areas with two decimals; columns as wide as their text (Chinese counted double).

Why XlsxWriter and not openpyxl: openpyxl builds a cell object per value and styles cell by cell; for the demo
county's export that was 13.6 s of a monthly export, most of it openpyxl (filling sheets 5.6 s, saving 6.6 s),
and the desk's list of 100 000 cases took 38.5 s. XlsxWriter streams each row as it is written.

A text is always a text: a name or note that starts with "=" is not turned into a formula (a spreadsheet that
runs what a field's value says would be an injection into every official's Excel), nor a URL, nor a number.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

#: Number formats by kind of value: whole numbers (counts) and measures (m², 亩, rates).
WHOLE_FORMAT = "#,##0"
MEASURE_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FILL = "#DDEBF7"
#: Rows read to size a column (the widest of the header and these), and the widest a column gets.
WIDTH_SAMPLE_ROWS = 200
MAX_WIDTH = 40
_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


class Book:
    """An xlsx being written: its sheets in the order made, its formats made once."""

    def __init__(self, target: Path | io.BytesIO, *, created: dt.datetime | None = None) -> None:
        self.workbook = xlsxwriter.Workbook(target, {**_OPTIONS, "in_memory": isinstance(target, io.BytesIO)})
        naive = (created.astimezone(dt.UTC).replace(tzinfo=None) if created is not None
                 else dt.datetime(1980, 1, 1))
        self.workbook.set_properties({"author": "Redline", "created": naive})
        self._formats: dict[tuple[bool, str | None], Format] = {}
        self.header = self.workbook.add_format({"bold": True, "text_wrap": True, "valign": "vcenter",
                                                "bg_color": HEADER_FILL, "pattern": 1})

    def format(self, bold: bool, number: str | None) -> Format | None:
        """The cell format for a value of this kind (None: the default look)."""
        if not bold and number is None:
            return None
        key = (bold, number)
        if key not in self._formats:
            self._formats[key] = self.workbook.add_format({"bold": bold, **({"num_format": number} if number else {})})
        return self._formats[key]

    def sheet(self, name: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
              bold_last: bool = False) -> Worksheet:
        """A sheet: the header row, then `rows`; missing values (None, NaN, empty text) left blank."""
        ws = self.workbook.add_worksheet(name)
        ws.write_row(0, 0, list(headers), self.header)
        ws.set_row(0, 36)
        ws.freeze_panes(1, 1)
        last = len(rows)
        for r, row in enumerate(rows, start=1):
            bold = bold_last and r == last
            for c, value in enumerate(row):
                self._write(ws, r, c, value, bold)
        for c, header in enumerate(headers):
            sample = [str(header), *(_shown(row[c]) for row in rows[:WIDTH_SAMPLE_ROWS] if c < len(row))]
            ws.set_column(c, c, min(max(10, max(map(_display_width, sample)) + 2), MAX_WIDTH))
        return ws

    def _write(self, ws: Worksheet, r: int, c: int, value: Any, bold: bool) -> None:
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            if bold:
                ws.write_blank(r, c, None, self.format(True, None))
            return
        if isinstance(value, bool):
            ws.write_boolean(r, c, value, self.format(bold, None))
        elif isinstance(value, int):
            ws.write_number(r, c, value, self.format(bold, WHOLE_FORMAT))
        elif isinstance(value, float):
            ws.write_number(r, c, value, self.format(bold, MEASURE_FORMAT))
        elif isinstance(value, dt.datetime):
            ws.write_datetime(r, c, value, self.format(bold, TIME_FORMAT))
        elif isinstance(value, dt.date):
            ws.write_datetime(r, c, value, self.format(bold, DATE_FORMAT))
        else:
            ws.write_string(r, c, str(value), self.format(bold, None))

    def close(self) -> None:
        self.workbook.close()


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def _display_width(text: str) -> int:
    """Characters a column needs for `text`: CJK and other wide characters count two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
