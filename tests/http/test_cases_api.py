"""The HTTP API over both databases: case lists and filters, GeoJSON in EPSG:4326, errors, the map page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.http.conftest import T1, Site

#: What a browser sends with a form posted from our own login page (the server checks it).
OWN_PAGE = {"Origin": "http://testserver"}


@pytest.fixture
def client(site: Site) -> TestClient:
    """The site's client, logged in as the county reviewer (sees every township)."""
    site.client.headers.update(site.as_user("county"))
    site.client.village_code = site.village_code  # type: ignore[attr-defined]
    site.client.centre = site.centre  # type: ignore[attr-defined]
    return site.client


def test_list_cases_with_filters(client: TestClient):
    body = client.get("/api/cases").json()
    assert body["total"] == 8  # four per township; house 5 is off farmland
    by_code = {i["code"].split("-")[-1]: i for i in body["items"]}
    assert by_code["A1"]["disposition"] == "demolish" and by_code["A1"]["farmland_m2"] == pytest.approx(100.0)
    assert by_code["A2"]["disposition"] == "classify"
    assert by_code["A3"]["farmland_m2"] == pytest.approx(50.0)
    assert by_code["A3"]["remaining_m2"] == pytest.approx(50.0)
    assert by_code["A4"]["period"] == "unknown" and by_code["A4"]["disposition"] == "verify"
    assert by_code["A1"]["farmland_mu"] == pytest.approx(0.15, abs=0.001)
    assert by_code["A1"]["village_code"] == client.village_code  # type: ignore[attr-defined]
    assert by_code["A1"]["next_deadline"] is None and by_code["A1"]["overdue"] is False  # not yet assigned
    mine = {"township": "431021101000"}
    assert client.get("/api/cases", params=mine).json()["total"] == 4
    assert client.get("/api/cases", params={**mine, "disposition": "demolish"}).json()["total"] == 2
    assert client.get("/api/cases", params={**mine, "period": "before_cutoff"}).json()["total"] == 1
    assert client.get("/api/cases", params={"rule": 1}).json()["total"] == 8
    assert client.get("/api/cases", params={"rule": 2}).json()["total"] == 0
    assert client.get("/api/cases", params={"township": "000000000000"}).json()["total"] == 0
    page = client.get("/api/cases", params={"limit": 3, "offset": 6}).json()
    assert page["total"] == 8 and len(page["items"]) == 2


def test_geojson_by_bbox_in_wgs84(client: TestClient):
    lon, lat = client.centre  # type: ignore[attr-defined]
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    fc = client.get("/api/cases", params={"format": "geojson", "bbox": bbox}).json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4  # only the first village's
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


def test_map_page_is_small_and_uses_only_local_scripts(site: Site):
    client = site.client
    client.post("/api/auth/token", json={"username": "county", "password": "correct-horse-battery"})
    page = client.get("/map")
    assert page.status_code == 200
    html = page.text
    assert len(html.encode()) < 50_000
    assert "/static/vendor/leaflet/leaflet.js" in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200


def test_the_map_page_is_titled_like_every_page_in_the_users_language(site: Site):
    """A browser tab or bookmark of the map says what it is, as the desk pages' do ("案件清单 · 红线 Redline"),
    and in English for a user who picked it."""
    client = site.client
    client.post("/api/auth/token", json={"username": "county", "password": "correct-horse-battery"})
    assert "<title>地图 · 红线 Redline</title>" in client.get("/map").text
    assert "<title>案件清单 · 红线 Redline</title>" in client.get("/desk/cases").text
    client.cookies.set("redline_lang", "en")
    assert "<title>Map · 红线 Redline</title>" in client.get("/map").text


def test_pages_and_api_need_a_login(site: Site):
    anonymous = site.client
    anonymous.cookies.clear()
    assert anonymous.get("/api/cases").status_code == 401
    assert anonymous.get("/api/layers/farmland").status_code == 401
    page = anonymous.get("/map", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    wrong = anonymous.post("/api/auth/token", json={"username": "county", "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "NotAuthenticated"
    assert anonymous.get("/api/cases", headers={"Authorization": "Bearer forged"}).status_code == 401
    form = anonymous.post("/login", data={"username": "county", "password": "correct-horse-battery",
                                          "next": "/map"}, follow_redirects=False, headers=OWN_PAGE)
    assert form.status_code == 303 and form.headers["location"] == "/map"
    assert anonymous.get("/map").status_code == 200  # the cookie set by the form logs the browser in


def test_clusters_count_cases_without_sending_features(client: TestClient):
    county = "111.0,24.0,114.0,27.0"
    body = client.get("/api/cases/clusters", params={"zoom": 9, "bbox": county}).json()
    assert body["total"] == 8 and sum(c["count"] for c in body["cells"]) == 8
    assert all(set(c) == {"lat", "lon", "count", "kinds"} for c in body["cells"])
    # What each cell holds, by the colour its cases are drawn in: the kinds add up to the count.
    assert all(sum(c["kinds"].values()) == c["count"] for c in body["cells"])
    assert set().union(*(c["kinds"] for c in body["cells"])) <= {"demolish", "verify", "classify", "none", "closed"}
    near = client.get("/api/cases/clusters", params={"zoom": 9, "bbox": county, "township": "431021101000"}).json()
    assert near["total"] == 4
    one = client.get("/api/cases", params={"code": client.get("/api/cases").json()["items"][0]["code"]}).json()
    assert one["total"] == 1


def test_every_reference_layer_serves_geojson(client: TestClient):
    lon, lat = client.centre  # type: ignore[attr-defined]
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    for name in ("farmland", "dltb", "houses", "admin"):
        r = client.get(f"/api/layers/{name}", params={"bbox": bbox})
        assert r.status_code == 200, (name, r.text)
    houses = client.get("/api/layers/houses", params={"bbox": bbox}).json()
    assert {f["properties"]["built_on"] for f in houses["features"]} >= {"2021-05-01"}


def test_log_out_revokes_the_token_and_disabling_a_user_revokes_all(site: Site, monkeypatch: pytest.MonkeyPatch):
    from typer.testing import CliRunner

    from api.cli import app
    from api.settings import get_settings

    monkeypatch.setenv("REDLINE_DATABASE_URL", site.db.url)
    get_settings.cache_clear()

    client = site.client
    client.cookies.clear()
    first = client.post("/api/auth/token", json={"username": "county", "password": "correct-horse-battery"})
    second = client.post("/api/auth/token", json={"username": "county", "password": "correct-horse-battery"})
    a, b = ({"Authorization": f"Bearer {r.json()['access_token']}"} for r in (first, second))
    client.cookies.clear()
    assert client.get("/api/auth/me", headers=a).status_code == 200
    out = client.post("/api/auth/logout", headers=a)
    assert out.status_code == 204 and "redline_token=" in out.headers.get("set-cookie", "")
    assert client.get("/api/auth/me", headers=a).status_code == 401  # revoked: a stolen copy is useless
    assert client.get("/api/auth/me", headers=b).status_code == 200  # another device stays logged in
    # The page's button: the cookie's token is revoked and the browser goes back to the login form.
    client.post("/login", data={"username": "officer1", "password": "correct-horse-battery"}, headers=OWN_PAGE)
    cookie = client.cookies.get("redline_token")
    page = client.post("/logout", follow_redirects=False, headers=OWN_PAGE)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401
    # Disabling a user logs them out everywhere and keeps them out, and ends their field-chief post (named
    # as vacant, to be filled).
    named = CliRunner().invoke(app, ["chief", "assign", "--level", "county", "--area", T1[:6], "--user", "county"])
    assert named.exit_code == 0, named.output
    result = CliRunner().invoke(app, ["user", "disable", "county"])
    assert result.exit_code == 0, result.output
    assert "1 token(s) revoked" in result.output
    assert f"县级田长 {T1[:6]}: 空缺 vacant" in result.output
    users = CliRunner().invoke(app, ["user", "list"])  # an admin's list shows the account disabled
    assert users.exit_code == 0 and [line.split()[:3] for line in users.output.splitlines()
                                     if line.startswith("county ")] == [["county", "county_reviewer", "—"]]
    assert "disabled" in next(line for line in users.output.splitlines() if line.startswith("county "))
    assert "disabled" not in next(line for line in users.output.splitlines() if line.startswith("officer1 "))
    listed = CliRunner().invoke(app, ["chief", "list"])
    assert [line.split() for line in listed.output.splitlines() if line.startswith("县级田长")] == [
        ["县级田长", T1[:6], "全县", "空缺", "vacant"]]
    assert client.get("/api/auth/me", headers=b).status_code == 401
    again = client.post("/api/auth/token", json={"username": "county", "password": "correct-horse-battery"})
    assert again.status_code == 401
    unknown = CliRunner().invoke(app, ["user", "disable", "nobody"])
    assert unknown.exit_code == 2 and "no user 'nobody'" in unknown.output
    get_settings.cache_clear()


def test_a_map_zoomed_in_past_the_data_gets_answers_not_422(client: TestClient):
    """Fractional zoom (pinch), zoom beyond 22, and a view box of no width are places, not errors."""
    lon, lat = client.centre  # type: ignore[attr-defined]
    point = f"{lon},{lat},{lon},{lat}"
    for zoom in (14.5, 23, 30):
        body = client.get("/api/cases/features", params={"zoom": zoom, "bbox": point})
        assert body.status_code == 200, (zoom, body.text)
        assert "total" in body.json()
        counts = client.get("/api/cases/clusters", params={"zoom": zoom, "bbox": point})
        assert counts.status_code == 200, (zoom, counts.text)
    assert client.get("/api/layers/houses", params={"bbox": point}).status_code == 200
    # Still refused: a box inside out, or a zoom no map has.
    assert client.get("/api/cases/features", params={"zoom": 14, "bbox": f"{lon},{lat},{lon - 1},{lat}"}
                      ).status_code == 422
    assert client.get("/api/cases/features", params={"zoom": 31, "bbox": point}).status_code == 422


def test_a_user_changes_their_own_password_and_every_session_ends(site: Site):
    """The current password is asked again (a token alone does not take an account over); a short new one or
    the same one is refused (422, both languages); once changed, every token of the user is dead — this one and
    another device's — and only the new password logs in."""
    client = site.client
    client.cookies.clear()
    login = {"username": "inspector1", "password": "correct-horse-battery"}
    here, phone = ({"Authorization": f"Bearer {client.post('/api/auth/token', json=login).json()['access_token']}"}
                   for _ in range(2))
    client.cookies.clear()

    def change(current: str, new: str, expect: int) -> dict:
        r = client.post("/api/auth/password", headers=here, json={"current_password": current, "new_password": new})
        assert r.status_code == expect, r.text
        return r.json() if r.content else {}

    wrong = change("not-my-password", "a-new-long-password", 422)
    assert wrong["error"]["message_zh"] == "当前密码不正确"
    assert change("correct-horse-battery", "short", 422)["error"]
    assert "current one" in change("correct-horse-battery", "correct-horse-battery", 422)["error"]["message_en"]
    change("correct-horse-battery", "a-new-long-password", 204)
    assert client.get("/api/auth/me", headers=here).status_code == 401
    assert client.get("/api/auth/me", headers=phone).status_code == 401
    assert client.post("/api/auth/token", json=login).status_code == 401
    assert client.post("/api/auth/token", json={**login, "password": "a-new-long-password"}).status_code == 200
