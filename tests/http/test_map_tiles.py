"""The review map as vector tiles (counties above `map_tiles_above` cases), on both databases: each tile holds
what the GeoJSON map shows in it — same cases, same properties, same outlines to a few centimetres — scoped,
filtered, current after every change, and right as the clock passes a deadline."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from api.ingest.layers import import_layer
from tests.http.conftest import T1, Site, case_id
from tests.http.test_map_data import features
from tests.http.test_workflow_api import act

Z = 17  # a tile of about 300 m: the test county's houses of one village fit in one or two


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point (the slippy-map formula, written here independently of the server)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def to_lonlat(geometry: dict, z: int, x: int, y: int, extent: int = 4096) -> shapely.Geometry:
    """A decoded MVT geometry (tile units, y down as decoded with y_coord_down) back to lon/lat."""
    n = 2**z

    def lonlat(coords: np.ndarray) -> np.ndarray:
        px = x + coords[:, 0] / extent
        py = y + coords[:, 1] / extent
        return np.column_stack([px / n * 360 - 180, np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * py / n))))])

    return shapely.transform(shape(geometry), lonlat)


def get_tile(site: Site, layer: str, z: int, x: int, y: int, user: str = "county", **params) -> dict:
    r = site.client.get(f"/api/tiles/{layer}/{z}/{x}/{y}.pbf", headers=site.as_user(user), params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True}) if r.content else {}


def tiled_cases(site: Site, user: str = "county", **params) -> dict[str, tuple[dict, shapely.Geometry]]:
    """Every case in the tiles under the GeoJSON map's cases: code → (properties, outline in lon/lat, the
    parts from neighbouring tiles joined)."""
    geojson = features(site, user="county")["features"]
    tiles = {tile_of(*shape(f["geometry"]).centroid.coords[0], Z) for f in geojson}
    tiles |= {(x + dx, y + dy) for x, y in tiles for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    found: dict[str, tuple[dict, list]] = {}
    for x, y in tiles:
        for f in get_tile(site, "cases", Z, x, y, user, **params).get("cases", {}).get("features", []):
            code = f["properties"]["code"].split("-")[-1]
            found.setdefault(code, (f["properties"], []))[1].append(to_lonlat(f["geometry"], Z, x, y))
    return {code: (p, shapely.union_all(parts)) for code, (p, parts) in found.items()}


def test_case_tiles_hold_what_the_geojson_map_shows(site: Site):
    geojson = {f["properties"]["code"].split("-")[-1]: f for f in features(site)["features"]}
    tiled = tiled_cases(site)
    assert set(tiled) == set(geojson) and len(tiled) == 8
    for code, (props, outline) in tiled.items():
        expected = geojson[code]
        for key in ("id", "status", "disposition", "period", "township_code", "rules", "overdue"):
            assert props.get(key) == expected["properties"][key], (code, key)
        truth = shape(expected["geometry"])
        # Outlines agree to the tile's resolution (4096 units on ~300 m: under 10 cm).
        assert outline.intersection(truth).area / outline.union(truth).area > 0.99, code


def test_case_tiles_are_scoped_filtered_and_current(site: Site, monkeypatch: pytest.MonkeyPatch):
    mine = tiled_cases(site, user="officer1")
    assert len(mine) == 4 and {p["township_code"] for p, _ in mine.values()} == {T1}
    assert set(tiled_cases(site, disposition="demolish")) == {c for c, (p, _) in tiled_cases(site).items()
                                                              if p["disposition"] == "demolish"}
    assert tiled_cases(site, rule=2) == {}
    # A change shows on the next request (the cache is keyed by the case stamp)...
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    assert tiled_cases(site)["A1"][0]["status"] == "assigned"
    assert set(tiled_cases(site, status="assigned")) == {"A1"}
    # ... and so does the clock passing the study deadline, with nothing else changed.
    assert tiled_cases(site)["A1"][0]["overdue"] is False and tiled_cases(site, overdue=True) == {}
    import api.http.routes.tiles as routes

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    monkeypatch.setattr(routes, "utcnow", lambda: later)
    assert tiled_cases(site)["A1"][0]["overdue"] is True and set(tiled_cases(site, overdue=True)) == {"A1"}


def test_count_tiles_count_every_case_once(site: Site):
    """Wider than the case tiles, counts per quarter tile: over the tiles of the county every case is counted
    exactly once (by its centroid), with its kind, whatever the zoom."""
    geojson = features(site)["features"]
    for z in (9, 11, 13):
        tiles = {tile_of(*shape(f["geometry"]).centroid.coords[0], z) for f in geojson}
        tiles |= {(x + dx, y + dy) for x, y in tiles for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
        total, kinds = 0, {}
        for x, y in tiles:
            r = site.client.get(f"/api/tiles/case-counts/{z}/{x}/{y}.json", headers=site.as_user("county"))
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["total"] == sum(c["count"] for c in body["cells"])
            total += body["total"]
            for cell in body["cells"]:
                assert sum(cell["kinds"].values()) == cell["count"]
                for k, n in cell["kinds"].items():
                    kinds[k] = kinds.get(k, 0) + n
        assert total == 8, z
        assert kinds.get("demolish") == 4, (z, kinds)
    x, y = tile_of(*shape(geojson[0]["geometry"]).centroid.coords[0], 11)
    officer = site.client.get(f"/api/tiles/case-counts/11/{x}/{y}.json", headers=site.as_user("officer1")).json()
    assert officer["total"] <= 4


def test_reference_tiles_follow_imports_and_the_drawing_zooms(site: Site, tmp_path: Path):
    lon, lat = site.centre
    x, y = tile_of(lon, lat, 16)
    farmland = get_tile(site, "farmland", 16, x, y)["farmland"]["features"]
    assert farmland and {"bsm", "dlbm", "area_m2"} <= set(farmland[0]["properties"])
    assert get_tile(site, "farmland", 12, *tile_of(lon, lat, 12)) == {}  # not drawn county-wide
    # Drawn where the GeoJSON layer has it.
    reference = site.client.get("/api/layers/farmland", headers=site.as_user("county")).json()["features"]
    near = [shape(f["geometry"]) for f in reference if tile_of(*shape(f["geometry"]).centroid.coords[0], 16) == (x, y)]
    drawn = shapely.union_all([to_lonlat(f["geometry"], 16, x, y) for f in farmland])
    assert near and all(drawn.intersection(g).area / g.area > 0.98 for g in near)
    # A new import shows at once.
    extra = gpd.GeoDataFrame({"BSM": ["FX"], "DLBM": ["0101"]},
                             geometry=[shapely.box(lon + 0.0005, lat + 0.0005, lon + 0.001, lat + 0.001)],
                             crs=4326).to_crs(4546)
    extra.to_file(tmp_path / "extra.gpkg")
    import_layer(site.db.factory, "farmland", tmp_path / "extra.gpkg")
    assert len(get_tile(site, "farmland", 16, x, y)["farmland"]["features"]) == len(farmland) + 1
    # Township users see only their township's houses (these are in officer1's township).
    def houses(user: str) -> list[str]:
        tile = get_tile(site, "houses", 17, *tile_of(lon, lat, 17), user=user)
        return [f["properties"]["township_code"] for f in tile.get("houses", {}).get("features", [])]

    assert houses("county") and set(houses("officer1")) == {T1} and len(houses("officer1")) == len(houses("county"))
    assert houses("officer2") == []


def test_bad_tile_addresses_are_refused_with_a_message(site: Site):
    county = site.as_user("county")
    assert site.client.get("/api/tiles/cases/3/8/0.pbf", headers=county).status_code == 422
    assert site.client.get("/api/tiles/cases/25/0/0.pbf", headers=county).status_code == 422
    missing = site.client.get("/api/tiles/roads/3/1/1.pbf", headers=county)
    assert missing.status_code == 404 and "farmland" in missing.json()["error"]["message"]
    site.client.cookies.clear()  # the login above left a session cookie
    assert site.client.get("/api/tiles/cases/3/1/1.pbf").status_code == 401


def test_a_county_above_the_threshold_gets_the_tiled_map(site: Site):
    """The map page switches to tiles above `map_tiles_above` cases and loads the vendored VectorGrid."""
    small = site.client.get("/map", headers=site.as_user("county"))
    assert "leaflet.vectorgrid" not in small.text and json.loads(_page_data(small.text))["tiles"] is False
    site.client.app.state.settings.map_tiles_above = 0
    try:
        big = site.client.get("/map", headers=site.as_user("county"))
    finally:
        site.client.app.state.settings.map_tiles_above = 200_000
    assert big.status_code == 200 and "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in big.text
    assert json.loads(_page_data(big.text))["tiles"] is True
    assert site.client.get("/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js").status_code == 200


def _page_data(html: str) -> str:
    start = html.index('id="rl-page">') + len('id="rl-page">')
    return html[start:html.index("</script>", start)]


def test_a_tiled_server_readies_its_connections_without_touching_data(site: Site):
    """The start-up warm-up (one empty tile of each kind per pool connection, one transform each) runs on both
    databases and changes nothing the map shows."""
    from api.mapview.tiles import warm_up

    before = tiled_cases(site)
    warm_up(site.db.factory, connections=3)
    assert tiled_cases(site) == before


def test_a_tile_request_takes_one_pool_connection_and_a_revoked_token_none(site: Site):
    """A tile is read on the connection its token was checked on (`reading_user`): one checkout per request,
    not two (each a pre-ping round trip, and a second wait for the pool under a browser's six requests)."""
    from sqlalchemy import event

    headers = site.as_user("county")
    x, y = tile_of(*site.centre, Z)
    engine = site.client.app.state.engine
    checkouts: list[int] = []
    listener = lambda *_: checkouts.append(1)  # noqa: E731
    event.listen(engine.pool, "checkout", listener)
    try:
        for layer in ("cases", "farmland"):
            checkouts.clear()
            r = site.client.get(f"/api/tiles/{layer}/{Z}/{x}/{y}.pbf", headers=headers)
            assert r.status_code == 200, r.text
            assert len(checkouts) == 1, (layer, len(checkouts))
        checkouts.clear()
        r = site.client.get(f"/api/tiles/case-counts/12/{x >> 5}/{y >> 5}.json", headers=headers)
        assert r.status_code == 200 and len(checkouts) == 1, (r.status_code, len(checkouts))
    finally:
        event.remove(engine.pool, "checkout", listener)
    assert site.client.post("/api/auth/logout", headers=headers).status_code in (200, 204)
    r = site.client.get(f"/api/tiles/cases/{Z}/{x}/{y}.pbf", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["message"]
