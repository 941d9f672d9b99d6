"""A patrol on a phone, offline: the GPS track and two findings kept on the phone, sent when the server answers,
stored exactly once — the abandoned field becomes an abandoned-land record, the new building a case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import func, select

from api.db.models import AbandonedRecord, Case, Finding, House, LandParcel, LandPhoto, Patrol
from api.db.repository import read_frame
from api.ingest.epochs import import_epoch
from tests.browser.test_field_app import assign_to_inspector, log_in_on_phone
from tests.browser.test_review_map import open_map
from tests.photo_factory import jpeg_at_house

pytestmark = pytest.mark.browser
TOWNSHIP = "431021101"
TO_WEB = Transformer.from_crs(4546, 4326, always_xy=True)


def two_fields(live_factory) -> tuple[shapely.Point, shapely.Point]:  # type: ignore[no-untyped-def]
    """Centres of two cultivated parcels of the inspector's township, far from every house."""
    with live_factory() as s:
        parcels = read_frame(s, LandParcel, ["dlbm", "zldwdm"], where=[LandParcel.dlbm == "0103"])
        houses = read_frame(s, House).geometry.to_numpy()
    parcels = parcels[parcels["zldwdm"].str.startswith(TOWNSHIP) & (parcels.area > 20_000)]
    centres = shapely.point_on_surface(parcels.geometry.to_numpy())
    tree = shapely.STRtree(houses)
    clear = [c for c in centres if shapely.distance(houses[tree.nearest(c)], c) > 60]
    return clear[0], clear[1]


def lonlat(point: shapely.Point, dx: float = 0.0) -> dict[str, float]:
    lon, lat = TO_WEB.transform(point.x + dx, point.y)
    return {"longitude": float(lon), "latitude": float(lat)}


def test_an_offline_patrol_syncs_once_into_a_record_and_a_case(browser, live_server: str, live_factory,
                                                               tmp_path: Path, artifacts: Path):
    field, building_site = two_fields(live_factory)
    # The latest imagery shows a new building on the second field (the patroller sees it going up).
    shed = shapely.box(building_site.x - 5, building_site.y - 6, building_site.x + 5, building_site.y + 6)
    gpd.GeoDataFrame({"BSM": ["P1"]}, geometry=[shed], crs=4546).to_file(tmp_path / "pass.gpkg")
    import_epoch(live_factory, tmp_path / "pass.gpkg", dt.date.today() - dt.timedelta(days=1))
    with live_factory() as s:
        some_case = s.execute(select(Case.id).where(Case.township_code == TOWNSHIP + "000")).scalars().first()
    context = browser.new_context(viewport={"width": 390, "height": 844}, permissions=["geolocation"],
                                  geolocation=lonlat(field, -80), locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with live_factory() as s:
        case = s.get(Case, some_case)
        s.expunge(case)
    if case.status == "new":
        assign_to_inspector(live_factory, [case])
    log_in_on_phone(page, live_server, case.id)
    context.set_offline(True)
    # The patrol controls are wired once the app has its labels (the finding kinds fill the pick list): a click
    # before that would start nothing (seen once under a loaded suite).
    page.wait_for_selector("#finding-form select[name=kind] option[value=abandoned]", state="attached")
    page.click("#patrol-start")
    page.wait_for_selector("#patrol-active:not([hidden])")

    def walk_to(where: dict[str, float], fixes: int) -> None:
        context.set_geolocation(where)
        page.wait_for_function(f"() => Number(document.body.dataset.patrolFixes || 0) >= {fixes}")

    walk_to(lonlat(field, -60), 1)
    walk_to(lonlat(field), 2)
    page.select_option("#finding-form select[name=kind]", "abandoned")
    page.select_option("#finding-form select[name=cause]", "no_labour")
    page.fill("#finding-form input[name=note]", "两年未种")
    # The weeds photographed on the spot: 10 m south of the patroller's position, facing it, EXIF intact.
    weeds = jpeg_at_house(field, dt.datetime.now(dt.UTC), seed=31)
    page.set_input_files("#finding-form input[name=photo]",
                         files=[{"name": "weeds.jpg", "mimeType": "image/jpeg", "buffer": weeds}])
    page.click("#finding-form button[type=submit]")
    page.wait_for_selector("li.queue-item[data-kind=finding_photo][data-state=held]")
    walk_to(lonlat(building_site), 3)
    page.select_option("#finding-form select[name=kind]", "new_construction")
    page.click("#finding-form button[type=submit]")
    walk_to(lonlat(building_site, 40), 4)
    assert "2 条发现" in (page.text_content("#patrol-status") or "")
    page.screenshot(path=str(artifacts / "field_patrol.png"))
    page.click("#patrol-end")
    page.wait_for_selector("li.queue-item[data-kind=patrol][data-state=queued]")
    assert page.locator("li.queue-item[data-kind=finding]").count() == 2
    assert page.locator("li.queue-item[data-kind=finding_photo][data-state=queued]").count() == 1
    page.reload()  # offline: the patrol and its findings wait in IndexedDB
    page.wait_for_selector("li.queue-item[data-kind=patrol]")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#queue-empty:not([hidden])", timeout=30_000)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # another sync sends nothing twice
    page.wait_for_timeout(500)
    with live_factory() as s:
        mine = list(s.execute(select(Patrol)).scalars())
        # This patrol's findings: the session's live database holds other tests' findings (the desk lists them).
        findings = list(s.execute(select(Finding).where(Finding.patrol_id.in_([p.id for p in mine]))
                                  .order_by(Finding.id)).scalars())
        record = s.execute(select(AbandonedRecord).where(AbandonedRecord.id == findings[0].abandoned_id)).scalar_one()
        opened = s.get(Case, findings[1].case_id)
        photos = list(s.execute(select(LandPhoto)).scalars())
        assert s.execute(select(func.count()).select_from(Finding).where(Finding.patrol_id.is_not(None))
                         ).scalar_one() == 2
    assert len(mine) == 1 and mine[0].length_m > 100
    assert [f.kind for f in findings] == ["abandoned", "new_construction"]
    assert all(f.patrol_id == mine[0].id for f in findings)
    assert findings[0].outcome == "abandoned_record" and record.cause == "no_labour" and record.note == "两年未种"
    assert findings[1].outcome == "case_opened" and opened is not None and opened.origin == "patrol"
    # The photo, sent once after its finding, shows on the record the finding became and passed its checks.
    assert [(p.finding_id, p.abandoned_id, p.kind) for p in photos] == [(findings[0].id, record.id, "finding")]
    assert photos[0].checks == "[]"
    # The phone lists what became of each finding it sent: the abandoned field's record, the building's case.
    page.wait_for_selector("#my-findings li[data-outcome=case_opened]")
    became = page.text_content(f"#my-findings li[data-uuid='{findings[1].client_uuid}']") or ""
    assert "新增建房" in became and "已立为案件" in became and opened.code in became
    assert "已登记抛荒" in (page.text_content(f"#my-findings li[data-uuid='{findings[0].client_uuid}']") or "")
    assert errors == []
    # On the officials' map: the abandoned field and the patrol's track, with the new case.
    desk, desk_errors, _ = open_map(browser, f"{live_server}/map?code={opened.code}")
    desk.wait_for_selector("#rl-panel:not([hidden])")
    desk.wait_for_function("""() => { let land = 0, tracks = 0;
        for (const k of Object.keys(window).filter(k => k.startsWith('map_'))) {
            window[k].eachLayer(l => { const p = l.feature && l.feature.properties;
                if (p && p.code && String(p.code).startsWith('PH-')) { land += 1; }
                if (p && p.patroller) { tracks += 1; } });
        }
        return land >= 1 && tracks >= 1; }""", timeout=15_000)
    desk.screenshot(path=str(artifacts / "map-patrol-and-abandoned.png"))
    assert desk_errors == []
