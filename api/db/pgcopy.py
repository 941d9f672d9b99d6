"""A DataFrame as the CSV PostgreSQL's `COPY ... FROM STDIN WITH (FORMAT csv)` reads, written by Arrow.

psycopg's `Copy.write_row` adapts every value of every row on its own (~16 µs a case row of 30 columns): for
the third of a million cases and as many audit events a province scan writes, that was most of the time spent
in COPY. Arrow's CSV writer formats whole columns in C++ (floats in their shortest round-trip form ~5× faster
than `float.__repr__`), and its quoting is what PostgreSQL's CSV format wants
(https://www.postgresql.org/docs/current/sql-copy.html#SQL-COPY-CSV-FORMAT): every text value is quoted (so an
empty text stays empty and a lone `\\.` is data, not the end marker), and a missing value is an unquoted
empty field, which PostgreSQL reads as NULL.

Values as `insert_rows` has always written them: missing (None, NaN, NaT, NA) is NULL; a float column of whole
numbers (pandas' integers with gaps) goes into an integer column, a fraction is refused rather than cut; an
aware time keeps its instant; geometry is the hex EWKB text `to_db_geometry` gives.
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from geoalchemy2 import Geometry
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, String, Table, Text
from sqlalchemy.types import TypeDecorator, TypeEngine

#: The COPY options that read what `copy_csv` writes.
COPY_OPTIONS = "WITH (FORMAT csv)"
_WRITE = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def copy_csv(frame: pd.DataFrame, table: Table) -> bytes:
    """The rows of `frame` (columns named as `table`'s, in the frame's order) as COPY CSV, one line per row."""
    if frame.empty:
        return b""
    columns = [_arrow_column(frame[name], table.c[name].type, name) for name in frame.columns]
    out = io.BytesIO()
    pa_csv.write_csv(pa.table(columns, names=[str(name) for name in frame.columns]), out, _WRITE)
    return out.getvalue()


def _arrow_column(values: pd.Series, kind: TypeEngine[object], name: str) -> pa.Array:
    """One column as the Arrow type whose CSV text the table's column type reads (NaN and None as null)."""
    array = pa.array(values, from_pandas=True)
    if isinstance(kind, TypeDecorator):  # e.g. `UtcDateTime`: the database reads the type it decorates
        kind = kind.impl_instance
    if isinstance(kind, DateTime):  # Arrow writes an aware time in UTC with a `Z`
        target = array.type if pa.types.is_timestamp(array.type) else pa.timestamp("us", tz="UTC")
    elif isinstance(kind, Boolean):
        target = pa.bool_()
    elif isinstance(kind, Integer):
        target = pa.int64()
    elif isinstance(kind, Float | Numeric):
        target = pa.float64()
    elif isinstance(kind, Date):
        target = pa.date32()
    elif isinstance(kind, String | Text | Geometry):  # geometry: hex EWKB text
        target = pa.string()
    else:
        raise TypeError(f"column {name}: no COPY format for {kind!r}")
    try:
        return array.cast(target)  # safe: a fraction into an integer column raises
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"column {name}: {exc}") from exc
