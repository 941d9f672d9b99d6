"""`gis.files`: what a GeoParquet result says of its footprints."""

from __future__ import annotations

import pyarrow as pa
import shapely
from shapely import MultiPolygon, Point, box

from gis.files import wkb_geometry_types


def test_geometry_types_are_read_from_the_wkb_headers():
    """The `geo` metadata's geometry types come from each value's header, whatever its byte order, ISO Z code or
    EWKB SRID flag, in binary or large binary, from a slice of an array; nulls and empty values name nothing."""
    square = box(0, 0, 1, 1)
    values = [shapely.to_wkb(square), shapely.to_wkb(MultiPolygon([square]), byte_order=0),
              shapely.to_wkb(shapely.force_3d(square, 1.0), flavor="iso"),
              shapely.to_wkb(shapely.set_srid(Point(1, 2), 4546), include_srid=True), None, b""]
    for kind in (pa.binary(), pa.large_binary()):
        column = pa.array(values, type=kind)
        assert wkb_geometry_types(column) == ["MultiPolygon", "Point", "Polygon"]
        assert wkb_geometry_types(column.slice(1, 2)) == ["MultiPolygon", "Polygon"]
        assert wkb_geometry_types(pa.chunked_array([column.slice(0, 1), column.slice(3)])) == ["Point", "Polygon"]
    assert wkb_geometry_types(pa.array([], type=pa.binary())) == []
    assert wkb_geometry_types(pa.array([None], type=pa.binary())) == []
