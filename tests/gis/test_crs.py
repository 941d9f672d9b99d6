"""CRSs are compared by definition; the Gauss-Kruger zone follows the longitude; degrees never give areas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS, Transformer
from shapely import Point, box

from gis.crs import CGCS2000, gauss_kruger_zone, require_projected, same_crs, to_projected, transformer
from gis.errors import GeographicCRSError, MissingCRSError
from tests.conftest import fixture_path

GK_117E = [
    "cgcs2000_3deg_gk_cm117e_arcgis_gauss_kruger.prj",
    "cgcs2000_3deg_gk_cm117e_arcgis_with_vertcs_yellow_sea_1985.prj",
    "cgcs2000_3deg_gk_cm117e_gdal_wkt1_epsg4548.prj",
    "cgcs2000_3deg_gk_cm117e_transverse_mercator_variant.prj",
]


@pytest.mark.parametrize("name", GK_117E)
def test_real_prj_texts_are_cgcs2000_gk_117e_by_definition(name):
    crs = CRS.from_wkt(fixture_path("vector", "prj_samples", name).read_text())
    assert same_crs(crs, 4548)
    assert not same_crs(crs, 4546)  # CM 111E is another zone


def test_geographic_prj_is_not_a_projected_zone():
    crs = CRS.from_wkt(fixture_path("vector", "prj_samples", "cgcs2000_geographic_arcgis.prj").read_text())
    assert same_crs(crs, 4490)
    assert not same_crs(crs, 4548)


@pytest.mark.parametrize(("lon", "epsg"), [(112.4, 4546), (111.0, 4546), (116.4, 4548), (75.2, 4534),
                                            (134.9, 4554), (109.4, 4545), (109.6, 4546)])
def test_gauss_kruger_zone_from_longitude(lon, epsg):
    assert gauss_kruger_zone(lon).to_epsg() == epsg


def test_longitude_outside_china_is_refused():
    with pytest.raises(GeographicCRSError):
        gauss_kruger_zone(9.5)


def test_geographic_frame_goes_to_its_zone_and_areas_are_metres():
    frame = gpd.GeoDataFrame(geometry=[Point(112.4, 25.6).buffer(0.001)], crs=4490)
    projected = to_projected(frame)
    assert projected.crs.to_epsg() == 4546
    assert 33_000 < projected.area.iloc[0] < 37_000  # π × 111 m (lat) × 100 m (lon at 25.6°N)


def test_missing_crs_is_an_error_not_a_guess():
    with pytest.raises(MissingCRSError):
        to_projected(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))


def test_require_projected_refuses_degrees():
    with pytest.raises(GeographicCRSError):
        require_projected(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=4490), "houses")


def test_target_identical_by_definition_is_not_reprojected():
    crs = CRS.from_wkt(fixture_path("vector", "prj_samples", GK_117E[0]).read_text())
    frame = gpd.GeoDataFrame(geometry=[box(500_000, 4_400_000, 500_010, 4_400_010)], crs=crs)
    out = to_projected(frame, 4548)
    assert out.geometry.iloc[0].equals(frame.geometry.iloc[0])
    assert out.crs.to_epsg() == 4548


#: The pairs Redline transforms between: the county's Gauss-Kruger zones, CGCS2000 and WGS 84 degrees, and
#: Web Mercator (the map's tiles).
PAIRS = [(4546, 3857), (3857, 4546), (4546, 4326), ("EPSG:4326", 4546), (3857, 4326), (4490, 4546), (4546, 4490),
         (4549, 4546), (CRS.from_epsg(4547), CGCS2000)]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
def test_the_shared_transformer_gives_what_pyproj_gives_for_the_pair(source, target):
    """`transformer` rebuilds a one-way operation from its pipeline text (a new thread copies that in under a
    millisecond instead of 0.1 s of database lookups): the same numbers, to the last bit, in both directions of
    use (points and bounds)."""
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(108, 115, 500), rng.uniform(24, 30, 500)
    x, y = Transformer.from_crs(4326, source, always_xy=True).transform(lon, lat)
    reference = Transformer.from_crs(source, target, always_xy=True)
    shared = transformer(source, target)
    assert shared.fast is not shared.chosen  # made from the operation's pipeline text, not from the two CRSs
    np.testing.assert_array_equal(np.array(shared.transform(x, y)), np.array(reference.transform(x, y)))
    box = (float(np.min(x)), float(np.min(y)), float(np.max(x)), float(np.max(y)))
    assert shared.transform_bounds(*box, densify_pts=21) == reference.transform_bounds(*box, densify_pts=21)


def test_where_proj_chooses_between_operations_per_point_it_keeps_choosing():
    """NAD27 → WGS 84 has dozens of operations (grids by region): no single pipeline may stand in for them."""
    shared = transformer(4267, 4326)
    assert shared.fast is shared.chosen
