"""The HTTP API over both databases: case lists and filters, GeoJSON in EPSG:4326, errors, the map page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely import box

from api.importing import import_layer
from api.main import create_app
from api.scanning import scan
from api.settings import Settings
from tests.conftest import DEMO, Database

TO_WEB = Transformer.from_crs(4546, 4326, always_xy=True)


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """Demo townships, one farmland block and five houses in the first village; scanned."""
    import_layer(db.factory, "townships", DEMO / "townships.parquet")
    villages = gpd.read_parquet(DEMO / "townships.parquet")
    village = villages[villages["XZQDM"].str.len() == 12].iloc[0]
    c = village.geometry.representative_point()
    x, y = c.x, c.y
    gpd.GeoDataFrame({"BSM": ["F1"], "DLBM": ["0101"]}, geometry=[box(x, y, x + 100, y + 100)],
                     crs=4546).to_file(tmp_path / "f.gpkg")
    houses = gpd.GeoDataFrame(
        {"id": ["H1", "H2", "H3", "H4", "H5"],
         "built_on": ["2021-05-01", "2019-01-01", "2022-01-01", None, "2021-01-01"]},
        geometry=[box(x + 10, y + 10, x + 20, y + 20), box(x + 30, y + 10, x + 45, y + 22),
                  box(x + 95, y + 50, x + 105, y + 60), box(x + 50, y + 50, x + 60, y + 60),
                  box(x + 200, y + 200, x + 210, y + 210)], crs=4546)
    houses.to_file(tmp_path / "h.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "f.gpkg")
    import_layer(db.factory, "houses", tmp_path / "h.gpkg")
    scan(db.factory)
    app = create_app(Settings(database_url=db.url))
    with TestClient(app) as test_client:
        test_client.village_code = village["XZQDM"]  # type: ignore[attr-defined]
        test_client.centre = TO_WEB.transform(x + 50, y + 50)  # type: ignore[attr-defined]
        yield test_client
    app.state.engine.dispose()


def test_list_cases_with_filters(client: TestClient):
    body = client.get("/api/cases").json()
    assert body["total"] == 4  # H5 is off farmland
    by_code = {i["code"].split("-")[-1]: i for i in body["items"]}
    assert by_code["H1"]["disposition"] == "demolish" and by_code["H1"]["farmland_m2"] == pytest.approx(100.0)
    assert by_code["H2"]["disposition"] == "classify"
    assert by_code["H3"]["farmland_m2"] == pytest.approx(50.0)
    assert by_code["H4"]["period"] == "unknown" and by_code["H4"]["disposition"] == "verify"
    assert by_code["H1"]["farmland_mu"] == pytest.approx(0.15, abs=0.001)
    assert all(i["village_code"] == client.village_code for i in body["items"])  # type: ignore[attr-defined]
    assert client.get("/api/cases", params={"disposition": "demolish"}).json()["total"] == 2
    assert client.get("/api/cases", params={"period": "before_cutoff"}).json()["total"] == 1
    assert client.get("/api/cases", params={"rule": 1}).json()["total"] == 4
    assert client.get("/api/cases", params={"rule": 2}).json()["total"] == 0
    assert client.get("/api/cases", params={"township": "000000000000"}).json()["total"] == 0
    page = client.get("/api/cases", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 4 and len(page["items"]) == 2


def test_geojson_by_bbox_in_wgs84(client: TestClient):
    lon, lat = client.centre  # type: ignore[attr-defined]
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    fc = client.get("/api/cases", params={"format": "geojson", "bbox": bbox}).json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4
    x, y = fc["features"][0]["geometry"]["coordinates"][0][0][0]
    assert abs(x - lon) < 0.01 and abs(y - lat) < 0.01
    far = f"{lon + 1},{lat + 1},{lon + 1.01},{lat + 1.01}"
    assert client.get("/api/cases", params={"format": "geojson", "bbox": far}).json()["features"] == []
    farmland = client.get("/api/layers/farmland", params={"bbox": bbox}).json()
    assert len(farmland["features"]) == 1 and farmland["truncated"] is False


def test_layer_truncates_instead_of_flooding_the_browser(client: TestClient):
    body = client.get("/api/layers/admin", params={"limit": 10}).json()
    assert body["truncated"] is True and body["total"] == 48 and body["features"] == []


def test_one_case_and_errors(client: TestClient):
    first = client.get("/api/cases").json()["items"][0]
    feature = client.get(f"/api/cases/{first['id']}").json()
    assert feature["type"] == "Feature" and feature["properties"]["code"] == first["code"]
    missing = client.get("/api/cases/999999")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
    bad = client.get("/api/cases", params={"bbox": "1,2,3"})
    assert bad.status_code == 422 and "bbox" in bad.json()["error"]["message"]
    assert client.get("/api/layers/roads").status_code == 404


def test_map_page_is_small_and_uses_only_local_scripts(client: TestClient):
    page = client.get("/map")
    assert page.status_code == 200
    html = page.text
    assert len(html.encode()) < 50_000
    assert "/static/vendor/leaflet/leaflet.js" in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
