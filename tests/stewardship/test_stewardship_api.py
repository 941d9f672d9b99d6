"""田长制 and abandoned land through the HTTP API on both databases: the grid imported from a GBK Shapefile,
chiefs named and scoped, a patrol's coverage sent twice and stored once, findings becoming a case and an
abandoned-land record, the abandoned-land workflow with its photo rule and audit chain, the month's figures."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
import shapely
from shapely import box
from sqlalchemy import func, select

from api.accounts.users import create_user
from api.cases.audit import FINDING_CHAIN, IMAGERY_ACTOR, LAND_CHAIN, SCAN_ACTOR, verify_chain
from api.cases.deadlines import COUNTY_TZ
from api.db.models import AdminArea, Case, CaseEvent, Chief, Grid, House, LandEvent, PatrolGrid
from api.ingest.epochs import import_epoch
from api.ingest.layers import import_layer
from api.ingest.leads import import_leads
from api.ingest.scan import scan
from api.reports.export import export_month
from api.settings import Settings
from api.stewardship.abandoned import import_abandoned
from api.stewardship.duty import month_duty, township_land
from api.stewardship.patrols import follow_waiting_findings
from gis.compare import CompareRules
from gis.errors import RedlineInputError
from gis.evidence import SAME_LAND_FILE
from gis.rules import RuleSet
from tests.http.conftest import PASSWORD, T1, T2
from tests.photo_factory import jpeg_at_house
from tests.stewardship.conftest import Land

NOW = dt.datetime.now(dt.UTC)
MONTH = f"{NOW.astimezone(COUNTY_TZ):%Y-%m}"


@pytest.fixture(autouse=True)
def _the_clock_at_each_test() -> None:
    """The time (and the month, in Asia/Shanghai) read when each test starts, not when the module was imported:
    a suite that runs across midnight in Shanghai must not compare with yesterday."""
    global NOW, MONTH
    NOW = dt.datetime.now(dt.UTC)
    MONTH = f"{NOW.astimezone(COUNTY_TZ):%Y-%m}"


def post(land: Land, user: str, path: str, expect: int = 201, **body):  # type: ignore[no-untyped-def]
    r = land.site.client.post(path, headers=land.site.as_user(user), json=body)
    assert r.status_code == expect, r.text
    return r.json()


def finding(land: Land, kind: str, px: float, py: float, user: str = "inspector1", **extra):  # type: ignore[no-untyped-def]
    lon, lat = land.lonlat(px, py)
    return post(land, user, "/api/findings", client_uuid=extra.pop("client_uuid", str(uuid.uuid4())), kind=kind,
                lat=lat, lon=lon, at=extra.pop("at", NOW.isoformat()), **extra)


def test_the_grid_comes_from_a_gbk_shapefile_and_cases_know_their_cell(land: Land):
    with land.site.db.factory() as s:
        cells = s.execute(select(Grid.code, Grid.name, Grid.township_code).order_by(Grid.code)).all()
        cases = dict(s.execute(select(Case.code, Case.grid_code).where(Case.township_code == T1)).all())
    assert [(c, n) for c, n, _ in cells] == [(land.grid_codes[0], "石门一村第一网格"),
                                            (land.grid_codes[1], "石门一村第二网格")]
    assert {t for _, _, t in cells} == {T1}
    # Houses A1–A4 stand in the first cell, A5 (200 m out) too; none in the second.
    assert set(cases.values()) == {land.grid_codes[0]}


def test_chiefs_are_named_by_an_admin_and_see_only_their_area(land: Land):
    site = land.site
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="inspector1")
    post(land, "admin", "/api/chiefs", level="grid", area_code=land.grid_codes[1], username="inspector1")
    refused = post(land, "county", "/api/chiefs", expect=403, level="village", area_code=site.village_code,
                   username="officer1")
    assert refused["error"]["message_zh"] == "只有管理员可以任命田长"
    elsewhere = post(land, "admin", "/api/chiefs", expect=422, level="township", area_code=T2, username="inspector1")
    assert "works in township" in elsewhere["error"]["message_en"]
    posts = site.client.get("/api/chief/inbox", headers=site.as_user("inspector1")).json()["posts"]
    village, cell = posts
    with site.db.factory() as s:
        in_village = s.execute(select(func.count()).where(Case.village_code == site.village_code)).scalar_one()
        everywhere = s.execute(select(func.count()).select_from(Case)).scalar_one()
    assert village["level"] == "village" and village["open_cases"] == in_village < everywhere
    assert village["patrols_required"] == 2 and cell["patrols_required"] == 4
    assert cell["area_code"] == land.grid_codes[1] and cell["open_cases"] == 0
    # A new village chief: the old one steps down and no longer sees the village.
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="officer1")
    posts = site.client.get("/api/chief/inbox", headers=site.as_user("inspector1")).json()["posts"]
    assert [p["level"] for p in posts] == ["grid"]
    chiefs = site.client.get("/api/chiefs", headers=site.as_user("officer2")).json()
    assert [c for c in chiefs if not c["vacant"]] == []  # another township's officer sees no chief of this one


def test_a_patrol_is_stored_once_and_covers_the_cells_it_walked(land: Land):
    x, y = land.x, land.y
    post(land, "admin", "/api/chiefs", level="grid", area_code=land.grid_codes[1], username="inspector1")
    post(land, "admin", "/api/chiefs", level="village", area_code=land.site.village_code, username="officer1")
    walk = [land.lonlat(px, py) for px, py in ((x + 50, y + 300), (x + 200, y + 300), (x + 400, y + 300),
                                               (x + 400, y + 100))]
    body = {"client_uuid": str(uuid.uuid4()), "started_at": (NOW - dt.timedelta(hours=1)).isoformat(),
            "ended_at": NOW.isoformat(), "points": [list(p) for p in walk]}
    first = post(land, "inspector1", "/api/patrols", **body)
    again = post(land, "inspector1", "/api/patrols", **body)  # the phone retries after a dropped answer
    assert again["id"] == first["id"] and first["length_m"] == pytest.approx(550.0, abs=1.0)
    changed = post(land, "inspector1", "/api/patrols", expect=409, **{**body, "points": body["points"][:2]})
    assert changed["error"]["type"] == "Conflict"
    with land.site.db.factory() as s:
        assert s.execute(select(func.count()).select_from(PatrolGrid)).scalar_one() == 2  # both cells, once
    cells = land.site.client.get("/api/grids", headers=land.site.as_user("officer1")).json()["features"]
    assert sorted(f["properties"]["patrolled"] for f in cells) == [True, True]
    tracks = land.site.client.get(f"/api/patrols?month={MONTH}", headers=land.site.as_user("officer1")).json()
    assert len(tracks["features"]) == 1 and tracks["features"][0]["geometry"]["type"] == "LineString"
    # The month's duty, by hand: the grid patroller walked once of four (0.55 km) and covered their one cell;
    # the village chief has not patrolled, but both cells of the village were covered (by the patroller).
    duty = {row["level"]: row for row in month_duty_of(land)}
    assert (duty["网格员（田管员）"]["patrols_required"], duty["网格员（田管员）"]["patrols_done"]) == (4, 1)
    assert (duty["网格员（田管员）"]["grids"], duty["网格员（田管员）"]["grids_covered"]) == (1, 1)
    assert duty["网格员（田管员）"]["km_walked"] == pytest.approx(0.55, abs=0.01)
    assert (duty["村级田长"]["patrols_required"], duty["村级田长"]["patrols_done"]) == (2, 0)
    assert (duty["村级田长"]["grids"], duty["村级田长"]["grids_covered"]) == (2, 2)
    board = land.site.client.get(f"/api/scoreboard?month={MONTH}", headers=land.site.as_user("county")).json()
    town = next(t for t in board["townships"] if t["township_code"] == T1)
    assert (town["patrols_done"], town["patrols_required"]) == (1, 4 + 2)  # the township's chiefs, summed
    # 季核: a post held since the quarter began owes its patrols once per month of the quarter so far; one taken
    # this month owes this month's. Patrols done count over the quarter.
    from api.reports.monthly import begun_months, month_bounds

    quarter = f"{MONTH[:4]}-Q{(int(MONTH[5:]) + 2) // 3}"
    months = begun_months(quarter)
    with land.site.db.factory.begin() as s:
        grid_post = s.execute(select(Chief).where(Chief.level == "grid")).scalar_one()
        grid_post.assigned_at = month_bounds(months[0])[0]
    with land.site.db.factory() as s:
        held = {row["level"]: row for row in month_duty(s, quarter, Settings().patrol_duty).to_dict("records")}
    grid_chief = held["网格员（田管员）"]
    assert (grid_chief["patrols_required"], grid_chief["patrols_done"]) == (4 * len(months), 1)
    assert held["村级田长"]["patrols_required"] == 2
    board = land.site.client.get(f"/api/scoreboard?period={quarter}", headers=land.site.as_user("county")).json()
    town = next(t for t in board["townships"] if t["township_code"] == T1)
    assert (town["patrols_done"], town["patrols_required"]) == (1, 4 * len(months) + 2)


def month_duty_of(land: Land) -> list[dict]:
    from api.settings import Settings

    with land.site.db.factory() as s:
        return month_duty(s, MONTH, Settings().patrol_duty).to_dict("records")


def test_abandoned_land_found_early_in_the_morning_is_seen_on_the_countys_day(land: Land):
    """A finding at 07:30 in the county is 23:30 of the day before in UTC: the record said the day before (its
    UTC date), and a finding on the 1st at dawn went into the previous month's sheet."""
    day = (NOW.astimezone(COUNTY_TZ) - dt.timedelta(days=1)).date()
    dawn = dt.datetime.combine(day, dt.time(7, 30), COUNTY_TZ)
    found = finding(land, "abandoned", land.x + 400, land.y + 100, cause="no_labour", at=dawn.isoformat())
    record = land.site.client.get(f"/api/abandoned/{found['abandoned_id']}",
                                  headers=land.site.as_user("officer1")).json()["properties"]
    assert record["seen_on"] == day.isoformat()


def patrol_case(land: Land, folder: Path, building: shapely.Polygon, at: tuple[float, float], note: str) -> Case:
    """A building only an imagery pass of three days ago shows, and a patroller's new-construction finding
    standing at `at`: the case it opened."""
    gpd.GeoDataFrame({"BSM": ["S1"]}, geometry=[building], crs=4546).to_file(folder / "pass.gpkg")
    import_epoch(land.site.db.factory, folder / "pass.gpkg", NOW.date() - dt.timedelta(days=3))
    opened = finding(land, "new_construction", *at, note=note)
    assert opened["outcome"] == "case_opened"
    with land.site.db.factory() as s:
        case = s.execute(select(Case).where(Case.id == opened["case_id"])).scalar_one()
        s.expunge(case)
    return case


def test_findings_become_a_case_and_an_abandoned_land_record_exactly_once(land: Land, tmp_path: Path):
    x, y = land.x, land.y
    key = str(uuid.uuid4())
    abandoned = finding(land, "abandoned", x + 400, y + 100, client_uuid=key, cause="no_labour", note="两年未种")
    assert finding(land, "abandoned", x + 400, y + 100, client_uuid=key)["id"] == abandoned["id"]
    assert abandoned["outcome"] == "abandoned_record" and abandoned["outcome_name"] == "已登记抛荒"
    record = land.site.client.get(f"/api/abandoned/{abandoned['abandoned_id']}",
                                  headers=land.site.as_user("officer1")).json()["properties"]
    assert record["area_m2"] == pytest.approx(40_000.0) and record["contractor_key"] == "HH-0007"
    assert record["cause"] == "no_labour" and record["grid_code"] == land.grid_codes[1]
    assert record["code"].startswith(f"PH-{land.site.village_code}-")
    assert finding(land, "abandoned", x + 400, y + 300)["outcome"] == "not_on_cultivated"  # the orchard
    # New construction: an existing case; a building only the latest imagery shows; nothing to see yet.
    assert finding(land, "new_construction", x + 15, y + 15)["outcome"] == "existing_case"
    shed = box(x + 60, y + 70, x + 72, y + 80)  # on the farmland square, clear of the houses
    case = patrol_case(land, tmp_path, shed, (x + 66, y + 75), "正在砌墙")
    assert case.origin == "patrol" and case.period == "unknown" and case.farmland_m2 == pytest.approx(120.0)
    assert case.grid_code == land.grid_codes[0] and case.township_code == T1
    assert finding(land, "new_construction", x + 150, y + 450)["outcome"] == "awaiting_footprint"
    lon, lat = land.lonlat(x, y)
    outside = post(land, "inspector2", "/api/findings", expect=422, client_uuid=str(uuid.uuid4()), kind="other",
                   lat=lat, lon=lon, at=NOW.isoformat())
    assert outside["error"]["message_zh"] == "该位置不在您的乡镇内"


def test_new_construction_beside_a_surveyed_house_is_the_new_building_and_a_known_house_hears_of_it(land: Land,
                                                                                                     tmp_path: Path):
    """The patroller stands at a new building (only the latest imagery shows it) 6 m from a surveyed house that has
    a case. Before, any case of a surveyed house within reach claimed the finding ("existing case") and the new
    building was never looked at. Now the footprint nearest the position is the building: the new one gets its
    case. Pointing at a surveyed house with a case adds the finding to that case's history — closed or not, so a
    closed case hears that its house is being built on again."""
    x, y = land.x, land.y
    new_building = box(x + 10, y + 26, x + 18, y + 34)  # north of A1 (x+10..20, y+10..20), on the farmland
    case = patrol_case(land, tmp_path, new_building, (x + 14, y + 30), "新房封顶")
    assert case.origin == "patrol" and case.farmland_m2 == pytest.approx(64.0)
    # At A1 itself: its case, with the finding in its history.
    known = finding(land, "new_construction", x + 15, y + 15, note="加盖二层")
    assert known["outcome"] == "existing_case"
    history = land.site.client.get(f"/api/cases/{known['case_id']}", headers=land.site.as_user("county")
                                   ).json()["properties"]["history"]
    assert history[-1]["action"] == "patrol_finding" and "加盖二层" in (history[-1]["note"] or "")


def survey(land: Land, folder: Path, houses: dict[str, shapely.Polygon], built_on: str = "2024-03-01") -> int:
    """A later survey delivering `houses` (built on `built_on`), imported and scanned as `redline scan` does (the
    waiting findings followed after): how many findings found their building."""
    gpd.GeoDataFrame({"id": list(houses), "built_on": [built_on] * len(houses)}, geometry=list(houses.values()),
                     crs=4546).to_file(folder / "survey.gpkg")
    import_layer(land.site.db.factory, "houses", folder / "survey.gpkg")
    scan(land.site.db.factory, RuleSet())
    return follow_waiting_findings(land.site.db.factory, RuleSet(), CompareRules(), SCAN_ACTOR)


def test_one_building_reported_twice_on_patrol_is_one_case_and_the_survey_gives_it_its_house(land: Land,
                                                                                             tmp_path: Path):
    """A building only imagery shows, reported on patrol by two patrollers (or twice by one): each report opened a
    case of its own, and when the survey then delivered the building, the scan opened a third — one building worked
    three times and counted three times in the month. The second report is now the first one's case's (its
    outline is the building: as a stock or undated case, for the county to check); the survey's house is that
    case's house."""
    x, y = land.x, land.y
    shed = box(x + 60, y + 70, x + 72, y + 80)
    case = patrol_case(land, tmp_path, shed, (x + 66, y + 75), "正在砌墙")
    again = finding(land, "new_construction", x + 67, y + 76, note="仍在施工")
    assert again["case_id"] == case.id and again["outcome"] == "stock_case"  # its period is not yet established
    history = land.site.client.get(f"/api/cases/{case.id}", headers=land.site.as_user("county")
                                   ).json()["properties"]["history"]
    assert history[-1]["action"] == "patrol_finding" and "仍在施工" in (history[-1]["note"] or "")
    survey(land, tmp_path, {"A6": shed})
    with land.site.db.factory() as s:
        house = s.execute(select(House.id).where(House.source_key == "A6")).scalar_one()
        at_shed = s.execute(select(Case.id, Case.house_id).where(Case.geom.is_not(None))).all()
        claimed = s.get(Case, case.id)
        assert claimed is not None and claimed.house_id == house
        assert [c.id for c in at_shed if c.house_id == house] == [case.id]
        assert s.execute(select(func.count()).select_from(Case).where(Case.origin == "scan",
                                                                       Case.house_id == house)).scalar_one() == 0
    # Its case closed (as if demolished and passed), the building reported again: news for the closed case; once a
    # later satellite lead opened a case on it, the open case is where the news goes.
    with land.site.db.factory.begin() as s:
        s.get(Case, case.id).status = "closed"
    rebuilt = finding(land, "new_construction", x + 66, y + 74, note="原址重建")
    assert (rebuilt["outcome"], rebuilt["case_id"]) == ("closed_case", case.id)
    gpd.GeoDataFrame({"JCBH": ["431021SJBG26000001"]}, geometry=[shed], crs=4546).to_file(tmp_path / "leads.gpkg")
    import_leads(land.site.db.factory, tmp_path / "leads.gpkg", RuleSet())
    with land.site.db.factory() as s:
        lead_case = s.execute(select(Case.id).where(Case.lead_code == "431021SJBG26000001")).scalar_one()
    again = finding(land, "new_construction", x + 66, y + 74, note="又在施工")
    assert again["case_id"] == lead_case != case.id and again["outcome"] in ("existing_case", "stock_case")


def test_a_finding_waiting_for_a_footprint_follows_it_when_the_survey_or_imagery_brings_it(land: Land,
                                                                                          tmp_path: Path):
    """New construction where no footprint shows yet waits for one (no case on a guessed outline). When the survey
    or an imagery pass brought the building, nothing told anyone: the finding stayed "awaiting a footprint" until a
    township officer remembered it. Now the scan and the imagery comparison look again at every finding still
    waiting: it becomes the building's case's (or, off farmland, nothing to open), its case hears of it, and its
    own record says when and why, in the finding chain."""
    from api.ingest.imagery import compare_epochs

    x, y = land.x, land.y
    site = land.site
    on_farmland = finding(land, "new_construction", x + 75, y + 25, note="打地基")
    in_orchard = finding(land, "new_construction", x + 400, y + 350, note="果园里建房")
    by_imagery = finding(land, "new_construction", x + 85, y + 85, note="搭棚")
    assert {on_farmland["outcome"], in_orchard["outcome"], by_imagery["outcome"]} == {"awaiting_footprint"}
    assert survey(land, tmp_path, {"A7": box(x + 70, y + 20, x + 80, y + 30),
                                   "A8": box(x + 395, y + 345, x + 405, y + 355)}) == 2
    listed = {f["client_uuid"]: f for f in site.client.get("/api/findings", headers=site.as_user("officer1")).json()}
    assert on_farmland["client_uuid"] not in listed and in_orchard["client_uuid"] not in listed
    assert listed[by_imagery["client_uuid"]]["outcome"] == "awaiting_footprint"  # nothing there yet
    with site.db.factory() as s:
        from api.db.models import Finding, FindingEvent

        def state(key: str) -> tuple[str, int | None]:
            row = s.execute(select(Finding).where(Finding.client_uuid == key)).scalar_one()
            return row.outcome, row.case_id

        a7 = s.execute(select(Case.id).join(House, House.id == Case.house_id).where(House.source_key == "A7")
                       ).scalar_one()
        assert state(on_farmland["client_uuid"]) == ("existing_case", a7)  # built 2024: an increment
        assert state(in_orchard["client_uuid"]) == ("not_violating", None)
        notes = [e.note or "" for e in s.execute(select(FindingEvent).order_by(FindingEvent.id)).scalars()]
        assert len(notes) == 2 and all("房屋轮廓" in n for n in notes)
        assert verify_chain(s, FINDING_CHAIN).ok
    history = site.client.get(f"/api/cases/{a7}", headers=site.as_user("county")).json()["properties"]["history"]
    assert history[-1]["action"] == "patrol_finding" and "打地基" in (history[-1]["note"] or "")
    # An imagery pass shows the shed; the comparison opens its case, and the finding waiting there is that case's.
    shed = box(x + 80, y + 80, x + 90, y + 90)
    first = NOW.date() - dt.timedelta(days=60)
    for day, prints in ((first, [box(x + 395, y + 345, x + 405, y + 355)]),
                        (NOW.date() - dt.timedelta(days=2), [box(x + 395, y + 345, x + 405, y + 355), shed])):
        gpd.GeoDataFrame({"BSM": [f"S{i}" for i in range(len(prints))]}, geometry=prints, crs=4546).to_file(
            tmp_path / f"pass_{day}.gpkg")
        import_epoch(site.db.factory, tmp_path / f"pass_{day}.gpkg", day)
    assert compare_epochs(site.db.factory, RuleSet(), CompareRules()).new_cases == 1
    assert follow_waiting_findings(site.db.factory, RuleSet(), CompareRules(), IMAGERY_ACTOR) == 1
    assert follow_waiting_findings(site.db.factory, RuleSet(), CompareRules(), IMAGERY_ACTOR) == 0  # once
    with site.db.factory() as s:
        imagery = s.execute(select(Case).where(Case.origin == "imagery")).scalar_one()
        row = s.execute(select(Finding).where(Finding.client_uuid == by_imagery["client_uuid"])).scalar_one()
        assert (row.outcome, row.case_id) == ("existing_case", imagery.id) and imagery.period == "after_cutoff"


def test_a_pass_showing_a_building_a_patrol_case_holds_opens_no_second_case(land: Land, tmp_path: Path):
    """A patrol's case on a building (from an earlier pass's footprint), its period since established as after the
    cutoff; a later comparison shows the building new between two passes: it opened a second case for the building.
    The pass is now that case's news (`imagery_seen`, once however often the comparison runs). A case of unknown
    period, where the passes show construction after the cutoff, still gets a case of its own: the pass is
    evidence the patrol's case does not yet carry (as for a satellite lead)."""
    from api.ingest.imagery import compare_epochs

    x, y = land.x, land.y
    site = land.site
    shed, hut = box(x + 60, y + 70, x + 72, y + 80), box(x + 20, y + 60, x + 28, y + 68)
    known = patrol_case(land, tmp_path, shed, (x + 66, y + 75), "正在砌墙")
    hut_case = patrol_case(land, tmp_path, hut, (x + 24, y + 64), "搭棚")
    assert hut_case.period == "unknown"
    with site.db.factory.begin() as s:  # as if the county had decided its period on site evidence
        s.get(Case, known.id).period = "after_cutoff"
    first, second = NOW.date() - dt.timedelta(days=2), NOW.date() - dt.timedelta(days=1)
    for day, prints in ((first, [box(x + 395, y + 345, x + 405, y + 355)]),
                        (second, [box(x + 395, y + 345, x + 405, y + 355), shed, hut])):
        gpd.GeoDataFrame({"BSM": [f"S{i}" for i in range(len(prints))]}, geometry=prints, crs=4546).to_file(
            tmp_path / f"later_{day}.gpkg")
        import_epoch(site.db.factory, tmp_path / f"later_{day}.gpkg", day)
    for expected in ((1, 1), (0, 0)):  # the same comparison again changes nothing
        report = compare_epochs(site.db.factory, RuleSet(), CompareRules())
        assert (report.new_cases, report.seen_cases) == expected
    with site.db.factory() as s:
        imagery = s.execute(select(Case).where(Case.origin == "imagery")).scalars().all()
        assert len(imagery) == 1 and imagery[0].farmland_m2 == pytest.approx(64.0)  # the hut's, not the shed's
        seen = s.execute(select(CaseEvent).where(CaseEvent.case_id == known.id, CaseEvent.action == "imagery_seen")
                         ).scalars().all()
        assert len(seen) == 1 and str(second) in (seen[0].note or "")


def test_findings_left_to_a_person_reach_the_township_and_the_chiefs_of_the_area(land: Land):
    """A finding noted for the township (耕地破坏, 其他), a new building no footprint shows yet, and a building at
    the house of a closed case were told to the patroller alone: the outcome said "待乡镇处理" and nobody else
    ever saw it, and a closed case's house built on again was an event in a history nobody reopens. Now they are
    listed (`GET /api/findings`) to the township, the county, the patroller and the chiefs of the area, with their
    photos, and counted in each chief's inbox until someone handles them (`test_a_finding_stays_listed_until_...`)."""
    x, y = land.x, land.y
    site = land.site
    with site.db.factory.begin() as s:
        create_user(s, "inspector3", PASSWORD, "inspector", T1)
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="inspector3")
    damaged = finding(land, "damaged", x + 100, y + 100, note="取土挖坑")
    waiting = finding(land, "new_construction", x + 150, y + 450)
    assert waiting["outcome"] == "awaiting_footprint"
    known = finding(land, "new_construction", x + 15, y + 15)
    assert known["outcome"] == "existing_case"  # an open case: the township works it already, not listed
    with site.db.factory.begin() as s:  # as if demolished, restored, re-inspected and passed
        s.get(Case, known["case_id"]).status = "closed"
    rebuilt = finding(land, "new_construction", x + 15, y + 15, note="原址重建")
    assert rebuilt["outcome"] == "closed_case" and rebuilt["case_id"] == known["case_id"]
    assert rebuilt["outcome_name"] == "已销号案件的房屋处又见建房，待核查"
    finding(land, "abandoned", x + 400, y + 100, cause="no_labour")  # became a record: worked there, not listed
    old = finding(land, "other", x + 100, y + 100, at=(NOW - dt.timedelta(days=31)).isoformat())  # unhandled: stays
    photo = upload(land, "inspector1", f"/api/findings/{damaged['client_uuid']}/photos",
                   jpeg_at_house(shapely.Point(x + 100, y + 100), NOW + dt.timedelta(minutes=1), seed=31), "finding")
    assert photo.status_code == 201, photo.text

    def listed(user: str) -> list[dict]:
        answer = site.client.get("/api/findings", headers=site.as_user(user))
        assert answer.status_code == 200, answer.text
        return answer.json()

    mine = [rebuilt["client_uuid"], waiting["client_uuid"], damaged["client_uuid"], old["client_uuid"]]  # newest first
    for user in ("officer1", "county", "inspector1"):
        assert [f["client_uuid"] for f in listed(user)] == mine, user
    assert listed("officer2") == [] and listed("inspector2") == []
    shown = {f["client_uuid"]: f for f in listed("officer1")}
    assert shown[rebuilt["client_uuid"]]["case_code"].endswith("-A1")
    assert shown[rebuilt["client_uuid"]]["note"] == "原址重建"
    assert shown[damaged["client_uuid"]]["photos"] == [photo.json()["id"]]
    assert shown[damaged["client_uuid"]]["outcome_name"] == "已记录，待乡镇处理"
    # The village chief (another inspector) sees what was found in the village, and its photos.
    in_village = [f["client_uuid"] for f in listed("officer1") if f["village_code"] == site.village_code]
    assert damaged["client_uuid"] in in_village
    assert [f["client_uuid"] for f in listed("inspector3")] == in_village
    village = next(p for p in site.client.get("/api/chief/inbox", headers=site.as_user("inspector3")).json()["posts"]
                   if p["level"] == "village")
    assert village["findings_to_handle"] == len(in_village)
    thumb = f"/api/land-photos/{photo.json()['id']}/thumbnail"
    assert site.client.get(thumb, headers=site.as_user("inspector3")).status_code == 200
    assert site.client.get(thumb, headers=site.as_user("inspector2")).status_code == 404


def finding_lists(land: Land) -> tuple[Callable[[str], dict[str, dict]], Callable[[], int]]:
    """The findings a user is listed (by UUID), and the village chief inspector1's count of those to handle."""

    def listed(user: str) -> dict[str, dict]:
        answer = land.site.client.get("/api/findings", headers=land.site.as_user(user))
        assert answer.status_code == 200, answer.text
        return {f["client_uuid"]: f for f in answer.json()}

    def to_handle() -> int:
        inbox = land.site.client.get("/api/chief/inbox", headers=land.site.as_user("inspector1")).json()["posts"]
        return next(p for p in inbox if p["level"] == "village")["findings_to_handle"]

    return listed, to_handle


def test_a_finding_stays_listed_until_someone_handles_it(land: Land):
    """Before, a finding left to a person dropped off the list after 30 days whether or not anyone had acted: one
    the township ignored for a month vanished quietly. Now it stays listed and counted until a township officer or
    the county handles it — saying what was done, under their name — and is then listed as handled for 30 days."""
    x, y = land.x, land.y
    site = land.site
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="inspector1")
    stale = finding(land, "damaged", x + 100, y + 100, note="堆放建材", at=(NOW - dt.timedelta(days=45)).isoformat())
    opened = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")  # a record: worked there, not here

    listed, to_handle = finding_lists(land)

    shown = listed("officer1")[stale["client_uuid"]]
    assert shown["handled_at"] is None and shown["may_handle"] and to_handle() == 1
    assert not listed("inspector1")[stale["client_uuid"]]["may_handle"]  # the chief reports; the township acts
    path = f"/api/findings/{stale['client_uuid']}/handle"
    refused = post(land, "inspector1", path, expect=403, note="已清理")
    assert refused["error"]["message_zh"].startswith("巡查员无权处理此巡田发现")
    assert post(land, "officer2", path, expect=404, note="已清理")  # another township's officer: not in scope
    assert "说明" in post(land, "officer1", path, expect=422, note="  ")["error"]["message_zh"]
    worked = post(land, "officer1", f"/api/findings/{opened['client_uuid']}/handle", expect=409, note="已处理")
    assert "抛荒" in worked["error"]["message_zh"]
    done = post(land, "officer1", path, expect=200, note="已责令三日内清除建材，复耕")
    assert done["handled_by"] == "officer1" and done["handled_note"] == "已责令三日内清除建材，复耕"
    assert post(land, "county", path, expect=409, note="再次处理")["error"]["message_zh"].startswith("已由")
    again = listed("county")[stale["client_uuid"]]  # still listed, as handled, with who and what
    assert again["handled_note"] == "已责令三日内清除建材，复耕" and not again["may_handle"]
    assert to_handle() == 0
    # A building at the house of a case the county closed: the county alone clears it, not the township whose
    # demolition it puts in doubt.
    known = finding(land, "new_construction", x + 15, y + 15)
    with site.db.factory.begin() as s:
        s.get(Case, known["case_id"]).status = "closed"
    rebuilt = finding(land, "new_construction", x + 15, y + 15, note="原址重建")
    assert rebuilt["outcome"] == "closed_case" and not listed("officer1")[rebuilt["client_uuid"]]["may_handle"]
    township = post(land, "officer1", f"/api/findings/{rebuilt['client_uuid']}/handle", expect=403, note="无建房")
    assert "由县级核查处理" in township["error"]["message_zh"]
    assert listed("county")[rebuilt["client_uuid"]]["may_handle"]
    assert post(land, "county", f"/api/findings/{rebuilt['client_uuid']}/handle", expect=200,
                note="县级核查：原址重建，已另立案")["handled_by"] == "county"
    with site.db.factory.begin() as s:  # handled 31 days ago: off the list
        from api.db.models import Finding

        row = s.execute(select(Finding).where(Finding.client_uuid == stale["client_uuid"])).scalar_one()
        row.handled_at = NOW - dt.timedelta(days=31)
    assert stale["client_uuid"] not in listed("county")


def test_the_county_reopens_a_handled_finding_and_the_first_handling_stays_on_record(land: Land):
    """A township that said a finding was handled ("已清理") took it off every list and count, and the county that
    found the site unchanged could only report it again on patrol — the township's word was final and its note the
    only trace. The county now sends a handled finding back (`POST /api/findings/{uuid}/reopen`, with why): it is
    listed and counted again until handled again, and every handling and reopening stays on the finding's record,
    in order, under its author's name. Only the county reopens; a finding not handled is refused."""
    from api.cases.service import state_of

    x, y = land.x, land.y
    site = land.site
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="inspector1")
    dumped = finding(land, "damaged", x + 100, y + 100, note="堆放建材")

    listed, to_handle = finding_lists(land)

    reopen = f"/api/findings/{dumped['client_uuid']}/reopen"
    early = post(land, "county", reopen, expect=409, note="退回")
    assert "尚未处理" in early["error"]["message_zh"]
    post(land, "officer1", f"/api/findings/{dumped['client_uuid']}/handle", expect=200, note="已清理")
    assert to_handle() == 0 and listed("county")[dumped["client_uuid"]]["may_reopen"]
    assert not listed("officer1")[dumped["client_uuid"]]["may_reopen"]
    township = post(land, "officer1", reopen, expect=403, note="自行撤回")
    assert "县级" in township["error"]["message_zh"]
    post(land, "inspector1", reopen, expect=403, note="现场未清理")
    post(land, "officer2", reopen, expect=404, note="现场未清理")
    assert "原因" in post(land, "county", reopen, expect=422, note=" ")["error"]["message_zh"]
    back = post(land, "county", reopen, expect=200, note="复核：现场建材仍在，退回乡镇重办")
    assert back["handled_at"] is None and back["reopened_by"] == "county"
    shown = listed("officer1")[dumped["client_uuid"]]
    assert shown["handled_at"] is None and shown["may_handle"] and not shown["may_reopen"]
    assert [(h["action"], h["by"], h["note"]) for h in shown["handlings"]] == [
        ("handled", "officer1", "已清理"), ("reopened", "county", "复核：现场建材仍在，退回乡镇重办")]
    assert [h["action_name"] for h in shown["handlings"]] == ["处理完毕", "退回重办"]
    assert to_handle() == 1
    assert post(land, "county", reopen, expect=409, note="再退")["error"]["message_zh"].startswith("尚未处理")
    post(land, "officer1", f"/api/findings/{dumped['client_uuid']}/handle", expect=200, note="建材已运走，已复耕")
    again = listed("county")[dumped["client_uuid"]]
    assert again["handled_note"] == "建材已运走，已复耕" and again["may_reopen"]
    assert [h["action"] for h in again["handlings"]] == ["handled", "reopened", "handled"]
    # Handled long ago (off the list): the county can still send it back, and it is listed again.
    with site.db.factory.begin() as s:
        from api.db.models import Finding

        s.execute(select(Finding).where(Finding.client_uuid == dumped["client_uuid"])
                  ).scalar_one().handled_at = NOW - dt.timedelta(days=40)
    assert dumped["client_uuid"] not in listed("county")
    post(land, "county", reopen, expect=200, note="专项复查：未复耕")
    assert dumped["client_uuid"] in listed("officer1") and to_handle() == 1
    # New construction at an open stock case's house, cleared by the county and sent back: the case is not passed
    # again until it is handled again.
    at_stock = finding(land, "new_construction", x + 44, y + 21, note="东侧在加盖")
    post(land, "county", f"/api/findings/{at_stock['client_uuid']}/handle", expect=200, note="县级核查：修缮")
    with site.db.factory() as s:
        assert not state_of(s, s.get(Case, at_stock["case_id"])).unchecked_growth
    post(land, "county", f"/api/findings/{at_stock['client_uuid']}/reopen", expect=200, note="影像显示为扩建")
    with site.db.factory() as s:
        assert state_of(s, s.get(Case, at_stock["case_id"])).unchecked_growth
        chain = verify_chain(s, FINDING_CHAIN)  # handled, reopened, handled, reopened; handled, reopened
        assert chain.ok and chain.events == 6


def test_a_patroller_sees_what_became_of_each_of_their_findings(land: Land, tmp_path: Path):
    """The phone was told a finding's outcome once, when it was sent: a building waiting for a footprint that the
    survey then brought, a finding the township handled or the county sent back — the patroller never learnt. Their
    own findings of the last 30 days are listed to them (`GET /api/findings/mine`), whatever became of each: its
    outcome, its case, its handlings. Nobody else's; none older."""
    x, y = land.x, land.y
    site = land.site
    waiting = finding(land, "new_construction", x + 75, y + 25, note="打地基")
    record = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")
    noted = finding(land, "damaged", x + 100, y + 100, note="取土")
    old = finding(land, "other", x + 100, y + 100, at=(NOW - dt.timedelta(days=31)).isoformat())
    theirs = finding(land, "other", x + 120, y + 100, user="officer1")
    post(land, "officer1", f"/api/findings/{noted['client_uuid']}/handle", expect=200, note="已回填")
    post(land, "county", f"/api/findings/{noted['client_uuid']}/reopen", expect=200, note="未回填")
    assert survey(land, tmp_path, {"A7": box(x + 70, y + 20, x + 80, y + 30)}) == 1

    answer = site.client.get("/api/findings/mine", headers=site.as_user("inspector1"))
    assert answer.status_code == 200, answer.text
    mine = {f["client_uuid"]: f for f in answer.json()}
    assert list(mine) == [noted["client_uuid"], record["client_uuid"], waiting["client_uuid"]]  # newest first
    assert old["client_uuid"] not in mine and theirs["client_uuid"] not in mine
    assert all(f["at"].endswith("+00:00") for f in mine.values())  # an instant: SQLite's naive text read as local
    assert mine[waiting["client_uuid"]]["outcome"] == "existing_case"
    assert mine[waiting["client_uuid"]]["case_code"] and mine[waiting["client_uuid"]]["outcome_name"] == "已有案件"
    assert [h["action"] for h in mine[waiting["client_uuid"]]["handlings"]] == ["footprint_found"]
    assert mine[record["client_uuid"]]["outcome"] == "abandoned_record"
    assert [h["action"] for h in mine[noted["client_uuid"]]["handlings"]] == ["handled", "reopened"]
    assert not any(f["may_handle"] or f["may_reopen"] for f in mine.values())
    assert [f["client_uuid"] for f in site.client.get("/api/findings/mine", headers=site.as_user("officer1")
                                                      ).json()] == [theirs["client_uuid"]]


#: An ISO 8601 date and time of day, as the API writes instants ("2026-12-05T09:45:54.6+00:00").
ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _naive_times(value: object, path: str = "") -> list[str]:
    """Every date-and-time string in a JSON answer that carries no UTC offset, by where it is."""
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in _naive_times(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in _naive_times(v, f"{path}[{i}]")]
    if isinstance(value, str) and ISO_INSTANT.match(value) and not re.search(r"(Z|[+-]\d{2}:\d{2})$", value):
        return [f"{path} = {value}"]
    return []


def test_every_instant_the_api_answers_carries_its_offset(land: Land):
    """SQLite hands stored UTC times back naive; written out as they came ("2026-11-25T09:45:54"), a browser or a
    phone reads them as its own local time — in the county, eight hours early (a chief named at 17:45 shown named at
    09:45). Every instant the API answers now says it is UTC, on both databases."""
    x, y = land.x, land.y
    site = land.site
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="inspector1")
    walk = [list(land.lonlat(px, py)) for px, py in ((x + 50, y + 300), (x + 400, y + 300))]
    patrol = post(land, "inspector1", "/api/patrols", client_uuid=str(uuid.uuid4()),
                  started_at=(NOW - dt.timedelta(hours=1)).isoformat(), ended_at=NOW.isoformat(), points=walk)
    found = finding(land, "damaged", x + 100, y + 100, note="取土", patrol_uuid=patrol["client_uuid"])
    post(land, "officer1", f"/api/findings/{found['client_uuid']}/handle", expect=200, note="已回填")
    record = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")
    case_id = finding(land, "new_construction", x + 15, y + 15)["case_id"]
    post(land, "officer1", f"/api/cases/{case_id}/comments", text="已联系户主")
    answers = {path: site.client.get(path, headers=site.as_user(user)) for user, path in (
        ("county", "/api/chiefs"), ("county", f"/api/patrols?month={MONTH}"), ("county", "/api/findings"),
        ("inspector1", "/api/findings/mine"), ("inspector1", "/api/chief/inbox"),
        ("county", f"/api/abandoned/{record['abandoned_id']}"), ("county", f"/api/cases/{case_id}"),
        ("county", "/api/cases"), ("county", "/api/users"))}
    assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(answers, 200)
    naive = [hit for path, a in answers.items() for hit in _naive_times(a.json(), path)]
    assert naive == [], "\n".join(naive)
    checked = [path for path, a in answers.items() if re.search(r'\d{4}-\d{2}-\d{2}T', a.text)]
    assert len(checked) >= 6, checked  # the walk met instants in most answers: it can fail


def upload(land: Land, user: str, path: str, photo: bytes, kind: str, key: str | None = None):  # type: ignore[no-untyped-def]
    return land.site.client.post(path, headers=land.site.as_user(user),
                                 data={"client_uuid": key or str(uuid.uuid4()), "kind": kind},
                                 files={"file": ("photo.jpg", photo, "image/jpeg")})


def test_a_findings_photo_is_checked_at_the_finding_and_shown_on_the_record_it_became(land: Land):
    x, y = land.x, land.y
    site = land.site
    found = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")
    # A photo taken 10 m south of the point, facing it, a minute after the finding: passes every check.
    at_point = shapely.Point(x + 400, y + 100)
    photo = jpeg_at_house(at_point, NOW + dt.timedelta(minutes=1), seed=21)
    path = f"/api/findings/{found['client_uuid']}/photos"
    key = str(uuid.uuid4())
    first = upload(land, "inspector1", path, photo, "finding", key)
    assert first.status_code == 201, first.text
    assert first.json()["checks"] == [] and first.json()["abandoned_id"] == found["abandoned_id"]
    again = upload(land, "inspector1", path, photo, "finding", key)  # a resend after a lost answer
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    # The record the finding became shows the photo, and its thumbnail is served in scope only.
    record = site.client.get(f"/api/abandoned/{found['abandoned_id']}",
                             headers=site.as_user("officer1")).json()["properties"]
    assert [(p["id"], p["kind"], p["checks"]) for p in record["photos"]] == [(first.json()["id"], "finding", [])]
    thumb = f"/api/land-photos/{first.json()['id']}/thumbnail"
    assert site.client.get(thumb, headers=site.as_user("officer1")).headers["content-type"] == "image/jpeg"
    assert site.client.get(thumb, headers=site.as_user("officer2")).status_code == 404
    original = site.client.get(f"/api/land-photos/{first.json()['id']}/original", headers=site.as_user("county"))
    assert original.content == photo  # the original bytes, EXIF intact
    # A finding photo is no crop photo: it cannot close the record's re-inspection.
    assert upload(land, "inspector1", path, photo, "crop").status_code == 422
    # Only the finding's patroller sends its photos; an unknown finding is named.
    assert upload(land, "inspector2", path, photo, "finding").status_code == 404
    missing = upload(land, "inspector1", f"/api/findings/{uuid.uuid4()}/photos", photo, "finding")
    assert missing.status_code == 404 and "请先发送该发现" in missing.json()["error"]["message_zh"]
    # The same UUID for another photo is a conflict; a photo taken 300 m away, and one from before the
    # finding, are flagged.
    assert upload(land, "inspector1", path, jpeg_at_house(at_point, NOW, seed=22), "finding", key).status_code == 409
    far = jpeg_at_house(shapely.Point(x + 400, y + 400), NOW + dt.timedelta(minutes=2), seed=23)
    far_checks = upload(land, "inspector1", path, far, "finding").json()["checks"]
    assert any("超过" in c for c in far_checks), far_checks
    early = jpeg_at_house(at_point, NOW - dt.timedelta(days=2), seed=24)
    assert any("早于" in c for c in upload(land, "inspector1", path, early, "finding").json()["checks"])
    # A finding that became nothing keeps its photo to itself.
    other = finding(land, "other", x + 100, y + 100, note="沟渠堵塞")
    alone = upload(land, "inspector1", f"/api/findings/{other['client_uuid']}/photos",
                   jpeg_at_house(shapely.Point(x + 100, y + 100), NOW + dt.timedelta(minutes=1), seed=25), "finding")
    assert alone.status_code == 201 and alone.json()["abandoned_id"] is None


def test_the_abandoned_land_workflow_needs_a_crop_photo_and_is_audited(land: Land, tmp_path: Path):
    x, y = land.x, land.y
    site = land.site
    rid = finding(land, "abandoned", x + 400, y + 100, cause="low_return")["abandoned_id"]
    path = f"/api/abandoned/{rid}/transitions"
    unnamed = post(land, "officer1", path, expect=409, action="decide_remedy", payload={"remedy": "transfer"})
    assert unnamed["error"]["message_zh"].startswith("「流转」须写明承接方")
    decided = post(land, "officer1", path, expect=200, action="decide_remedy",
                   payload={"remedy": "transfer", "remedy_detail": "县粮食种植专业合作社"})
    assert decided["status"] == "remedy_decided"
    history = site.client.get(f"/api/abandoned/{rid}", headers=site.as_user("county")).json()["properties"]["history"]
    decided_on = dt.datetime.fromisoformat(history[-1]["at"]).astimezone(COUNTY_TZ).date()  # the county's day
    assert decided["remedy_deadline"] == (decided_on + dt.timedelta(days=90)).isoformat()
    refused = post(land, "inspector1", path, expect=409, action="reinspect")
    assert "复查须有整治决定" in refused["error"]["message_zh"]
    assert post(land, "officer2", path, expect=404, action="reinspect")["error"]["type"] == "NotFound"
    crop = jpeg_at_house(land.cultivated, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5), seed=4)
    r = site.client.post(f"/api/abandoned/{rid}/photos", headers=site.as_user("inspector1"),
                         data={"client_uuid": str(uuid.uuid4()), "kind": "crop"},
                         files={"file": ("crop.jpg", crop, "image/jpeg")})
    assert r.status_code == 201, r.text
    assert post(land, "inspector1", path, expect=200, action="reinspect")["status"] == "closed"
    record = site.client.get(f"/api/abandoned/{rid}", headers=site.as_user("county")).json()["properties"]
    assert [h["action"] for h in record["history"]] == ["report", "decide_remedy", "reinspect"]
    assert record["photos"][0]["kind"] == "crop" and record["allowed_actions"] == []
    # Dismissing is the county's, with a reason.
    other = finding(land, "abandoned", x + 350, y + 50, cause="dispute")["abandoned_id"]
    assert post(land, "officer1", f"/api/abandoned/{other}/transitions", expect=409, action="dismiss",
                payload={"reason": "x"})["error"]["message_en"] == "township_officers may not dismiss"
    post(land, "county", f"/api/abandoned/{other}/transitions", expect=409, action="dismiss")
    post(land, "county", f"/api/abandoned/{other}/transitions", expect=200, action="dismiss",
         payload={"reason": "经批准的轮作休耕"})
    with site.db.factory() as s:
        assert verify_chain(s, LAND_CHAIN).ok
        assert s.execute(select(func.count()).select_from(LandEvent)).scalar_one() == 5
        figures = township_land(s, MONTH).set_index("township_code").loc[T1]
    # By hand: two records on the same 4 ha parcel — one remedied, one dismissed (neither outstanding).
    assert figures["abandoned_found_m2"] == pytest.approx(80_000.0)
    assert figures["abandoned_remedied_m2"] == pytest.approx(40_000.0)
    assert figures["abandoned_outstanding_m2"] == 0.0 and figures["findings"] == 2
    listed = site.client.get("/api/abandoned", headers=site.as_user("officer1")).json()["features"]
    assert {f["properties"]["status"] for f in listed} == {"closed", "dismissed"}
    # The monthly export carries the same figures, one sheet per concern.
    with site.db.factory() as s:
        result = export_month(s, MONTH, tmp_path / "export", Settings(database_url=site.db.url, var_dir=tmp_path))
    book = openpyxl.load_workbook(next(f for f in result.files if f.name == f"redline_{MONTH.replace('-', '')}.xlsx"))
    rows = list(book["耕地抛荒 Abandoned land"].iter_rows(values_only=True))
    row = dict(zip(rows[0], next(r for r in rows[1:] if r[1] == T1), strict=True))
    assert row["本月发现抛荒 (m²)"] == pytest.approx(80_000.0) and row["本月整治到位 (m²)"] == pytest.approx(40_000.0)
    assert "田长巡田 Patrols" in book.sheetnames
    assert site.client.get("/api/abandoned", headers=site.as_user("officer2")).json()["features"] == []


def test_the_same_abandoned_field_reported_twice_is_one_record(land: Land, tmp_path: Path):
    """Two patrollers (or a patroller and a survey) report the same abandoned field: one record, seen again —
    before, each report opened a record of its own, and the month's outstanding abandoned area counted the field
    twice. A drawn part of the field held by no open record is new land; a field replanted (its record closed or
    dismissed) and abandoned again is a new record."""
    x, y = land.x, land.y
    site = land.site
    first = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")
    again = finding(land, "abandoned", x + 350, y + 50, cause="low_return", note="仍未耕种")
    assert again["outcome"] == "abandoned_record" and again["abandoned_id"] == first["abandoned_id"]
    record = site.client.get(f"/api/abandoned/{first['abandoned_id']}", headers=site.as_user("county")
                             ).json()["properties"]
    assert [h["action"] for h in record["history"]] == ["report", "seen_again"]
    assert record["history"][-1]["note"] == "仍未耕种" and record["cause"] == "no_labour"
    survey = gpd.GeoDataFrame({"DCBH": ["S-9"], "PHYY": ["缺少劳力"], "DCRQ": ["2026-10-20"]},
                              geometry=[box(x + 300, y, x + 400, y + 100)], crs=4546)
    survey.to_file(tmp_path / "survey.gpkg")
    assert import_abandoned(site.db.factory, tmp_path / "survey.gpkg") == (1, 0)  # held already: nothing new
    assert import_abandoned(site.db.factory, tmp_path / "survey.gpkg") == (1, 0)
    listed = site.client.get("/api/abandoned", headers=site.as_user("county")).json()["features"]
    assert [f["properties"]["code"] for f in listed] == [record["code"]]
    with site.db.factory() as s:
        figures = township_land(s, MONTH)
    assert figures.loc[figures["township_code"] == T1, "abandoned_outstanding_m2"].iloc[0] == pytest.approx(40_000.0)
    post(land, "county", f"/api/abandoned/{first['abandoned_id']}/transitions", expect=200, action="dismiss",
         payload={"reason": "经批准的轮作休耕"})
    anew = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")
    assert anew["abandoned_id"] != first["abandoned_id"]


def test_a_survey_file_of_abandoned_land_is_imported_once(land: Land, tmp_path: Path):
    x, y = land.x, land.y
    survey = gpd.GeoDataFrame({"DCBH": ["S-1"], "PHYY": ["缺少劳力"], "DCRQ": ["2026-10-20"]},
                              geometry=[box(x + 300, y, x + 400, y + 100)], crs=4546)
    survey.to_file(tmp_path / "survey.gpkg")
    assert import_abandoned(land.site.db.factory, tmp_path / "survey.gpkg") == (1, 1)
    assert import_abandoned(land.site.db.factory, tmp_path / "survey.gpkg") == (1, 0)
    listed = land.site.client.get("/api/abandoned", headers=land.site.as_user("county")).json()["features"]
    assert [(f["properties"]["cause"], round(f["properties"]["area_m2"])) for f in listed] == [("no_labour", 10_000)]
    bad = gpd.GeoDataFrame({"DCBH": ["S-2", "S-3"], "PHYY": ["缺少劳力", "天气"], "DCRQ": ["2026-10-20"] * 2},
                           geometry=[box(x + 300, y, x + 350, y + 50), shapely.box(x + 320, y, x + 330, y + 10)],
                           crs=4546)
    bad.to_file(tmp_path / "bad.gpkg")
    with pytest.raises(RedlineInputError, match=r"unknown cause '天气'") as refused:
        import_abandoned(land.site.db.factory, tmp_path / "bad.gpkg")
    assert "row 2" in str(refused.value) and "PHYY" in str(refused.value)  # names its row and field
    listed = land.site.client.get("/api/abandoned", headers=land.site.as_user("county")).json()["features"]
    assert len(listed) == 1  # nothing of the refused file was stored


def test_one_photo_file_sent_for_two_land_records_is_flagged_on_the_second(land: Land):
    """A crop photo is what closes an abandoned-land record, so the same file sent for a second record (one
    picture of a planted field closing two parcels) is flagged for the reviewer, as the same file on two cases
    is. It is a flag, not a refusal: two records can lie on one parcel (the first dismissed, the land found
    abandoned again). The first record's photo, a resend, and the same file again for the same record (or for the
    finding it became) are not flagged."""
    x, y = land.x, land.y
    first = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")
    crop = jpeg_at_house(land.cultivated, NOW + dt.timedelta(minutes=1), seed=31)
    key = str(uuid.uuid4())
    on_first = upload(land, "inspector1", f"/api/abandoned/{first['abandoned_id']}/photos", crop, "crop", key)
    assert on_first.status_code == 201, on_first.text
    assert on_first.json()["checks"] == []
    resent = upload(land, "inspector1", f"/api/abandoned/{first['abandoned_id']}/photos", crop, "crop", key)
    assert resent.json()["id"] == on_first.json()["id"] and resent.json()["checks"] == []
    again_same_record = upload(land, "inspector1", f"/api/abandoned/{first['abandoned_id']}/photos", crop, "seen")
    assert again_same_record.status_code == 201 and again_same_record.json()["checks"] == []
    of_its_finding = upload(land, "inspector1", f"/api/findings/{first['client_uuid']}/photos", crop, "finding")
    assert of_its_finding.status_code == 201 and SAME_LAND_FILE not in of_its_finding.json()["checks"]
    post(land, "county", f"/api/abandoned/{first['abandoned_id']}/transitions", expect=200, action="dismiss",
         payload={"reason": "经批准的轮作休耕"})
    second = finding(land, "abandoned", x + 350, y + 50, cause="dispute")
    assert second["abandoned_id"] != first["abandoned_id"]
    on_second = upload(land, "inspector1", f"/api/abandoned/{second['abandoned_id']}/photos", crop, "crop")
    assert on_second.status_code == 201
    assert on_second.json()["checks"] == [SAME_LAND_FILE]
    record = land.site.client.get(f"/api/abandoned/{second['abandoned_id']}",
                                  headers=land.site.as_user("county")).json()["properties"]
    assert [p["checks"] for p in record["photos"]] == [[SAME_LAND_FILE]]
    first_record = land.site.client.get(f"/api/abandoned/{first['abandoned_id']}",
                                        headers=land.site.as_user("county")).json()["properties"]
    assert all(p["checks"] == [] for p in first_record["photos"])
    # A finding that became nothing is a subject of its own: the same file there is flagged too.
    other = finding(land, "other", x + 100, y + 100, note="沟渠堵塞")
    alone = upload(land, "inspector1", f"/api/findings/{other['client_uuid']}/photos", crop, "finding")
    assert SAME_LAND_FILE in alone.json()["checks"]


def test_new_construction_at_the_house_of_an_open_stock_case_is_checked_by_the_county(land: Land, tmp_path: Path):
    """New construction reported on patrol at the house of an open stock case (a wing going up by a house built
    before the cutoff) was an event in the case's history: the township could keep the house, rectify and close the
    case with the wing standing. It is now a finding left to the county (`stock_case`), and the case is not passed
    while it is unhandled; at an increment case's house it is only the event (demolished anyway)."""
    from api.cases.service import state_of

    x, y = land.x, land.y
    site = land.site
    # A satellite lead on A2's east end: a case of its own (a lead on a stock case's house never attaches), newer
    # than A2's and on the same outline — the stock case still hears of new construction at its house.
    gpd.GeoDataFrame({"JCBH": ["431021SJBG26000002"]}, geometry=[box(x + 40, y + 10, x + 45, y + 22)],
                     crs=4546).to_file(tmp_path / "leads.gpkg")
    import_leads(site.db.factory, tmp_path / "leads.gpkg", RuleSet())
    at_stock = finding(land, "new_construction", x + 44, y + 21, note="东侧在加盖")  # A2, built 2019
    at_increment = finding(land, "new_construction", x + 15, y + 15)  # A1, built 2021
    with site.db.factory() as s:
        a2 = s.execute(select(Case.id).join(House, House.id == Case.house_id).where(House.source_key == "A2")
                       ).scalar_one()
    assert at_stock["case_id"] == a2
    assert at_stock["outcome"] == "stock_case" and at_increment["outcome"] == "existing_case"
    assert at_stock["outcome_name"].startswith("存量（或时段待定）案件的房屋处又见新建")
    listed = {f["client_uuid"]: f for f in site.client.get("/api/findings", headers=site.as_user("officer1")).json()}
    assert at_increment["client_uuid"] not in listed and not listed[at_stock["client_uuid"]]["may_handle"]
    with site.db.factory() as s:
        assert state_of(s, s.get(Case, at_stock["case_id"])).unchecked_growth
        assert not state_of(s, s.get(Case, at_increment["case_id"])).unchecked_growth
    post(land, "officer1", f"/api/findings/{at_stock['client_uuid']}/handle", expect=403, note="修缮")
    post(land, "county", f"/api/findings/{at_stock['client_uuid']}/handle", expect=200,
         note="县级核查：东侧新建部分已申请变更为存量扩建")
    with site.db.factory() as s:
        assert not state_of(s, s.get(Case, at_stock["case_id"])).unchecked_growth


def test_the_same_crop_picture_with_other_exif_on_a_second_land_record_is_flagged(land: Land):
    """Only the very same file on another record was flagged: the crop photo of one parcel, given another GPS
    position (or saved again) — other bytes, the same picture — closed a second parcel unseen. Its difference hash
    is now compared with the other records' and findings' photos, as on cases (`NEAR_LAND_FILE`), and not with the
    record's own."""
    from PIL import Image

    from gis.evidence import NEAR_LAND_FILE
    from tests.conftest import fixture_path
    from tests.photo_factory import photo_with_exif

    x, y = land.x, land.y
    centre = land.cultivated.representative_point()
    lon, lat = land.lonlat(centre.x, centre.y)
    with Image.open(fixture_path("photos", "ianare_gps_DSCN0010.jpg")) as img:
        picture = img.convert("RGB")

    def crop_at(minutes: int) -> bytes:  # the one picture, its EXIF written anew: other bytes each time
        return photo_with_exif(lat, lon, 0.0, NOW + dt.timedelta(minutes=minutes), seed=0, fmt="JPEG", image=picture)

    first = finding(land, "abandoned", x + 400, y + 100, cause="no_labour")
    on_first = upload(land, "inspector1", f"/api/abandoned/{first['abandoned_id']}/photos", crop_at(1), "crop")
    again_first = upload(land, "inspector1", f"/api/abandoned/{first['abandoned_id']}/photos", crop_at(2), "seen")
    assert on_first.json()["checks"] == [] and again_first.json()["checks"] == []  # its own record: not flagged
    post(land, "county", f"/api/abandoned/{first['abandoned_id']}/transitions", expect=200, action="dismiss",
         payload={"reason": "经批准的轮作休耕"})
    second = finding(land, "abandoned", x + 350, y + 50, cause="dispute")
    on_second = upload(land, "inspector1", f"/api/abandoned/{second['abandoned_id']}/photos", crop_at(3), "crop")
    assert on_second.status_code == 201, on_second.text
    assert on_second.json()["sha256"] != on_first.json()["sha256"]
    assert on_second.json()["checks"] == [NEAR_LAND_FILE]
    other = jpeg_at_house(land.cultivated, NOW + dt.timedelta(minutes=4), seed=7)  # another picture altogether
    assert upload(land, "inspector1", f"/api/abandoned/{second['abandoned_id']}/photos", other, "seen"
                  ).json()["checks"] == []


def test_the_permanent_farmland_no_village_chief_answers_for_is_shown_per_township(land: Land):
    """田长制 makes a named chief answer for every patch of farmland, but a village that never had a chief was
    flagged nowhere (village posts are named as the county reaches them). `GET /api/chiefs/coverage`: per township,
    the villages with permanent farmland, those with a village chief in post, and the farmland (m², 亩) in the
    villages without one, named — for the county to see how far the chiefs reach. Township roles: their own."""
    site = land.site

    def coverage(user: str) -> dict[str, dict]:
        answer = site.client.get("/api/chiefs/coverage", headers=site.as_user(user))
        assert answer.status_code == 200, answer.text
        return {row["township_code"]: row for row in answer.json()}

    before = coverage("county")
    assert set(before) >= {T1, T2}
    t1 = before[T1]
    assert t1["villages_with_farmland"] >= 1 and t1["villages_with_chief"] == 0
    assert site.village_code in [v["code"] for v in t1["uncovered"]]
    assert t1["uncovered_m2"] == pytest.approx(t1["farmland_m2"]) and t1["uncovered_m2"] > 0
    assert t1["uncovered_mu"] == pytest.approx(t1["uncovered_m2"] / 666.6667, rel=1e-4)
    assert set(coverage("officer2")) == {T2}  # a township sees its own
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="inspector1")
    after = coverage("county")[T1]
    assert site.village_code not in [v["code"] for v in after["uncovered"]]
    assert after["villages_with_chief"] == 1
    covered = next(v for v in t1["uncovered"] if v["code"] == site.village_code)["farmland_m2"]
    assert after["uncovered_m2"] == pytest.approx(t1["uncovered_m2"] - covered)


def test_a_disabled_user_holds_no_chief_post_and_the_post_shows_vacant(land: Land):
    """Someone leaves: their account is disabled. Before, they stayed 县级田长 / 乡级田长 in every list while nobody
    could log in to answer for the area. Now disabling ends their posts (kept for the month's duty report) and
    the county's and each township's post without a chief is listed as vacant (空缺), for an admin to fill; so is a
    village's or a grid cell's once someone held it (before, it vanished from the list: the village's farmland
    answered to nobody, and nobody saw it)."""
    from api.accounts.users import disable_user

    site = land.site
    post(land, "admin", "/api/chiefs", level="county", area_code=T1[:6], username="county")
    post(land, "admin", "/api/chiefs", level="township", area_code=T1, username="officer1")
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="officer1")

    def listed(user: str) -> dict[tuple[str, str], str | None]:
        rows = site.client.get("/api/chiefs", headers=site.as_user(user)).json()
        assert all(r["vacant"] == (r["username"] is None) for r in rows), rows
        return {(r["level"], r["area_code"]): r["username"] for r in rows}

    with site.db.factory() as s:
        townships = set(s.execute(select(AdminArea.code).where(AdminArea.level == "township")).scalars())
    others = {("township", t): None for t in townships - {T1}}  # every other township's post: vacant
    assert ("township", T2) in others
    assert listed("county") == {("county", T1[:6]): "county", ("township", T1): "officer1",
                                ("village", site.village_code): "officer1", **others}
    assert listed("officer2") == {("township", T2): None}  # their township's post only; it has no chief
    with site.db.factory.begin() as s:
        disabled = disable_user(s, "officer1", now=NOW)
    assert disabled.posts == [("township", T1), ("village", site.village_code)]
    assert listed("county") == {("county", T1[:6]): "county", ("township", T1): None,
                                ("village", site.village_code): None, **others}
    post(land, "admin", "/api/chiefs", level="village", area_code=site.village_code, username="inspector1")
    assert listed("county")[("village", site.village_code)] == "inspector1"  # filled again: no longer vacant
    # The month's duty still names who held the posts until today.
    with site.db.factory() as s:
        duty = month_duty(s, MONTH, {"township": 1, "village": 2})
    assert set(duty.loc[duty["username"] == "officer1", "area_code"]) == {T1, site.village_code}
    assert site.client.post("/api/auth/token", json={"username": "officer1", "password": PASSWORD}).status_code == 401
