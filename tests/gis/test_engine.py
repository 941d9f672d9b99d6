"""The check engine against hand-computed truth (EPSG:4546, metres): no other engine's output is the oracle."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import Polygon, box
from shapely.geometry import MultiPolygon

from gis.engine import CheckInputs, check
from gis.errors import MissingCRSError, RedlineInputError
from gis.rules import RuleSet

CRS = "EPSG:4546"
X0, Y0 = 500_000.0, 2_830_000.0  # near the demo county, in the GK zone of 111°E


def sq(x: float, y: float, w: float, h: float | None = None):
    """A w×h metre rectangle whose lower-left corner is (X0+x, Y0+y)."""
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + (w if h is None else h))


def frame(geoms, crs=CRS, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


def houses(*geoms, **cols) -> gpd.GeoDataFrame:
    ids = cols.pop("house_id", [f"H{i + 1}" for i in range(len(geoms))])
    return frame(geoms, house_id=ids, **cols)


def one(result, house_id="H1") -> pd.Series:
    return result.houses.set_index("house_id").loc[house_id]


def test_house_wholly_on_farmland_is_rule_1():
    r = check(CheckInputs(houses(sq(10, 10, 10)), frame([sq(0, 0, 100)])), RuleSet())
    h = one(r)
    assert h.footprint_m2 == pytest.approx(100.0)
    assert h.farmland_m2 == pytest.approx(100.0)
    assert h.violation
    assert h.rules == "1"
    assert h.period == "unknown" and h.disposition == "verify"


def test_house_touching_a_farmland_edge_has_zero_area_and_no_violation():
    r = check(CheckInputs(houses(sq(100, 0, 10)), frame([sq(0, 0, 100)])), RuleSet())
    h = one(r)
    assert h.farmland_m2 == 0.0
    assert not h.violation
    assert h.disposition == "none" and h.rules == ""


def test_house_in_a_farmland_hole_is_not_on_farmland():
    ring = Polygon(sq(0, 0, 100).exterior.coords, [sq(40, 40, 20).exterior.coords])
    r = check(CheckInputs(houses(sq(45, 45, 10), sq(35, 45, 10)), frame([ring])), RuleSet())
    assert one(r, "H1").farmland_m2 == 0.0
    assert one(r, "H2").farmland_m2 == pytest.approx(50.0)  # half in the hole, half on farmland


def test_overlapping_farmland_polygons_count_once():
    farmland = frame([sq(0, 0, 60), sq(40, 0, 60), sq(0, 0, 60)])  # a duplicate and an overlap
    r = check(CheckInputs(houses(sq(50, 10, 20), sq(30, 10, 20)), farmland), RuleSet())
    assert one(r, "H1").farmland_m2 == pytest.approx(400.0)
    assert one(r, "H2").farmland_m2 == pytest.approx(400.0)


def test_sliver_below_threshold_is_reported_but_no_violation():
    r = check(CheckInputs(houses(sq(99.7, 10, 10)), frame([sq(0, 0, 100)])), RuleSet())
    h = one(r)
    assert h.farmland_m2 == pytest.approx(3.0)  # 0.3 m × 10 m
    assert h.violation
    r = check(CheckInputs(houses(sq(99.95, 10, 10)), frame([sq(0, 0, 100)])), RuleSet())
    h = one(r)
    assert h.farmland_m2 == pytest.approx(0.5)
    assert not h.violation and h.rules == "" and h.disposition == "none"


def test_invalid_bow_tie_farmland_is_repaired_before_measuring():
    # A bow-tie over (0,0)-(20,20): two triangles of 100 m² each; its naive signed area is 0.
    bow = Polygon([(X0, Y0), (X0 + 20, Y0 + 20), (X0 + 20, Y0), (X0, Y0 + 20), (X0, Y0)])
    assert bow.area == pytest.approx(0.0)
    r = check(CheckInputs(houses(sq(0, 0, 20)), frame([bow])), RuleSet())
    assert one(r).farmland_m2 == pytest.approx(200.0)
    assert (r.repairs["action"] == "repaired").sum() == 1
    assert r.repairs.iloc[0]["source"] == "farmland"


def test_invalid_houses_are_repaired_even_when_every_turn_goes_one_way():
    # Convex houses skip GEOS validation; a pentagram turns the same way at every vertex yet crosses
    # itself, and a bow-tie house crosses itself too: both must be found invalid and repaired.
    star = Polygon([(X0 + 50 + 10 * np.cos(a), Y0 + 50 + 10 * np.sin(a))
                    for a in np.pi / 2 + np.arange(5) * 4 * np.pi / 5])
    bow = Polygon([(X0, Y0), (X0 + 20, Y0 + 20), (X0 + 20, Y0), (X0, Y0 + 20), (X0, Y0)])
    r = check(CheckInputs(houses(star, bow, sq(10, 60, 10)), frame([sq(0, 0, 100)])), RuleSet())
    assert sorted(r.repairs.loc[r.repairs["action"] == "repaired", "row"]) == [1, 2]
    assert (r.repairs["source"] == "houses").all()
    assert one(r, "H1").footprint_m2 == pytest.approx(shapely.make_valid(star, method="structure").area)
    assert one(r, "H1").farmland_m2 == pytest.approx(one(r, "H1").footprint_m2)
    assert one(r, "H2").footprint_m2 == pytest.approx(200.0)
    assert one(r, "H3").farmland_m2 == pytest.approx(100.0)


def test_multipart_house_sums_its_parts():
    house = MultiPolygon([sq(10, 10, 10), sq(150, 10, 10)])
    r = check(CheckInputs(houses(house), frame([sq(0, 0, 100)])), RuleSet())
    h = one(r)
    assert h.footprint_m2 == pytest.approx(200.0)
    assert h.farmland_m2 == pytest.approx(100.0)


@pytest.mark.parametrize(("built_on", "period", "disposition"), [
    ("2020-07-02", "before_cutoff", "classify"),
    ("2020-07-03", "after_cutoff", "demolish"),  # the cutoff day itself is already an increment
    ("2023-01-15", "after_cutoff", "demolish"),
])
def test_cutoff_is_inclusive(built_on, period, disposition):
    r = check(CheckInputs(houses(sq(10, 10, 10), built_on=[built_on]), frame([sq(0, 0, 100)])), RuleSet())
    h = one(r)
    assert h.period == period
    assert h.disposition == disposition
    expected_after = 100.0 if period == "after_cutoff" else 0.0
    assert h.after_cutoff_m2 == pytest.approx(expected_after)
    assert h.farmland_after_cutoff_m2 == pytest.approx(expected_after)


def test_cutoff_is_a_setting():
    rules = RuleSet(cutoff=dt.date(2021, 1, 1))
    r = check(CheckInputs(houses(sq(10, 10, 10), built_on=["2020-12-31"]), frame([sq(0, 0, 100)])), rules)
    assert one(r).period == "before_cutoff"


def test_extension_after_the_baseline_is_an_increment_for_its_new_part_only():
    # Old house 10×10 at x 110..120 (off farmland); extended west by 10 m onto farmland (x 100..110 is not
    # farmland, farmland ends at x=105): the new part is 10×10, of which 5×10 lies on farmland.
    farmland = frame([sq(0, 0, 105, 200)])
    old = sq(110, 10, 10)
    extended = sq(100, 10, 20, 10)
    r = check(CheckInputs(houses(extended, built_on=["2015-05-01"]), farmland, baseline=frame([old])), RuleSet())
    h = one(r)
    assert h.period == "extended_after_cutoff"
    assert h.after_cutoff_m2 == pytest.approx(100.0)
    assert h.farmland_m2 == pytest.approx(50.0)
    assert h.farmland_after_cutoff_m2 == pytest.approx(50.0)
    assert h.disposition == "demolish"
    assert not h.date_conflict  # an old house, extended: the declared date is the original one


def test_extension_off_farmland_of_a_stock_house_on_farmland_is_classified():
    farmland = frame([sq(0, 0, 100)])
    old = sq(90, 10, 10)  # on farmland, existed at the cutoff
    extended = sq(90, 10, 20, 10)  # new part x 100..110 is off farmland
    r = check(CheckInputs(houses(extended), farmland, baseline=frame([old])), RuleSet())
    h = one(r)
    assert h.period == "extended_after_cutoff"
    assert h.farmland_after_cutoff_m2 == pytest.approx(0.0)
    assert h.disposition == "classify"


def test_imagery_beats_a_declared_date_and_flags_the_conflict():
    farmland = frame([sq(0, 0, 100)])
    r = check(CheckInputs(houses(sq(10, 10, 10), sq(50, 10, 10), built_on=["2021-03-01", "2018-01-01"]),
                          farmland, baseline=frame([sq(10, 10, 10)])), RuleSet())
    h1, h2 = one(r, "H1"), one(r, "H2")
    assert h1.period == "before_cutoff" and h1.date_conflict and h1.disposition == "classify"
    assert h2.period == "after_cutoff" and h2.date_conflict and h2.disposition == "demolish"


def test_cultivated_land_classes():
    dltb = frame([sq(0, 0, 50, 100), sq(50, 0, 50, 100), sq(100, 0, 50, 100), sq(150, 0, 50, 100)],
                 dlbm=["0101", "0103", "0702", "1006"])
    h = houses(sq(40, 10, 20), sq(120, 10, 20), sq(140, 10, 20), built_on=["2022-01-01"] * 3)
    r = check(CheckInputs(h, frame([sq(1000, 0, 10)]), cultivated=dltb), RuleSet())
    assert one(r, "H1").cultivated_m2 == pytest.approx(400.0)  # 水田 + 旱地
    assert one(r, "H1").disposition == "demolish" and one(r, "H1").rules == "2"  # 400 m² > 130 m²
    assert one(r, "H2").cultivated_m2 == 0.0  # homestead land
    assert not one(r, "H2").violation
    assert one(r, "H3").cultivated_m2 == 0.0  # homestead + rural road


def test_rule_2_only_above_the_homestead_standard():
    dltb = frame([sq(0, 0, 100)], dlbm=["0102"])
    h = houses(sq(10, 10, 10), sq(30, 30, 12), built_on=["2022-01-01"] * 2)  # 100 m² and 144 m²
    r = check(CheckInputs(h, frame([sq(1000, 0, 10)]), cultivated=dltb), RuleSet())
    assert one(r, "H1").rules == ""
    assert one(r, "H2").rules == "2"


def test_rule_4_contracted_plot_and_plot_areas():
    dltb = frame([sq(0, 0, 100)], dlbm=["0101"])
    plots = frame([sq(0, 0, 15, 100), sq(15, 0, 85, 100)], plot_id=["P1", "P2"])
    r = check(CheckInputs(houses(sq(10, 10, 10)), frame([sq(1000, 0, 10)]), cultivated=dltb, plots=plots), RuleSet())
    assert "4" in one(r).rules.split(",")
    areas = r.plot_areas.set_index("plot_id")["area_m2"]
    assert areas["P1"] == pytest.approx(50.0) and areas["P2"] == pytest.approx(50.0)
    assert one(r).plot_areas == "P1:50.00;P2:50.00"


def test_rule_6_household_with_another_homestead():
    dltb = frame([sq(0, 0, 100)], dlbm=["0101"])
    h = houses(sq(10, 10, 10), sq(300, 10, 10), sq(50, 50, 10), household_id=["HH1", "HH1", "HH2"])
    hh = pd.DataFrame({"household_id": ["HH1", "HH2"], "homesteads_elsewhere": [0, 1]})
    r = check(CheckInputs(h, frame([sq(1000, 0, 10)]), cultivated=dltb, households=hh), RuleSet())
    assert one(r, "H1").rules == "6"  # the household also holds H2
    assert one(r, "H2").rules == ""  # H2 is off cultivated land: no violation to qualify
    assert one(r, "H3").rules == "6"  # the register says HH2 holds another homestead


def test_occupied_area_counts_farmland_and_unapproved_cultivated_land_once():
    dltb = frame([sq(0, 0, 100)], dlbm=["0101"])
    farmland = frame([sq(0, 0, 50, 100)])  # permanent farmland lies on the cultivated parcel's west half
    r = check(CheckInputs(houses(sq(45, 10, 10), sq(10, 10, 10), sq(70, 10, 10)), farmland, cultivated=dltb), RuleSet())
    assert one(r, "H1").occupied_m2 == pytest.approx(100.0)  # 50 on both layers + 50 on cultivated only
    assert one(r, "H2").occupied_m2 == pytest.approx(100.0)
    assert one(r, "H3").occupied_m2 == pytest.approx(100.0) and one(r, "H3").farmland_m2 == 0.0


def test_rule_8_and_valid_approvals():
    dltb = frame([sq(0, 0, 200)], dlbm=["0101"])
    farmland = frame([sq(0, 0, 50, 200)])
    approvals = frame([sq(9, 9, 12), sq(99, 9, 12), sq(139, 9, 12)],
                      approved_on=["2021-01-01", "2021-01-01", "2022-06-01"], kind=["homestead"] * 3)
    h = houses(sq(10, 10, 10), sq(100, 10, 10), sq(140, 10, 10),
               built_on=["2021-03-01", "2021-03-01", "2021-03-01"])
    r = check(CheckInputs(h, farmland, cultivated=dltb, approvals=approvals), RuleSet())
    h1, h2, h3 = one(r, "H1"), one(r, "H2"), one(r, "H3")
    # H1: an approval that put a house on permanent basic farmland: illegal, still demolished.
    assert h1.rules == "1,8" and h1.disposition == "demolish" and h1.approved_m2 == 0.0
    # H2: approved before construction on ordinary cultivated land: legal.
    assert h2.approved_m2 == pytest.approx(100.0) and h2.occupied_m2 == 0.0
    assert not h2.violation and h2.disposition == "none" and h2.rules == ""
    # H3: approval dated after construction started: rule 8, and it legalises nothing.
    assert h3.rules == "8" and h3.disposition == "demolish"


def test_geographic_input_is_reprojected_to_the_gauss_kruger_zone():
    proj = houses(sq(10, 10, 10)).to_crs("EPSG:4490")
    farm = frame([sq(0, 0, 100)]).to_crs("EPSG:4490")
    r = check(CheckInputs(proj, farm), RuleSet())
    assert r.houses.crs.to_epsg() == 4546
    assert one(r).footprint_m2 == pytest.approx(100.0, abs=0.01)
    assert one(r).farmland_m2 == pytest.approx(100.0, abs=0.01)


def test_missing_crs_is_refused():
    h = houses(sq(10, 10, 10)).set_crs(None, allow_override=True)
    with pytest.raises(MissingCRSError):
        check(CheckInputs(h, frame([sq(0, 0, 100)])), RuleSet())


def test_duplicate_house_ids_name_the_row():
    with pytest.raises(RedlineInputError, match=r"row 2.*field house_id"):
        check(CheckInputs(houses(sq(0, 0, 1), sq(5, 5, 1), house_id=["A", "A"]), frame([sq(0, 0, 100)])), RuleSet())


def test_bad_date_names_row_and_field():
    with pytest.raises(RedlineInputError, match=r"row 2.*built_on"):
        check(CheckInputs(houses(sq(0, 0, 1), sq(5, 5, 1), built_on=["2020-01-01", "soon"]),
                          frame([sq(0, 0, 100)])), RuleSet())


def test_threads_give_the_same_answer_as_one():
    import numpy as np
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(0, 2000, 25_000), rng.uniform(0, 2000, 25_000)
    h = houses(*[sq(x, y, 8, 12) for x, y in zip(xs, ys, strict=True)])
    farm = frame([sq(x, y, 60) for x, y in zip(rng.uniform(0, 2000, 400), rng.uniform(0, 2000, 400),
                                                strict=True)])
    one_thread = check(CheckInputs(h, farm), RuleSet(), workers=1).houses
    two = check(CheckInputs(h, farm), RuleSet(), workers=2).houses
    pd.testing.assert_frame_equal(one_thread.drop(columns="geometry"), two.drop(columns="geometry"))
    assert (one_thread.farmland_m2 > 0).sum() > 100


def _footprints(gdf: gpd.GeoDataFrame, wkb=None):
    """`gdf`'s houses as `redline check` reads them from GeoParquet: attributes beside the footprints' WKB."""
    import pyarrow as pa

    from gis.footprints import Footprints

    frame_ = pd.DataFrame(gdf.drop(columns="geometry")).reset_index(drop=True)
    frame_.insert(0, "_row", np.arange(1, len(frame_) + 1))
    encoded = wkb if wkb is not None else pa.array(shapely.to_wkb(gdf.geometry.to_numpy()), type=pa.binary())
    return Footprints(frame_, encoded, gdf.crs)


def _a_county_with_every_layer(rng: np.random.Generator, n: int = 3000):
    """Houses of every awkward kind on every layer: rotated rectangles, an L, a bow-tie, an empty one, a one-part
    and a two-part multipolygon, a holed house, a 40-gon, houses sharing a farmland edge exactly; declared dates,
    households, baseline imagery before and after the cutoff, approvals of each kind, contracted plots."""
    from shapely import affinity

    xy = rng.uniform(0, 3000, (n, 2))
    angle = rng.choice([0.0, 0.0, 17.0, 45.0], n)
    geoms = [affinity.rotate(sq(x, y, 9, 13), a, origin=(X0 + x, Y0 + y))
             for (x, y), a in zip(xy, angle, strict=True)]
    odd = [Polygon([(X0, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 10), (X0 + 10, Y0 + 10), (X0 + 10, Y0 + 20),
                    (X0, Y0 + 20)]),
           Polygon([(X0 + 40, Y0 + 40), (X0 + 50, Y0 + 50), (X0 + 50, Y0 + 40), (X0 + 40, Y0 + 50)]), Polygon(),
           MultiPolygon([sq(60, 0, 10)]), MultiPolygon([sq(80, 0, 10), sq(95, 0, 5)]),
           Polygon(sq(110, 0, 20).exterior.coords, [sq(115, 5, 5).exterior.coords]),
           shapely.Point(X0 + 150, Y0 + 10).buffer(8, quad_segs=10), sq(200, 0, 10), sq(210, 0, 10)]
    geoms = odd + geoms
    m = len(geoms)
    corners, sizes = rng.uniform(0, 3000, (2, 150)), rng.uniform(20, 200, (2, 150))
    farmland = frame([*(sq(x, y, w, h) for x, y, w, h in zip(*corners, *sizes, strict=True)), sq(150, -50, 60, 100)])
    dltb = frame([sq(x, y, 250) for x, y in rng.uniform(0, 3000, (60, 2))],
                 dlbm=rng.choice(["0101", "0103", "0201"], 60))
    imaged = [g for g in geoms[::3] if not g.is_empty]
    baseline = frame(imaged, imaged_on=rng.choice(["2019-05-01", "2021-04-01", None], len(imaged)))
    approvals = frame([sq(x, y, 30) for x, y in rng.uniform(0, 3000, (80, 2))],
                      approved_on=rng.choice(["2019-01-01", "2021-01-01", "2023-06-01", None], 80),
                      kind=rng.choice(["homestead", "land_conversion", "planning_permit", "?"], 80),
                      approved_area_m2=rng.choice([50.0, np.nan], 80))
    plots = frame([sq(x, y, 80) for x, y in rng.uniform(0, 3000, (200, 2))], plot_id=[f"P{i}" for i in range(200)])
    hh = [f"HH{k}" for k in rng.integers(0, m // 2, m)]
    h = houses(*geoms, built_on=rng.choice(["2018-03-01", "2020-07-03", "2022-01-01", None], m), household_id=hh,
               use=rng.choice(["住宅", "仓库", None], m))
    households = pd.DataFrame({"household_id": [f"HH{k}" for k in range(m // 2)],
                               "homesteads_elsewhere": rng.integers(0, 2, m // 2)})
    return h, dict(farmland=farmland, cultivated=dltb, baseline=baseline, approvals=approvals, plots=plots,
                   households=households)


@pytest.mark.parametrize("workers", [1, 2])
def test_footprints_left_as_bytes_give_what_decoded_houses_give(workers):
    """`redline check` on GeoParquet hands the engine the houses as their file's WKB (`Footprints`), and the engine
    decodes only the footprints the clip kernel cannot measure from their rings. On a county with every layer and
    every awkward footprint the answer — every column, the plot areas, the repairs, the footprints — is the one the
    same houses give decoded, to the last bit; and the bytes written out are the input's for every footprint kept
    as read, a fresh encoding of the repaired one."""
    h, layers = _a_county_with_every_layer(np.random.default_rng(11))
    decoded = check(CheckInputs(h, **layers), RuleSet(), workers=workers)
    as_bytes = check(CheckInputs(_footprints(h), **layers), RuleSet(), workers=workers)
    pd.testing.assert_frame_equal(as_bytes.table, decoded.table, check_exact=True)
    pd.testing.assert_frame_equal(as_bytes.plot_areas, decoded.plot_areas, check_exact=True)
    pd.testing.assert_frame_equal(as_bytes.repairs.reset_index(drop=True), decoded.repairs.reset_index(drop=True))
    assert as_bytes.warnings == decoded.warnings
    assert shapely.equals_exact(as_bytes.houses.geometry.to_numpy(), decoded.houses.geometry.to_numpy(), 0).all()
    t = decoded.table.set_index("house_id")
    # The county exercises what it claims: demolitions, approvals, plots, repairs and drops.
    assert (t.disposition == "demolish").sum() > 20 and (t.approved_m2 > 0).any() and t.rules.str.contains("8").any()
    assert len(decoded.plot_areas) > 50 and set(decoded.repairs["action"]) == {"repaired", "dropped"}
    assert "H3" not in t.index  # the empty footprint, dropped
    written = as_bytes.footprints.wkb().to_pylist()
    given = dict(zip(h["house_id"], shapely.to_wkb(h.geometry.to_numpy()), strict=True))
    kept = dict(zip(as_bytes.table["house_id"], written, strict=True))
    assert kept["H1"] == given["H1"] and kept["H10"] == given["H10"]  # the L and a rectangle: the very bytes
    assert kept["H2"] != given["H2"] and shapely.is_valid(shapely.from_wkb(kept["H2"]))  # the repaired bow-tie


def test_footprints_in_another_crs_or_with_z_are_decoded_and_give_the_same_answer():
    """Footprints in CGCS2000 degrees are reprojected (every vertex moves: all are decoded), footprints with Z
    values lose them in cleaning (GeoArrow leaves such a column to GEOS), and footprints without a CRS are refused
    as a GeoDataFrame without one is: each as the same houses decoded."""
    rng = np.random.default_rng(8)
    h = houses(*[sq(x, y, 9, 12) for x, y in rng.uniform(0, 500, (300, 2))])
    farm = frame([sq(100, 100, 200)])
    degrees = h.to_crs("EPSG:4490")
    for given, crs in ((degrees, None), (degrees, CRS), (h.assign(geometry=shapely.force_3d(h.geometry, 5.0)), None)):
        decoded = check(CheckInputs(given, farm), RuleSet(), crs=crs)
        as_bytes = check(CheckInputs(_footprints(given), farm), RuleSet(), crs=crs)
        pd.testing.assert_frame_equal(as_bytes.table, decoded.table, check_exact=True)
        assert as_bytes.crs == decoded.crs and as_bytes.crs.to_epsg() == 4546
        written = as_bytes.footprints.wkb()  # None: the writer encodes the (reprojected) footprints afresh
        assert (written is None) == (given is degrees)
        if written is not None:
            assert not shapely.has_z(shapely.from_wkb(written.to_pylist())).any()
        assert (decoded.table.farmland_m2 > 0).sum() > 20
    with pytest.raises(MissingCRSError):
        check(CheckInputs(_footprints(h.set_crs(None, allow_override=True)), farm), RuleSet())


def test_only_the_footprints_the_kernel_cannot_measure_are_decoded():
    """Of a county's rectangles, one L and a bow-tie, the engine decodes the L and the bow-tie (GEOS must clip and
    repair them) and whatever a later step needs as geometry — here the houses with a part built after the cutoff
    on farmland — and no other house."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 2000, (2000, 2))
    ell = Polygon([(X0, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 10), (X0 + 10, Y0 + 10), (X0 + 10, Y0 + 20), (X0, Y0 + 20)])
    bow = Polygon([(X0 + 40, Y0 + 40), (X0 + 50, Y0 + 50), (X0 + 50, Y0 + 40), (X0 + 40, Y0 + 50)])
    h = houses(ell, bow, *[sq(x, y, 10, 12) for x, y in xy],
               built_on=["2019-01-01", "2019-01-01", *rng.choice(["2019-01-01", "2021-05-01"], len(xy))])
    farm = frame([sq(300 * i + 50, 300 * j + 50, 150) for i in range(7) for j in range(7)])  # none overlaps another
    result = check(CheckInputs(_footprints(h), farm), RuleSet())
    made = ~shapely.is_missing(result.footprints.objects)
    t = result.table
    new_on_farmland = ((t.period == "after_cutoff") & (t.farmland_m2 > 0)).to_numpy()
    assert made[:2].all()
    assert (made[2:] == new_on_farmland[2:]).all() and 20 < new_on_farmland.sum() < len(t) // 4


def test_after_a_repair_only_the_repaired_houses_rings_are_read_again(monkeypatch):
    """Cleaning repairs a bow-tie and drops an empty footprint among 200 houses; the clip kernel's rings of the
    houses cleaning left alone are the ones read before it (reading them all again cost ~0.15–0.5 s a million
    houses on any delivery with one repair), the repaired house's are read afresh, and together they are what
    reading the cleaned houses from scratch gives, row for row."""
    import gis.engine as engine
    from gis.kernels import convex_clip_polygons
    from tests.gis.test_kernels import _rings_by_row

    bow = Polygon([(X0 + 40, Y0 + 40), (X0 + 50, Y0 + 50), (X0 + 50, Y0 + 40), (X0 + 40, Y0 + 50)])
    ell = Polygon([(X0, Y0 + 200), (X0 + 20, Y0 + 200), (X0 + 20, Y0 + 210), (X0 + 10, Y0 + 210), (X0 + 10, Y0 + 220),
                   (X0, Y0 + 220)])  # valid, not convex: GEOS's to clip
    grid = [sq(15 * (i % 20), 60 + 15 * (i // 20), 10) for i in range(197)]
    h = houses(grid[0], bow, Polygon(), ell, *grid[1:])
    read: list[int] = []

    def counting(geoms):
        read.append(len(geoms))
        return convex_clip_polygons(geoms)

    monkeypatch.setattr(engine, "convex_clip_polygons", counting)
    repairs: list[pd.DataFrame] = []
    cleaned, shapes = engine._prepare_houses(h, engine.working_crs(h, None), repairs, None)
    convex, clip = shapes.convex, shapes.clip
    assert read == [200, 1], "only the repaired bow-tie is read again"
    assert len(cleaned) == 199 and sorted(pd.concat(repairs)["action"]) == ["dropped", "repaired"]
    want_convex, want_clip = convex_clip_polygons(cleaned.geometry.to_numpy())
    assert convex.tolist() == want_convex.tolist() and convex.sum() == 197
    assert _rings_by_row(convex, clip) == _rings_by_row(want_convex, want_clip)

    monkeypatch.undo()
    farm = frame([sq(0, 0, 100), Polygon([(X0 + 5, Y0 + 150), (X0 + 300, Y0 + 150), (X0 + 300, Y0 + 230),
                                          (X0 + 5, Y0 + 230)])])
    got = check(CheckInputs(h, farm), RuleSet()).houses.set_index("house_id")["farmland_m2"]
    footprints = cleaned.set_index("house_id").geometry
    truth = shapely.area(shapely.intersection(footprints.to_numpy()[:, None], farm.geometry.to_numpy()[None, :]))
    assert got.reindex(footprints.index).to_numpy() == pytest.approx(truth.sum(axis=1), abs=1e-6)
