"""The case filters of the list, the map and the desk — one definition, as SQL and as a pandas mask.

A filter left empty does not filter. `rule` matches one 八不准 code as a whole element of the stored lists
(`rules` from the data, `field_rules` found on site: '1,4,6' holds 4 but not 14). `overdue` is computed from
the 137 deadlines, not stored, so each reader applies it itself (`api.cases.queries`, `api.mapview`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Session

from api.db.models import Case


@dataclass(frozen=True)
class CaseFilter:
    """Every filter optional; codes are the stored codes (12-digit township and village codes)."""

    township: str | None = None
    village: str | None = None
    status: str | None = None
    period: str | None = None
    disposition: str | None = None
    rule: int | None = None
    overdue: bool | None = None
    #: A farmland grid cell (网格) code: the cases its patroller answers for.
    grid: str | None = None

    def _equalities(self) -> list[tuple[str, str]]:
        return [(column, value) for column, value in (
            ("township_code", self.township), ("village_code", self.village), ("status", self.status),
            ("period", self.period), ("disposition", self.disposition), ("grid_code", self.grid)) if value]

    def clauses(self, session: Session) -> list[ColumnElement[bool]]:
        """The stored filters as WHERE clauses on `cases` (SQLite and PostgreSQL)."""
        where: list[ColumnElement[bool]] = [getattr(Case, column) == value for column, value in self._equalities()]
        if self.rule is not None:
            listed = "," + Case.rules + "," + Case.field_rules + ","
            position = func.instr if session.get_bind().dialect.name == "sqlite" else func.strpos
            where.append(position(listed, f",{self.rule},") > 0)
        return where

    def mask(self, attrs: pd.DataFrame) -> np.ndarray:
        """The stored filters as a boolean mask over a frame of case attributes."""
        keep = np.ones(len(attrs), dtype=bool)
        for column, value in self._equalities():
            keep &= (attrs[column] == value).to_numpy()
        if self.rule is not None:
            listed = "," + attrs["rules"].fillna("") + "," + attrs["field_rules"].fillna("") + ","
            keep &= listed.str.contains(f",{self.rule},", regex=False).to_numpy()
        return keep
