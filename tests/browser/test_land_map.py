"""Abandoned land on the officials' map: a township officer draws the abandoned part of a field, records it,
sees its area (computed by the server in the county CRS) and decides its remedy in the side panel — a refusal
in the officer's words first, then the decision, both in the land audit chain."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import select

from api.cases.audit import LAND_CHAIN, verify_chain
from api.db.models import AbandonedRecord, House, LandEvent, LandParcel
from api.db.repository import read_frame
from tests.browser.test_review_map import open_map

pytestmark = pytest.mark.browser
TOWNSHIP = "431021101"
TO_WEB = Transformer.from_crs(4546, 4326, always_xy=True)
SIDE_M = 60.0


def a_quiet_field(live_factory) -> tuple[shapely.Polygon, shapely.Polygon]:  # type: ignore[no-untyped-def]
    """A cultivated parcel of the officer's township with no record on it and no house near, and a 60 m square
    well inside it (the part to draw)."""
    with live_factory() as s:
        parcels = read_frame(s, LandParcel, ["dlbm", "zldwdm"], where=[LandParcel.dlbm.in_(["0101", "0103"])])
        houses = read_frame(s, House).geometry.to_numpy()
        taken = read_frame(s, AbandonedRecord).geometry.to_numpy()
    parcels = parcels[parcels["zldwdm"].str.startswith(TOWNSHIP) & (parcels.area > 30_000)]
    tree = shapely.STRtree(houses)
    for parcel in parcels.geometry:
        core = shapely.buffer(parcel, -SIDE_M)
        if core.is_empty:
            continue
        centre = shapely.point_on_surface(core)
        square = shapely.box(centre.x - SIDE_M / 2, centre.y - SIDE_M / 2, centre.x + SIDE_M / 2, centre.y + SIDE_M / 2)
        if (shapely.distance(houses[tree.nearest(centre)], centre) > 150 and parcel.contains(square)
                and not any(shapely.intersects(t, parcel) for t in taken)):
            return parcel, square
    raise AssertionError("the demo county has no quiet field in the township")


def test_an_officer_draws_abandoned_land_and_decides_its_remedy_on_the_map(browser, live_server: str, live_factory,
                                                                           artifacts: Path):
    parcel, square = a_quiet_field(live_factory)
    lon, lat = TO_WEB.transform(square.centroid.x, square.centroid.y)
    page, errors, _ = open_map(browser, f"{live_server}/map", user="officer")
    page.evaluate(f"""() => {{ for (const k of Object.keys(window).filter(k => k.startsWith('map_'))) {{
        window[k].setView([{lat}, {lon}], 18, {{ animate: false }}); }} }}""")
    page.wait_for_timeout(300)
    page.click("#rl-land-draw")
    corners = [TO_WEB.transform(x, y) for x, y in list(square.exterior.coords)[:4]]
    for corner_lon, corner_lat in corners:
        x, y = page.evaluate(f"""() => {{ const k = Object.keys(window).find(k => k.startsWith('map_'));
            const m = window[k]; const p = m.latLngToContainerPoint([{corner_lat}, {corner_lon}]);
            const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""")
        page.mouse.click(x, y)
    page.wait_for_function("() => document.querySelector('.rl-land-control').dataset.vertices === '4'")
    page.click("#rl-land-finish")
    page.select_option("#rl-land-new select[name=cause]", "low_return")
    page.fill("#rl-land-new input[name=note]", "地块东半部撂荒")
    page.click("#rl-land-new button[type=submit]")
    page.wait_for_selector("#rl-panel[data-record-id]")
    record_id = int(page.get_attribute("#rl-panel", "data-record-id") or 0)
    with live_factory() as s:
        record = s.get(AbandonedRecord, record_id)
        stored = read_frame(s, AbandonedRecord, where=[AbandonedRecord.id == record_id]).geometry.iloc[0]
    # The outline drawn by clicks (a pixel is ~0.5 m at this zoom): the 60 m square, on the parcel, by the server.
    assert record.origin == "desk" and record.cause == "low_return" and record.note == "地块东半部撂荒"
    assert record.area_m2 == pytest.approx(SIDE_M * SIDE_M, rel=0.05)
    assert shapely.area(shapely.intersection(stored, square)) / record.area_m2 > 0.95
    assert parcel.buffer(0.01).contains(stored) and record.township_code == TOWNSHIP + "000"
    shown = (page.text_content("#rl-panel .rl-land-m2") or "").replace(",", "")
    assert float(shown) == pytest.approx(record.area_m2, abs=0.5)
    # A transfer needs who takes the land on: refused in the officer's words, nothing changed.
    form = "#rl-panel form[data-action=decide_remedy]"
    page.select_option(f"{form} select[data-for=remedy]", "transfer")
    page.click(f"{form} button[type=submit]")
    said = f"document.querySelector('{form} [role=alert]').textContent"
    page.wait_for_function(f"() => ({said} || '').includes('承接方')")
    page.fill(f"{form} input[data-for=remedy_detail]", "县粮食种植专业合作社")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#rl-panel[data-status=remedy_decided]")
    page.screenshot(path=str(artifacts / "map-abandoned-drawn.png"))
    with live_factory() as s:
        decided = s.get(AbandonedRecord, record_id)
        assert verify_chain(s, LAND_CHAIN).ok
        actions = [a for (a,) in s.execute(select(LandEvent.action).where(LandEvent.record_id == record_id)
                                                   .order_by(LandEvent.id))]
    assert decided.remedy == "transfer" and decided.remedy_detail == "县粮食种植专业合作社"
    assert decided.remedy_deadline is not None and actions == ["report", "decide_remedy"]
    assert page.locator("#rl-panel form[data-action=dismiss]").count() == 0  # the county's, not the township's
    assert [e for e in errors if "409 (Conflict)" not in e] == []  # the refused transfer: the console's only error
