"""Time: every stored datetime is UTC and reads back aware (`api.db.models.UtcDateTime`); times read through
pandas or raw SQL may still come naive on SQLite, so such reads go through `as_utc`."""

from __future__ import annotations

import datetime as dt
from typing import Any


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime from a stored one (naive values are UTC by construction)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def as_utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    """`as_utc` that lets None through."""
    return None if value is None else as_utc(value)


def from_frame(value: Any) -> dt.datetime | None:
    """A datetime read through pandas (Timestamp, NaT, NaN or None) as a plain datetime or None."""
    import pandas as pd  # here, not at the top: light commands (`redline user add`) never load pandas

    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()
