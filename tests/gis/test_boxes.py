"""`gis.boxes.BoxIndex`: the pairs of boxes that meet, the very pairs shapely's STRtree finds (its oracle here)."""

from __future__ import annotations

import numpy as np
import shapely

from gis.boxes import BoxIndex

GK_E, GK_N = 39_500_000.0, 3_500_000.0  # zone-prefixed Gauss-Kruger magnitudes: rounding is at its worst here


def _boxes(rng: np.random.Generator, n: int, extent: float, smallest: float, largest: float) -> np.ndarray:
    x, y = GK_E + rng.uniform(0, extent, n), GK_N + rng.uniform(0, extent, n)
    w, h = rng.uniform(smallest, largest, n), rng.uniform(smallest, largest, n)
    return np.c_[x, y, x + w, y + h]


def _strtree_pairs(indexed: np.ndarray, queries: np.ndarray) -> set[tuple[int, int]]:
    """What `STRtree.query` (no predicate: envelopes that meet, touching included) gives for the same boxes."""
    tree = shapely.STRtree(shapely.box(*indexed.T))
    qi, ii = tree.query(shapely.box(*queries.T))
    return set(zip(qi.tolist(), ii.tolist(), strict=True))


def test_pairs_are_strtrees_pairs_whatever_the_sizes():
    """Boxes from a point to most of the extent, on one index (each on the level its size puts it), queried by
    boxes of every size, some of them the indexed boxes themselves, some far outside: the same pairs as the
    STRtree's, each once, ordered by query box."""
    rng = np.random.default_rng(3)
    indexed = np.r_[_boxes(rng, 3000, 5000, 1, 60), _boxes(rng, 200, 5000, 100, 900), _boxes(rng, 5, 5000, 3000, 5000),
                    _boxes(rng, 20, 5000, 0, 0)]
    queries = np.r_[_boxes(rng, 20_000, 5200, 0, 15), indexed[::7], _boxes(rng, 50, 5000, 500, 2000),
                    [[GK_E - 1e5, GK_N - 1e5, GK_E - 9e4, GK_N - 9e4]]]
    qi, ii = BoxIndex.of(indexed).pairs(queries)
    got = list(zip(qi.tolist(), ii.tolist(), strict=True))
    assert len(got) == len(set(got)), "a pair found twice"
    assert set(got) == _strtree_pairs(indexed, queries)
    assert (np.diff(qi) >= 0).all()
    assert len(got) > 20_000


def test_boxes_that_only_touch_meet():
    """A query box whose edge or corner lies exactly on an indexed box's (a house sharing a parcel's boundary)
    meets it, at any magnitude of coordinates and on any level; one a hair away does not."""
    rng = np.random.default_rng(9)
    indexed = _boxes(rng, 2000, 3000, 5, 400)
    x0, y0, x1, y1 = indexed.T
    w = rng.uniform(1, 20, len(indexed))
    touching = np.r_[np.c_[x1, y0, x1 + w, y0 + w],  # on the right edge
                     np.c_[x0 - w, y1, x0, y1 + w],  # the upper-left corner
                     np.c_[x0, y0 - w, x0 + w, y0]]  # on the bottom edge
    apart = np.c_[np.nextafter(x1, np.inf), y0, x1 + w, y0 + w]
    index = BoxIndex.of(indexed)
    qi, ii = index.pairs(touching)
    n = len(indexed)
    assert {(q, q % n) for q in range(3 * n)} <= set(zip(qi.tolist(), ii.tolist(), strict=True))
    assert set(zip(qi.tolist(), ii.tolist(), strict=True)) == _strtree_pairs(indexed, touching)
    qa, ia = index.pairs(apart)
    assert not (qa == ia).any()
    assert set(zip(qa.tolist(), ia.tolist(), strict=True)) == _strtree_pairs(indexed, apart)


def test_empty_boxes_meet_nothing():
    """An empty geometry's box (NaN) is filed nowhere and, as a query, meets nothing; an index of nothing answers
    nothing."""
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [np.nan] * 4, [5.0, 5.0, 20.0, 20.0]])
    qi, ii = BoxIndex.of(boxes).pairs(np.array([[1.0, 1.0, 2.0, 2.0], [np.nan] * 4, [15.0, 15.0, 16.0, 16.0]]))
    assert sorted(zip(qi.tolist(), ii.tolist(), strict=True)) == [(0, 0), (2, 2)]
    for index in (BoxIndex.of(np.empty((0, 4))), BoxIndex.of(np.array([[np.nan] * 4]))):
        qi, ii = index.pairs(boxes)
        assert len(qi) == len(ii) == 0
    assert len(BoxIndex.of(boxes).pairs(np.empty((0, 4)))[0]) == 0
