"""The demo county's scanned cases, driven from new to closed through the HTTP API, on both databases."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fastapi.testclient import TestClient

from api.accounts.users import create_user
from api.cases.audit import verify_chain
from api.cases.deadlines import COUNTY_TZ
from api.db.models import Case
from api.db.repository import read_frame
from api.http.app import create_app
from api.ingest.scan import scan
from api.reports.export import export_month
from api.settings import Settings
from gis.rules import RuleSet
from tests.conftest import Database, from_built, import_demo_layers
from tests.photo_factory import jpeg_at_house

PASSWORD = "demo-county-password"
TOWNSHIP = "431021101000"


def test_demo_cases_from_new_to_closed(db: Database, tmp_path, request: pytest.FixtureRequest):
    from_built(request, db, "demo-layers", import_demo_layers)
    scan(db.factory, RuleSet())
    with db.factory.begin() as s:
        create_user(s, "county", PASSWORD, "county_reviewer")
        create_user(s, "officer", PASSWORD, "township_officer", TOWNSHIP)
        create_user(s, "inspector", PASSWORD, "inspector", TOWNSHIP)
    app = create_app(Settings(database_url=db.url, var_dir=tmp_path))
    with TestClient(app) as client:
        def login(user: str) -> dict[str, str]:
            token = client.post("/api/auth/token", json={"username": user, "password": PASSWORD}).json()
            return {"Authorization": f"Bearer {token['access_token']}"}

        county, officer, inspector = login("county"), login("officer"), login("inspector")

        def act(headers: dict[str, str], cid: int, action: str, **payload) -> None:
            r = client.post(f"/api/cases/{cid}/transitions", headers=headers,
                            json={"action": action, "payload": payload})
            assert r.status_code == 200, r.text

        listing = client.get("/api/cases", headers=officer, params={"limit": 5000}).json()
        assert listing["total"] > 100 and {i["township_code"] for i in listing["items"]} == {TOWNSHIP}
        increment = next(i for i in listing["items"] if i["disposition"] == "demolish")
        # Confiscated and kept: lawful off permanent basic farmland only (土地管理法 第77条).
        stock = next(i for i in listing["items"] if i["disposition"] == "classify" and i["farmland_m2"] == 0)

        act(county, increment["id"], "assign")
        act(officer, increment["id"], "assign", assignee="inspector")
        act(inspector, increment["id"], "verify", verdict="illegal", field_rules=[7])
        for headers, action in ((officer, "serve_notice"), (officer, "start_demolition"),
                                (inspector, "record_demolition"), (inspector, "restore")):
            act(headers, increment["id"], action)
        with db.factory() as session:  # a photo taken at the house, after the demolition was recorded
            house = read_frame(session, Case, where=[Case.id == increment["id"]]).geometry.iloc[0]
        photo = jpeg_at_house(house, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
        up = client.post(f"/api/cases/{increment['id']}/photos", headers=inspector,
                         data={"client_uuid": str(uuid.uuid4()), "kind": "after_demolition"},
                         files={"file": ("after.jpg", photo, "image/jpeg")})
        assert up.status_code == 201, up.text
        act(inspector, increment["id"], "reinspect")
        act(officer, increment["id"], "submit")
        act(county, increment["id"], "pass_review")

        act(county, stock["id"], "assign")
        act(inspector, stock["id"], "verify", verdict="illegal")
        act(officer, stock["id"], "classify", decision="confiscate")
        act(officer, stock["id"], "rectify")
        act(officer, stock["id"], "submit")
        act(county, stock["id"], "pass_review")

        # A second stock case is demolished the whole way; an increment's period is disputed and decided; a case
        # is filed (立案).
        stock2 = next(i for i in listing["items"] if i["disposition"] == "classify" and i["id"] != stock["id"])
        act(county, stock2["id"], "assign")
        act(inspector, stock2["id"], "verify", verdict="illegal")
        act(officer, stock2["id"], "classify", decision="demolish")
        for headers, action in ((officer, "serve_notice"), (officer, "start_demolition"),
                                (inspector, "record_demolition"), (inspector, "restore")):
            act(headers, stock2["id"], action)
        disputed = [i for i in listing["items"] if i["disposition"] == "demolish"][1]
        act(county, disputed["id"], "assign")
        with db.factory() as session:
            house = read_frame(session, Case, where=[Case.id == disputed["id"]]).geometry.iloc[0]
        doc = client.post(f"/api/cases/{disputed['id']}/photos", headers=inspector,
                          data={"client_uuid": str(uuid.uuid4()), "kind": "document"},
                          files={"file": ("contract.jpg", jpeg_at_house(house, dt.datetime.now(dt.UTC), seed=3),
                                          "image/jpeg")}).json()["id"]
        act(inspector, disputed["id"], "request_period", period="before_cutoff", reason="2019年合同", evidence=[doc])
        act(county, disputed["id"], "decide_period", approve=False, reason="影像显示2021年新建")
        act(county, disputed["id"], "file", file_number="桂阳立〔2026〕7号")

        closed = client.get("/api/cases", headers=county, params={"status": "closed"}).json()
        assert {i["id"] for i in closed["items"]} == {increment["id"], stock["id"]}
        assert all(i["remaining_m2"] == 0.0 for i in closed["items"])

        # The month's export and the scoreboard agree with the API.
        month = dt.datetime.now(COUNTY_TZ).strftime("%Y-%m")
        board = client.get("/api/scoreboard", headers=county, params={"month": month}).json()["townships"]
        with db.factory() as session:
            export = export_month(session, month, tmp_path / "export", Settings(database_url=db.url, var_dir=tmp_path))
        summary = export.figures.summary.set_index("township_code")
        mine = next(r for r in board if r["township_code"] == TOWNSHIP)
        assert summary.loc[TOWNSHIP, "closed"] == mine["closed"] == 2
        open_items = client.get("/api/cases", headers=officer, params={"limit": 5000}).json()["items"]
        remaining = sum(i["remaining_m2"] for i in open_items if i["status"] != "closed")
        assert summary.loc[TOWNSHIP, "remaining_m2"] == pytest.approx(remaining)
        assert summary.loc[TOWNSHIP, "new_cases"] == listing["total"]  # every demo case was created this month
        assert summary.iloc[-1]["new_cases"] == client.get("/api/cases", headers=county).json()["total"]
        for row in board:  # every figure of the scoreboard is the export's, township by township
            exported = summary.loc[row["township_code"]]
            for key in ("new_cases", "new_increments", "closed", "rectified_stock", "reopened", "overdue", "due"):
                assert int(exported[key]) == row[key], (row["township_code"], key)
            for key in ("restored_m2", "restored_mu", "remaining_m2"):
                assert float(exported[key]) == pytest.approx(row[key], abs=0.01), (row["township_code"], key)  # rounded
            assert row["commend"] == str(exported["flag"]).startswith("通报表扬")
            assert row["criticise"] == str(exported["flag"]).startswith("通报批评")
        assert mine["rectified_stock"] == 1 and mine["restored_m2"] > 0  # the stock case, the demolished one
        assert summary.iloc[-1]["flag"] == ""  # the county total is neither commended nor criticised
        with db.factory() as session:  # `redline audit verify` after the demo went through these paths
            assert verify_chain(session).ok
    app.state.engine.dispose()
