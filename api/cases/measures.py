"""How much of a case is left to rectify, in m² of the county's projected CRS.

An extension (a pre-cutoff house with a part built after the cutoff) has two parts: the new part goes the
zero-tolerance path, the old part is classified once the new part is gone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from api.db.models import Case
from gis.rules import Period


def old_part_m2(case: Case) -> float:
    """An extension's part built before the cutoff that lies on farmland or unapproved cultivated land (m²)."""
    return max(float(case.occupied_m2 or 0.0) - float(case.unapproved_after_cutoff_m2 or 0.0), 0.0)


def remaining_at_start(period: Any, occupied_m2: Any, new_part_m2: Any) -> Any:
    """The remaining unrectified area (剩余未整改面积) a case starts with — when a scan or a lead opens it, a scan
    reopens it, or the county changes its period: an extension's new part (its unapproved part after the
    cutoff) until that is demolished, else all it occupies. Scalars or arrays (m²)."""
    extension = np.asarray(period, dtype=object) == Period.EXTENDED_AFTER_CUTOFF.value
    return np.where(extension, np.nan_to_num(np.asarray(new_part_m2, dtype=float)),
                    np.asarray(occupied_m2, dtype=float))


def remaining_of(case: Case) -> float:
    """`remaining_at_start` of one stored case."""
    return float(remaining_at_start(case.period, case.occupied_m2 or 0.0, case.unapproved_after_cutoff_m2 or 0.0))
