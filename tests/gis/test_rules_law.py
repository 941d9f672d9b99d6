"""The rules as the law states them, on rectangles whose areas can be checked on paper (EPSG:4546, m).

Each test is one finding of the rules review: what an approval is, whose it is, how much it covers,
when an approval is itself unlawful (8), what 补办 is, who counts for 一户一宅 (6), and what imagery
taken after the cutoff can prove.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.engine import CheckInputs, check
from gis.errors import RedlineInputError
from gis.rules import ApprovalKind, RuleSet, approval_kind
from tests.gis.test_engine import frame, houses, one, sq

CULTIVATED = frame([sq(0, 0, 400, 200)], dlbm=["0101"])  # one big 0101 parcel
NO_FARMLAND = frame([sq(5000, 5000, 10)])  # permanent farmland far away


def run(h: gpd.GeoDataFrame, approvals: gpd.GeoDataFrame | None = None, farmland: gpd.GeoDataFrame | None = None,
        **layers: gpd.GeoDataFrame):
    return check(CheckInputs(h, NO_FARMLAND if farmland is None else farmland, cultivated=CULTIVATED,
                             approvals=approvals, **layers), RuleSet())


def test_cultivated_area_is_a_fact_whatever_the_paperwork():
    """A 100 m² house on cultivated land, half approved: 100 on cultivated land, 50 of it unapproved."""
    approvals = frame([sq(9, 9, 6, 12), sq(49, 9, 12)], approved_on=["2019-01-01"] * 2, kind=["homestead"] * 2)
    h = houses(sq(10, 10, 10), sq(50, 10, 10), built_on=["2019-06-01"] * 2)
    r = run(h, approvals)
    half, whole = one(r, "H1"), one(r, "H2")
    assert half.cultivated_m2 == pytest.approx(100.0) and half.unapproved_cultivated_m2 == pytest.approx(50.0)
    assert half.approved_m2 == pytest.approx(50.0) and half.violation
    assert whole.cultivated_m2 == pytest.approx(100.0) and whole.unapproved_cultivated_m2 == 0.0
    assert not whole.violation and whole.disposition == "none"


@pytest.mark.parametrize(("kind", "legal"), [
    ("homestead", True), ("宅基地", True), ("宅基地批准书", True), ("land_conversion", True), ("农用地转用", True),
    ("农转用", True), ("planning_permit", False), ("乡村建设规划许可证", False), ("规划许可", False),
    ("building permit", False), (None, False),
])
def test_only_a_grant_or_conversion_of_the_land_legalises(kind: str | None, legal: bool):
    approvals = frame([sq(9, 9, 12)], approved_on=["2019-01-01"], kind=[kind])
    r = run(houses(sq(10, 10, 10), built_on=["2019-06-01"]), approvals)
    h = one(r)
    assert h.violation is not legal and h.unapproved_cultivated_m2 == pytest.approx(0.0 if legal else 100.0)
    if approval_kind(kind) is ApprovalKind.UNKNOWN:
        assert any("unknown kind" in w for w in r.warnings)
    if approval_kind(kind) is ApprovalKind.PLANNING_PERMIT:
        assert any("planning permits" in w for w in r.warnings)


def test_another_households_approval_covers_nothing():
    approvals = frame([sq(9, 9, 12), sq(49, 9, 12), sq(89, 9, 12)], approved_on=["2019-01-01"] * 3,
                      kind=["homestead"] * 3, household_id=["HH9", "HH2", None])
    h = houses(sq(10, 10, 10), sq(50, 10, 10), sq(90, 10, 10), built_on=["2019-06-01"] * 3,
               household_id=["HH1", "HH2", "HH3"])
    r = run(h, approvals)
    assert one(r, "H1").violation and one(r, "H1").unapproved_cultivated_m2 == pytest.approx(100.0)
    assert not one(r, "H2").violation  # the household's own approval
    assert not one(r, "H3").violation  # an approval naming no household is not contradicted


def test_the_approved_area_caps_what_is_legalised():
    """批少占多: a 120 m² house on an 80 m² approval has 40 m² unapproved, and that is 多占 (2), although
    the house is under the 130 m² standard."""
    approvals = frame([sq(9, 9, 14, 14)], approved_on=["2019-01-01"], kind=["homestead"], approved_area_m2=[80.0])
    r = run(houses(sq(10, 10, 12, 10), built_on=["2019-06-01"]), approvals)
    h = one(r)
    assert h.footprint_m2 == pytest.approx(120.0) and h.cultivated_m2 == pytest.approx(120.0)
    assert h.approved_m2 == pytest.approx(80.0) and h.unapproved_cultivated_m2 == pytest.approx(40.0)
    assert h.violation and h.rules == "2" and h.disposition == "classify"  # stock: classified


def test_an_approved_area_nobody_can_read_is_refused_not_taken_as_no_cap():
    """'80平方米' in the approved-area field: read as "not given" it capped nothing and legalised the whole 120 m²;
    the check names the row and field instead."""
    approvals = frame([sq(9, 9, 14, 14), sq(49, 9, 14, 14)], approved_on=["2019-01-01"] * 2, kind=["homestead"] * 2,
                      approved_area_m2=pd.Series([None, "80平方米"], dtype=object))
    with pytest.raises(RedlineInputError, match="not a number: '80平方米'") as refused:
        run(houses(sq(10, 10, 12, 10), built_on=["2019-06-01"]), approvals)
    assert refused.value.row == 2 and refused.value.field == "approved_area_m2"


def test_the_excess_of_an_increment_is_demolished():
    approvals = frame([sq(9, 9, 14, 14)], approved_on=["2021-01-01"], kind=["homestead"], approved_area_m2=[80.0])
    r = run(houses(sq(10, 10, 12, 10), built_on=["2021-06-01"]), approvals)
    h = one(r)
    assert h.unapproved_after_cutoff_m2 == pytest.approx(40.0) and h.occupied_m2 == pytest.approx(40.0)
    assert h.rules == "2" and h.disposition == "demolish"


def test_prohibition_8_is_about_the_approval_not_the_house():
    """H1 straddles farmland; its approval covers only its non-farmland half: 1, not 8. H2's approval
    itself lies on farmland: 8. H3 is an increment approved after it was built: 8."""
    farmland = frame([sq(0, 0, 50, 200)])  # x 0–50
    approvals = frame([sq(50, 9, 6, 12), sq(20, 9, 12), sq(139, 9, 12)],
                      approved_on=["2021-01-01", "2021-01-01", "2022-06-01"], kind=["homestead"] * 3)
    h = houses(sq(45, 10, 10), sq(21, 10, 10), sq(140, 10, 10), built_on=["2021-03-01"] * 3)
    r = run(h, approvals, farmland=farmland)
    h1, h2, h3 = one(r, "H1"), one(r, "H2"), one(r, "H3")
    assert h1.rules == "1" and h1.farmland_m2 == pytest.approx(50.0)
    assert h1.approved_m2 == pytest.approx(50.0)  # the approval's half; the farmland half no approval covers
    assert h1.unapproved_cultivated_m2 == pytest.approx(50.0) and h1.occupied_m2 == pytest.approx(50.0)
    assert h2.rules == "1,8" and h2.disposition == "demolish"
    assert h3.rules == "8" and h3.disposition == "demolish" and not h3.retro_approval


def test_an_after_the_fact_approval_of_a_stock_house_is_buban_not_8():
    """补办: a house of 2018 approved in 2023 stays to be classified, flagged, no 8; the same approval
    of a 2021 increment is 8."""
    approvals = frame([sq(9, 9, 12), sq(49, 9, 12)], approved_on=["2023-03-01"] * 2, kind=["homestead"] * 2)
    h = houses(sq(10, 10, 10), sq(50, 10, 10), built_on=["2018-05-01", "2021-05-01"])
    r = run(h, approvals)
    stock, increment = one(r, "H1"), one(r, "H2")
    assert stock.retro_approval and stock.rules == "" and stock.disposition == "classify" and stock.violation
    assert stock.unapproved_cultivated_m2 == pytest.approx(100.0)
    assert not increment.retro_approval and increment.rules == "8" and increment.disposition == "demolish"


def test_sheds_are_not_homesteads_for_one_household_one_homestead():
    h = houses(sq(10, 10, 10), sq(50, 10, 10), sq(90, 10, 10), sq(130, 10, 10),
               household_id=["HH1", "HH1", "HH2", "HH2"], use=["住宅", "附属用房", "住宅", ""],
               built_on=["2019-01-01"] * 4)
    r = run(h)
    assert one(r, "H1").rules == ""  # one home and a shed: no 6
    assert one(r, "H2").rules == ""  # the shed itself is no homestead
    assert one(r, "H3").rules == "6" and one(r, "H4").rules == "6"  # two homes (empty use = a home)


def test_a_baseline_imaged_after_the_cutoff_proves_no_stock():
    """Present on 2021-06-30 imagery proves nothing about 2020-07-03: unknown and to verify, unless a
    declared date before the cutoff stands; absent from it still proves new."""
    baseline = frame([sq(10, 10, 10), sq(50, 10, 10), sq(90, 10, 6, 10)], imaged_on=["2021-06-30"] * 3)
    h = houses(sq(10, 10, 10), sq(50, 10, 10), sq(90, 10, 10), sq(130, 10, 10),
               built_on=[None, "2019-04-01", None, None])
    r = run(h, baseline=baseline)
    seen, declared, grown, absent = (one(r, k) for k in ("H1", "H2", "H3", "H4"))
    assert seen.period == "unknown" and seen.disposition == "verify"
    assert declared.period == "before_cutoff" and declared.disposition == "classify"
    assert grown.period == "after_cutoff" and grown.after_cutoff_m2 == pytest.approx(40.0)
    assert grown.disposition == "demolish" and grown.unapproved_after_cutoff_m2 == pytest.approx(40.0)
    assert absent.period == "after_cutoff" and absent.disposition == "demolish"
    assert any("imaged after the cutoff (2021-06-30)" in w for w in r.warnings)


def test_a_baseline_at_the_cutoff_keeps_its_meaning_and_an_undated_one_warns():
    at_cutoff = frame([sq(10, 10, 10)], imaged_on=["2020-07-01"])
    r = run(houses(sq(10, 10, 10)), baseline=at_cutoff)
    assert one(r).period == "before_cutoff" and not r.warnings
    undated = run(houses(sq(10, 10, 10)), baseline=frame([sq(10, 10, 10)]))
    assert one(undated).period == "before_cutoff"
    assert any("no imaged_on" in w for w in undated.warnings)


# --- cultivated_m2 = approved_m2 + unapproved_cultivated_m2, and never depends on approvals -------------

rect = st.tuples(st.integers(0, 300), st.integers(0, 150), st.integers(3, 40), st.integers(3, 40))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(houses_=st.lists(rect, min_size=1, max_size=6), approvals_=st.lists(rect, max_size=6),
       caps=st.lists(st.one_of(st.none(), st.floats(1, 2000)), min_size=6, max_size=6),
       kinds=st.lists(st.sampled_from(["homestead", "land_conversion", "planning_permit"]), min_size=6, max_size=6))
def test_cultivated_area_splits_into_approved_and_unapproved(houses_, approvals_, caps, kinds):
    h = houses(*(sq(x, y, w, d) for x, y, w, d in houses_), built_on=["2019-01-01"] * len(houses_))
    without = check(CheckInputs(h, NO_FARMLAND, cultivated=CULTIVATED), RuleSet()).houses.set_index("house_id")
    if not approvals_:
        return
    a = frame([sq(x, y, w, d) for x, y, w, d in approvals_], approved_on=["2018-01-01"] * len(approvals_),
              kind=kinds[:len(approvals_)],
              approved_area_m2=[np.nan if c is None else c for c in caps[:len(approvals_)]])
    with_ = check(CheckInputs(h, NO_FARMLAND, cultivated=CULTIVATED, approvals=a), RuleSet())
    with_ = with_.houses.set_index("house_id")
    np.testing.assert_allclose(with_["cultivated_m2"], without["cultivated_m2"], atol=1e-6)
    np.testing.assert_allclose(with_["approved_m2"] + with_["unapproved_cultivated_m2"], with_["cultivated_m2"],
                               atol=0.01)
    assert (with_["unapproved_cultivated_m2"] >= -1e-9).all() and (with_["approved_m2"] >= -1e-9).all()
