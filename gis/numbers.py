"""Numbers as deliveries write them (areas, counts): one reader for `redline check` and every import.

A value that is not a number is refused by its position, never read as "not given": an approved area of
'80平方米' read as missing would cap nothing (批少占多), a TBMJ of '1,234.5' would drop a parcel's official area.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


class NumberError(ValueError):
    """A value that is not a number: its position in the column and the value."""

    def __init__(self, position: int, value: Any) -> None:
        super().__init__(f"not a number: {value!r}")
        self.position = position
        self.value = value


def parse_numbers(values: pd.Series) -> pd.Series:
    """The column as numbers (`pd.to_numeric`: integers stay integers; NaN where empty); NumberError for the
    first non-empty value that is not a number."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")).to_numpy()
    if bad.any():
        i = int(bad.nonzero()[0][0])
        raise NumberError(i, values.iloc[i])
    return numbers
