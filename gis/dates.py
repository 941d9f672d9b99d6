"""Dates as a county's registers and surveys write them, read to the county's calendar day (Asia/Shanghai).

One home for reading a date, because the day a house was built decides zero tolerance (from 2020-07-03 on).
pandas' guessing (`pd.to_datetime` on a whole column) let houses out of it:

- the integer 20200703 (a DBF or spreadsheet number field) was read as nanoseconds after 1970: a house built on
  the cutoff day became 1970 stock;
- '2020-07-03T00:00:00+08:00' became 2020-07-02, the day in UTC rather than in the county;
- '2020' became 2020-01-01 and '2020-07' 2020-07-01: a year or a month that straddles the cutoff became stock;
- the format of a column's first value was applied to every row, so '2020/7/3' followed by '2020-07-03' was
  refused as "not a date".

Read here: a day written as YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日 or YYYYMMDD (text or an 8-digit number),
a timestamp (its day in Asia/Shanghai when it carries an offset, as written otherwise), or a date or datetime
value of the file's own date type. A year or a month alone is refused: it says nothing of which side of the
cutoff a house stands, and a missing date (field verification decides) is what the user should give instead.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from gis.codes import COUNTY_TZ

_DAY = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_STAMP = re.compile(r"\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?")
_PARTIAL = re.compile(r"(\d{4})(\s*[-/.年]\s*\d{1,2}\s*月?)?")
NOT_A_DAY = "a year or a month is not a day: give YYYY-MM-DD, or leave it empty for field verification"


class DateError(ValueError):
    """A value that is not a day: its position in the column, the value and why."""

    def __init__(self, position: int, value: Any, why: str) -> None:
        super().__init__(f"not a date: {value!r} ({why})" if why else f"not a date: {value!r}")
        self.position = position
        self.value = value


def parse_days(values: pd.Series) -> np.ndarray:
    """The days of a column as datetime64[D] (NaT where empty); DateError for the first value that is not one.

    Vectorised for a column of one kind (a date type, numbers, or ISO day text); only values of other
    forms are read one by one.
    """
    n = len(values)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    if n == 0:
        return out
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(COUNTY_TZ).dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.to_numpy().astype("datetime64[D]")
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DateError(0, bool(values.iloc[0]), "a yes/no value")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return _numbers(values.to_numpy(dtype=float, na_value=np.nan), np.arange(n))
    objects = values.to_numpy(dtype=object)
    missing = pd.isna(values).to_numpy().copy()
    text = np.array([isinstance(v, str) for v in objects], dtype=bool)
    if text.any():  # the common case first: ISO days, vectorised
        stripped = pd.Series(objects[text]).str.strip()
        missing[text] = (stripped == "").to_numpy()
        iso = pd.to_datetime(stripped, format="%Y-%m-%d", errors="coerce")
        out[text] = iso.to_numpy().astype("datetime64[D]")
    plain_dates = np.array([type(v) is dt.date for v in objects], dtype=bool)  # not datetimes: they may have zones
    if plain_dates.any():
        out[plain_dates] = np.array(objects[plain_dates], dtype="datetime64[D]")
    rest = np.flatnonzero(~missing & np.isnat(out))
    for i in rest:
        out[i] = _one(int(i), objects[i])
    return out


def _numbers(numbers: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """YYYYMMDD numbers as days (NaN: empty); anything else is refused, a year with its own reason."""
    out = np.full(len(numbers), np.datetime64("NaT"), dtype="datetime64[D]")
    given = ~np.isnan(numbers)
    whole = given & (numbers == np.floor(np.where(given, numbers, 0.0)))
    eight = whole & (numbers >= 1_000_01_01) & (numbers <= 9_999_12_31)
    wrong = np.flatnonzero(given & ~eight)
    if len(wrong):
        i = int(wrong[0])
        value = numbers[i]
        shown: Any = int(value) if value == np.floor(value) else value
        why = NOT_A_DAY if 1000 <= value <= 9999 or 100_001 <= value <= 999_912 else "a number that is not YYYYMMDD"
        raise DateError(int(positions[i]), shown, why)
    days = numbers[eight].astype(np.int64)
    parts = pd.DataFrame({"year": days // 10_000, "month": days // 100 % 100, "day": days % 100})
    parsed = pd.to_datetime(parts, errors="coerce").to_numpy().astype("datetime64[D]")
    bad = np.flatnonzero(np.isnat(parsed))
    if len(bad):
        i = int(np.flatnonzero(eight)[bad[0]])
        raise DateError(int(positions[i]), int(numbers[i]), "no such day")
    out[eight] = parsed
    return out


def _one(position: int, value: Any) -> np.datetime64:
    """One value of any other form (text, a datetime, a number among text)."""
    if isinstance(value, dt.datetime):  # pandas' Timestamp too
        day = value.astimezone(COUNTY_TZ).date() if value.tzinfo is not None else value.date()
        return np.datetime64(day, "D")
    if isinstance(value, dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]")
    if isinstance(value, bool | np.bool_):
        raise DateError(position, value, "a yes/no value")
    if isinstance(value, int | float | np.integer | np.floating):
        return _numbers(np.array([float(value)]), np.array([position]))[0]
    text = str(value).strip()
    for pattern in (_DAY, _COMPACT):
        match = pattern.fullmatch(text)
        if match:
            try:
                return np.datetime64(dt.date(*(int(g) for g in match.groups())), "D")
            except ValueError:
                raise DateError(position, value, "no such day") from None
    if _STAMP.fullmatch(text):
        stamp = pd.Timestamp(text.replace(" ", "T", 1) if "T" not in text else text)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(COUNTY_TZ)
        return np.datetime64(stamp.date(), "D")
    raise DateError(position, value, NOT_A_DAY if _PARTIAL.fullmatch(text) else "")
