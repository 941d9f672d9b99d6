"""What changed between two imagery passes (epochs), house by house.

Each footprint of an epoch is matched to the stored houses by overlap: a pair matches when their common area
is at least `match_share` of the *smaller* of the two (so a garage-sized piece of a large footprint does not
claim the house, and a house split in two by a new wall still matches both halves). Then, per stored house:

- `gone`: no footprint of the later epoch matches it;
- `grown`: the later footprints that match it cover a part (≥ `min_area_m2`, and thicker than `tolerance_m`:
  thinner differences are the same walls digitised a little apart on two passes) that no footprint of the earlier
  epoch covered — the new part, with its geometry (a house the earlier epoch missed counts as its own stored
  footprint there). Two houses joined into one later footprint grow by the join only, reported once;
- `shrunk`: the earlier cover lost a part ≥ `min_area_m2` and nothing grew;
- `unchanged`: otherwise.

Later footprints that match no stored house and overlap no earlier footprint are `new`: absent before, present
now. All areas in m² of one projected CRS; the pairs come from an STRtree and the overlaps are computed for all
pairs at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gis.errors import RedlineInputError
from gis.geometry import in_threads

CHANGES = ("unchanged", "grown", "shrunk", "gone")


@dataclass(frozen=True)
class CompareRules:
    """Thresholds of a comparison (m² of the projected CRS; shares in 0–1)."""

    match_share: float = 0.5
    min_area_m2: float = 1.0
    #: Two passes digitise the same wall up to about this far apart (m): a difference between them thinner
    #: than this is not a new or lost part of the house, only noise (a 10 m wall 0.4 m off is a 4 m² sliver).
    tolerance_m: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.match_share <= 1:
            raise RedlineInputError(f"match_share must be in (0, 1], got {self.match_share}", field="match_share")
        if self.min_area_m2 < 0:
            raise RedlineInputError(f"min_area_m2 must be >= 0, got {self.min_area_m2}", field="min_area_m2")
        if self.tolerance_m < 0:
            raise RedlineInputError(f"tolerance_m must be >= 0, got {self.tolerance_m}", field="tolerance_m")


@dataclass(frozen=True)
class Comparison:
    """`houses`: one row per stored house (`house` its index in the input), its `change`, `new_m2`, `lost_m2`
    and `new_part` (the grown part's geometry, else None). `new`: indices of later footprints that are new."""

    houses: pd.DataFrame
    new: np.ndarray


def matches(left: np.ndarray, right: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i into left, j into right) whose overlap is at least `share` of the smaller of the two."""
    if not len(left) or not len(right):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    j, i = shapely.STRtree(right).query(left, predicate="intersects")
    common = shapely.area(in_threads(shapely.intersection, left[j], right[i]))
    smaller = np.minimum(shapely.area(left[j]), shapely.area(right[i]))
    keep = common >= share * np.where(smaller > 0, smaller, np.inf)
    return j[keep].astype(np.int64), i[keep].astype(np.int64)


def one_to_one(left_at: np.ndarray, right_at: np.ndarray) -> list[tuple[int, int]]:
    """Of the index pairs `matches` found, each left and each right taken once: in order of left, then right (the
    first in a file's order wins where several match)."""
    pairs: list[tuple[int, int]] = []
    lefts: set[int] = set()
    rights: set[int] = set()
    for i, j in sorted(zip(left_at.tolist(), right_at.tolist(), strict=True)):
        if i not in lefts and j not in rights:
            lefts.add(i)
            rights.add(j)
            pairs.append((i, j))
    return pairs


def _covers(groups: np.ndarray, members: np.ndarray, geoms: np.ndarray, size: int) -> np.ndarray:
    """Per group 0..size-1, the union of its members' geometries (None for an empty group). One member (the
    usual case) is taken as it is; only groups of several are unioned."""
    out = np.full(size, None, dtype=object)
    if not len(groups):
        return out
    order = np.argsort(groups, kind="stable")
    groups, members = groups[order], members[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], len(groups)]
    single = (ends - starts) == 1
    out[groups[starts[single]]] = geoms[members[starts[single]]]
    for s, e in zip(starts[~single], ends[~single], strict=True):
        out[groups[s]] = shapely.union_all(geoms[members[s:e]])
    return out


def _solid(parts: np.ndarray, tolerance_m: float) -> np.ndarray:
    """`parts` without what is thinner than `tolerance_m` (a morphological opening: shrink by half the tolerance,
    grow back, keep only what was there). A rectangle thicker than the tolerance comes back whole (mitred
    corners); a sliver from the same wall digitised a little apart vanishes."""
    if tolerance_m <= 0 or not len(parts):
        return parts
    half = tolerance_m / 2

    def opening(geoms: np.ndarray) -> np.ndarray:
        return shapely.buffer(shapely.buffer(geoms, -half, join_style="mitre"), half, join_style="mitre")

    # What an opening gives back lies within the part (up to rounding): no intersection with it is needed.
    return in_threads(opening, parts)


def _kept(geoms: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """`geoms` where `keep`, None elsewhere."""
    out = np.full(len(geoms), None, dtype=object)
    out[keep] = geoms[keep]
    return out


def compare(houses: np.ndarray, before: np.ndarray, after: np.ndarray, rules: CompareRules | None = None
            ) -> Comparison:
    """Compare two epochs' footprints (`before`, `after`) house by house; see the module docstring."""
    rules = rules or CompareRules()
    houses, before, after = (np.asarray(a, dtype=object) for a in (houses, before, after))
    n = len(houses)
    hb, b = matches(houses, before, rules.match_share)
    ha, a = matches(houses, after, rules.match_share)
    before_ref = _covers(hb, b, before, n)
    missing_before = ~shapely.is_geometry(before_ref)
    before_ref[missing_before] = houses[missing_before]  # the earlier pass missed it: its stored footprint
    after_cover = _covers(ha, a, after, n)
    present = shapely.is_geometry(after_cover)

    # What stood before wherever the house stands now: every earlier footprint there (a neighbour joined to it
    # included), and the stored footprints of houses the earlier pass missed.
    idx = np.flatnonzero(present)
    new_part = np.full(n, None, dtype=object)
    lost = np.zeros(n)
    new_m2 = np.zeros(n)
    if len(idx):
        covers = after_cover[idx]
        k, f = (shapely.STRtree(before).query(covers, predicate="intersects") if len(before)
                else (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)))
        earlier = _covers(k, f, before, len(idx))
        known = missing_before
        kh, hh = shapely.STRtree(houses[known]).query(covers, predicate="intersects") if known.any() else \
            (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
        missed = _covers(kh, hh, houses[known], len(idx))
        has_earlier = shapely.is_geometry(earlier)
        has_missed = shapely.is_geometry(missed)
        stood = np.where(has_earlier, earlier, missed)
        both = has_earlier & has_missed
        if both.any():
            stood[both] = shapely.union(earlier[both], missed[both])
        empty = ~shapely.is_geometry(stood)
        diff = covers.copy()
        if (~empty).any():
            diff[~empty] = _solid(in_threads(shapely.difference, covers[~empty], stood[~empty].astype(object)),
                                  rules.tolerance_m)
        new_part[idx] = diff
        new_m2[idx] = shapely.area(diff.astype(object))
        lost[idx] = shapely.area(_solid(in_threads(shapely.difference, before_ref[idx].astype(object), covers),
                                        rules.tolerance_m))
    grown = present & (new_m2 >= rules.min_area_m2)
    # Houses joined into the same later footprints share one new part: it is reported on the first of them.
    if grown.any():
        pairs = pd.DataFrame({"house": ha, "footprint": a})[grown[ha]]
        first = pairs.groupby("footprint")["house"].transform("min")
        grown[pairs.loc[pairs["house"] != first, "house"].to_numpy()] = False
    shrunk = present & ~grown & (lost >= rules.min_area_m2) & (new_m2 < rules.min_area_m2)
    change = np.select([~present, grown, shrunk], ["gone", "grown", "shrunk"], default="unchanged")
    frame = pd.DataFrame({"house": np.arange(n), "change": change,
                          "new_m2": np.where(grown, new_m2, 0.0), "lost_m2": np.where(present, lost, 0.0),
                          "new_part": _kept(new_part, grown)})

    # New: later footprints that match no house and overlap no earlier footprint at all.
    matched_after = np.zeros(len(after), dtype=bool)
    matched_after[a] = True
    overlapped = np.zeros(len(after), dtype=bool)
    if len(before) and len(after):
        # Touching edges are not an overlap: only a common area of at least min_area counts.
        pairs_b, pairs_a = shapely.STRtree(after).query(before, predicate="intersects")
        common = shapely.area(in_threads(shapely.intersection, before[pairs_b], after[pairs_a]))
        overlapped[pairs_a[common >= rules.min_area_m2]] = True
    new = np.flatnonzero(~matched_after & ~overlapped & (shapely.area(after) >= rules.min_area_m2))
    return Comparison(frame, new)
