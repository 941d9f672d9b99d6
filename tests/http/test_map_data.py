"""The review map's data, served from in-memory snapshots: always current, scoped, and right as time passes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box

from api.ingest.layers import import_layer
from tests.http.conftest import T1, Site, case_id
from tests.http.test_workflow_api import act

COUNTY = "111.0,24.0,114.0,27.0"


def features(site: Site, user: str = "county", **params) -> dict:
    r = site.client.get("/api/cases/features", headers=site.as_user(user),
                        params={"zoom": 16, "bbox": COUNTY, **params})
    assert r.status_code == 200, r.text
    return r.json()


def by_code(fc: dict) -> dict[str, dict]:
    return {f["properties"]["code"].split("-")[-1]: f["properties"] for f in fc["features"]}


def test_map_features_carry_what_styling_needs_and_agree_with_the_case_list(site: Site):
    fc = features(site)
    assert fc["type"] == "FeatureCollection" and fc["total"] == 8 == len(fc["features"])
    listed = {i["code"]: i for i in site.client.get("/api/cases", headers=site.as_user("county")).json()["items"]}
    for f in fc["features"]:
        p = f["properties"]
        assert set(p) >= {"id", "code", "township_code", "status", "period", "disposition", "rules", "overdue"}
        row = listed[p["code"]]
        assert (p["id"], p["status"], p["disposition"], p["period"], p["overdue"]) == (
            row["id"], row["status"], row["disposition"], row["period"], row["overdue"])
    assert f["geometry"]["type"] == "MultiPolygon"


def test_a_change_shows_on_the_next_request(site: Site, tmp_path: Path):
    assert by_code(features(site))["A1"]["status"] == "new"
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    assert by_code(features(site))["A1"]["status"] == "assigned"
    assert features(site, status="assigned")["total"] == 1
    # A new farmland import shows in the reference layer at once.
    before = site.client.get("/api/layers/farmland", headers=site.as_user("county")).json()["total"]
    lon, lat = site.centre
    extra = gpd.GeoDataFrame({"BSM": ["FX"], "DLBM": ["0101"]},
                             geometry=[box(lon + 0.05, lat + 0.05, lon + 0.06, lat + 0.06)], crs=4326).to_crs(4546)
    extra.to_file(tmp_path / "extra.gpkg")
    import_layer(site.db.factory, "farmland", tmp_path / "extra.gpkg")
    after = site.client.get("/api/layers/farmland", headers=site.as_user("county")).json()
    assert after["total"] == before + 1 and "FX" in {f["properties"]["source_key"] for f in after["features"]}


def test_overdue_turns_with_the_clock_without_any_change(site: Site, monkeypatch: pytest.MonkeyPatch):
    import api.http.routes.cases as routes

    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    features(site)  # the snapshot is built now, while the case is not overdue
    assert by_code(features(site))["A1"]["overdue"] is False
    assert features(site, overdue=True)["total"] == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)  # past the 1-day study deadline
    monkeypatch.setattr(routes, "utcnow", lambda: later)
    assert by_code(features(site))["A1"]["overdue"] is True
    assert features(site, overdue=True)["total"] == 1
    clusters = site.client.get("/api/cases/clusters", headers=site.as_user("county"),
                               params={"zoom": 9, "bbox": COUNTY, "overdue": True}).json()
    assert clusters["total"] == 1


def test_a_crowded_view_sends_counts_of_every_case_not_a_subset(site: Site):
    body = features(site, limit=3)
    assert body.get("clustered") is True and "features" not in body
    assert body["total"] == 8 and sum(c["count"] for c in body["cells"]) == 8


def test_scope_and_filters(site: Site):
    mine = features(site, user="officer1")
    assert mine["total"] == 4 and {p["township_code"] for p in by_code(mine).values()} == {T1}
    assert features(site, user="officer1", township="431021102000")["total"] == 0  # not theirs: nothing
    assert features(site, disposition="demolish")["total"] == 4
    assert features(site, rule=1)["total"] == 8 and features(site, rule=2)["total"] == 0
    lon, lat = site.centre
    near = features(site, bbox=f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}")
    assert near["total"] == 4
    bad = site.client.get("/api/cases/features", headers=site.as_user("county"), params={"zoom": 3, "bbox": "1,2"})
    assert bad.status_code == 422


def test_township_users_see_only_their_townships_houses(site: Site):
    def townships(user: str) -> list[str]:
        fc = site.client.get("/api/layers/houses", headers=site.as_user(user)).json()
        return sorted(f["properties"]["township_code"] for f in fc["features"])

    everyone = townships("county")
    assert len(everyone) == 10 and set(everyone) == {T1, "431021102000"}
    assert townships("officer1") == [T1] * 5
    assert townships("inspector2") == ["431021102000"] * 5
