"""Errors of the pure layer; each names the file, the row and the field where it can."""

from __future__ import annotations


class RedlineInputError(ValueError):
    """Bad input data: names where it is, so a person can fix the source."""

    def __init__(self, message: str, *, source: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.source = source
        self.row = row
        self.field = field
        where = ", ".join(
            part for part in (
                f"file {source}" if source else "",
                f"row {row}" if row is not None else "",
                f"field {field}" if field else "",
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class MissingCRSError(RedlineInputError):
    """A source without a CRS: guessing one would put every house in the wrong place."""


class GeographicCRSError(RedlineInputError):
    """Areas were asked of geographic (degree) coordinates."""
