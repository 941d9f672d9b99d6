"""The review map in a real browser: loads offline, draws cases by bounding box, filters, popups."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


def open_map(browser, url: str, user: str = "county"):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    external: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(url.split("/map")[0]) else None)
    page.goto(url)
    # Not logged in: the map sends the browser to the login form, which brings it back.
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/map"))
    page.wait_for_function("() => document.getElementById('rl-status').dataset.cases !== undefined",
                           timeout=20_000)
    return page, errors, external


def drawn_cases(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("document.getElementById('rl-status').dataset.cases"))


def test_map_loads_and_draws_cases_with_no_errors(browser, live_server: str, artifacts: Path):
    page, errors, external = open_map(browser, f"{live_server}/map")
    shown = drawn_cases(page)
    status = page.text_content("#rl-status") or ""
    total = int(page.evaluate("document.getElementById('rl-status').dataset.total"))
    assert f"{shown} / {total} 件案件" in status
    assert shown > 0 and shown == min(total, 5000)
    # Every case in view is an SVG/canvas path: count the drawn features on the map's overlay.
    assert page.locator(".leaflet-overlay-pane canvas, .leaflet-overlay-pane svg").count() >= 1
    page.screenshot(path=str(artifacts / "review_map.png"))
    assert errors == [], errors
    assert external == [], external  # no CDN, no tiles: the page works offline


def test_filter_in_the_url_changes_what_is_shown(browser, live_server: str):
    page, errors, _ = open_map(browser, f"{live_server}/map")
    everything = drawn_cases(page)
    page, errors, _ = open_map(browser, f"{live_server}/map?disposition=classify")
    classify = drawn_cases(page)
    page, errors, _ = open_map(browser, f"{live_server}/map?rule=2")
    rule2 = drawn_cases(page)
    assert 0 < classify < everything
    assert 0 < rule2 < everything
    assert errors == []


def test_popup_shows_the_case_numbers(browser, live_server: str):
    page, errors, _ = open_map(browser, f"{live_server}/map?disposition=demolish")
    page.evaluate("""() => {
        // Open the first drawn case's popup, as a click on it would.
        for (const key of Object.keys(window).filter(k => k.startsWith('map_'))) {
            let found = null;
            window[key].eachLayer(l => { if (!found && l.feature && l.feature.properties.disposition) { found = l; } });
            if (found) { found.openPopup(); return; }
        }
    }""")
    popup = page.wait_for_selector(".rl-popup", timeout=10_000)
    text = popup.text_content() or ""
    assert re.search(r"RL-\d{12}-H\d{6}", text)
    assert "demolish" in text and "亩" in text
    farmland = float(page.text_content(".rl-farmland-m2") or "nan")
    assert farmland > 0
    # Where the case came from, in Chinese with its code (and, for a lead, every satellite lead it answers). The
    # popup is drawn again when the case's detail arrives: between the two there is no popup, which is "not yet"
    # (reading the text of none threw, and ended the wait at once).
    page.wait_for_function(
        "() => (document.querySelector('.rl-popup')?.textContent || '').includes('房屋普查比对 scan')", timeout=10_000)
    assert errors == []


def test_township_officer_sees_only_their_township(browser, live_server: str):
    page, errors, _ = open_map(browser, f"{live_server}/map", user="officer")
    codes = page.evaluate("""() => {
        const seen = new Set();
        for (const key of Object.keys(window).filter(k => k.startsWith('map_'))) {
            window[key].eachLayer(l => { if (l.feature && l.feature.properties.disposition) {
                seen.add(l.feature.properties.township_code); } });
        }
        return [...seen];
    }""")
    assert codes == ["431021101000"]
    assert errors == []


def test_side_panel_filters_ui_and_county_view(browser, live_server: str, live_factory):
    from sqlalchemy import select

    from api.db.models import Case

    with live_factory() as s:
        code = s.execute(select(Case.code).where(Case.disposition == "classify").order_by(Case.id)).scalars().first()
    page, errors, _ = open_map(browser, f"{live_server}/map?code={code}")
    panel = page.wait_for_selector("#rl-panel:not([hidden])")
    assert code in (panel.text_content() or "")
    assert "记录" in (panel.text_content() or "")
    page.select_option("#rl-filters select[name=disposition]", "demolish")
    page.wait_for_function("() => window.location.search.includes('disposition=demolish')")
    page.evaluate("""() => { for (const k of Object.keys(window).filter(k => k.startsWith('map_'))) {
        window[k].setZoom(10); } }""")
    page.wait_for_function("() => document.getElementById('rl-status').dataset.grouped === 'true'")
    assert "已分组" in (page.text_content("#rl-status") or "")
    clusters = page.locator(".rl-cluster").count()
    total = int(page.evaluate("document.getElementById('rl-status').dataset.total"))
    assert clusters > 0 and total > 0
    assert errors == []


def test_an_official_decides_from_the_side_panel(browser, live_server: str, live_factory):
    from sqlalchemy import select

    from api.db.models import Case

    with live_factory() as s:
        cid, code = s.execute(select(Case.id, Case.code).where(Case.township_code == "431021102000",
                                                               Case.status == "new").order_by(Case.id)).first()
    page, errors, _ = open_map(browser, f"{live_server}/map?code={code}")
    button = page.wait_for_selector("#rl-panel:not([hidden]) button[data-action=assign]")
    # Meanwhile the case changes elsewhere: the panel's copy is stale, the server refuses, the panel says why.
    changed = page.request.post(f"{live_server}/api/cases/{cid}/transitions", data={"action": "assign"},
                                headers={"Origin": live_server})  # as the map's own fetch sends it
    assert changed.ok, changed.text()
    button.click()
    page.wait_for_function(
        "() => document.getElementById('rl-action-error').textContent.includes('已被修改')")
    # Reloaded, the official assigns it; the panel and the map show the new state.
    page, errors2, _ = open_map(browser, f"{live_server}/map?code={code}")
    page.wait_for_selector("#rl-panel:not([hidden]) button[data-action=assign]").click()
    page.wait_for_function("() => [...document.querySelectorAll('#rl-panel li')].filter(li => / assign/.test("
                           "li.textContent)).length === 2")
    page.wait_for_function(f"""() => {{
        for (const key of Object.keys(window).filter(k => k.startsWith('map_'))) {{
            let status = null;
            window[key].eachLayer(l => {{ if (l.feature && l.feature.properties.code === {code!r}) {{
                status = l.feature.properties.status; }} }});
            if (status === 'assigned') {{ return true; }}
        }}
        return false;
    }}""")
    with live_factory() as s:
        assert s.execute(select(Case.status).where(Case.id == cid)).scalar_one() == "assigned"
    assert all("409" in e for e in errors), errors  # Chromium logs the refused request itself, nothing else
    assert errors2 == []


def test_search_always_opens_the_case_searched_and_the_panel_acts_on_it(browser, live_server: str, live_factory):
    """The wrong-case bug: after clicking another house, Enter on the unchanged search text reopens the searched
    case (it did nothing, and 指派 then assigned the other one); a trailing space or the house id finds it too."""
    from sqlalchemy import select

    from api.db.models import Case

    with live_factory() as s:
        cid, code = s.execute(select(Case.id, Case.code).where(Case.township_code == "431021103000",
                                                               Case.status == "new").order_by(Case.id)).first()
    page, errors, _ = open_map(browser, f"{live_server}/map?code={code}")
    page.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{code}')")

    def click_another_house() -> str:
        picked = page.evaluate(f"""() => {{
            for (const key of Object.keys(window).filter(k => k.startsWith('map_'))) {{
                let hit = null;
                window[key].eachLayer(l => {{ const p = l.feature && l.feature.properties;
                    if (!hit && p && p.status && String(p.code).startsWith('RL-') && p.code !== {code!r}) {{
                        hit = l; }} }});
                if (hit) {{ hit.fire('click'); return hit.feature.properties.code; }}
            }}
            return null;
        }}""")
        assert picked and picked != code
        page.wait_for_selector(f"#rl-panel b:has-text('{picked}')")
        return str(picked)

    other = click_another_house()
    with live_factory() as s:
        other_before = s.execute(select(Case.status, Case.version).where(Case.code == other)).one()
    search = page.locator("#rl-filters input[name=code]")
    assert search.input_value() == code  # unchanged since the search
    for text in (code, code + " ", code.rsplit("-", 1)[1]):  # as it was; a trailing space; the house id alone
        click_another_house()
        search.fill(text)
        search.press("Enter")
        page.wait_for_selector(f"#rl-panel b:has-text('{code}')")
    page.click("#rl-panel button[data-action=assign]")
    page.wait_for_function("() => [...document.querySelectorAll('#rl-panel li')].some(li => / assign/.test("
                           "li.textContent))")
    with live_factory() as s:
        assert s.execute(select(Case.status).where(Case.id == cid)).scalar_one() == "assigned"
        assert s.execute(select(Case.status, Case.version).where(Case.code == other)).one() == other_before
    assert errors == []


def test_the_panel_shows_the_house_on_every_imagery_pass(browser, live_server: str, live_factory, tmp_path: Path,
                                                         artifacts: Path):
    """Before / after: two passes imported, the case's panel slides from the one that shows the house to the
    one where it is gone, drawing each pass's footprints on the map."""
    import datetime as dt

    import geopandas as gpd
    from shapely import box
    from sqlalchemy import select

    from api.db.models import Case
    from api.db.repository import read_frame
    from api.ingest.epochs import import_epoch

    with live_factory() as s:
        code = s.execute(select(Case.code).where(Case.township_code == "431021102000", Case.status == "new")
                         .order_by(Case.id.desc())).scalars().first()
        house = read_frame(s, Case, where=[Case.code == code]).geometry.iloc[0]
    far = box(house.bounds[0] + 5000, house.bounds[1] + 5000, house.bounds[0] + 5010, house.bounds[1] + 5010)
    for name, day, geoms in (("a", dt.date(2025, 3, 31), [house, far]), ("b", dt.date(2025, 9, 30), [far])):
        path = tmp_path / f"{name}.gpkg"
        gpd.GeoDataFrame({"BSM": [f"{name}{i}" for i in range(len(geoms))]}, geometry=geoms, crs=4546).to_file(path)
        import_epoch(live_factory, path, day)
    from api.db.models import Epoch

    with live_factory() as s:  # other tests may add passes to the shared database: find ours among them
        dates = [d.isoformat() for d in s.execute(select(Epoch.imaged_on).order_by(Epoch.imaged_on)).scalars()]
    page, errors, _ = open_map(browser, f"{live_server}/map?code={code}")
    page.wait_for_selector("#rl-epoch-slider")
    assert page.get_attribute("#rl-epochs", "data-shown") == dates[-1]  # the latest pass first

    def slide_to(day: str) -> str:
        page.eval_on_selector("#rl-epoch-slider", f"s => {{ s.value = {dates.index(day)}; "
                              "s.dispatchEvent(new Event('input')); }")
        page.wait_for_selector(f"#rl-epochs[data-shown='{day}']")
        return page.text_content("#rl-epoch-said") or ""

    assert "无房屋" in slide_to("2025-09-30")
    assert "房屋在" in slide_to("2025-03-31")
    drawn = page.evaluate("""() => { let n = 0;
        for (const k of Object.keys(window).filter(k => k.startsWith('map_'))) {
            window[k].eachLayer(l => { if (l.feature && l.feature.properties.at_house === true) { n += 1; } });
        }
        return n; }""")
    assert drawn >= 1
    page.screenshot(path=str(artifacts / "map-imagery-passes.png"))
    assert errors == []


@pytest.fixture(scope="module")
def tiled_server(live_db: str, live_var: Path):  # type: ignore[no-untyped-def]
    """The same demo county and photo store served as a county above the tile threshold (`map_tiles_above=0`)."""
    from api.http.app import create_app
    from api.settings import Settings
    from tests.live import serving

    settings = Settings(database_url=live_db, var_dir=live_var, map_tiles_above=0)
    with serving(create_app(settings)) as url:
        yield url


def test_a_tiled_county_draws_vector_tiles_opens_a_case_and_counts_when_wide(browser, tiled_server: str,
                                                                             live_factory, artifacts: Path):
    """Above the threshold the map draws the vendored VectorGrid's tiles: clicking a drawn case opens its
    panel, a county-wide view shows counts per quarter tile, and nothing is fetched from elsewhere.

    The grid cells (drawn on the map's canvas, over the whole county) are on: a case stays clickable under
    them (the canvas once sat above the case tiles and swallowed every click)."""
    from api.stewardship.grids import generate_grids
    from gis.coverage import CoverageRules

    generate_grids(live_factory, CoverageRules())  # the villages that have none yet
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    external: list[str] = []
    tiles: list[tuple[str, int]] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(tiled_server) else None)
    refused: list[tuple[str, int]] = []
    page.on("response", lambda r: tiles.append((r.url, r.status)) if "/api/tiles/" in r.url else None)
    page.on("response", lambda r: refused.append((r.url, r.status)) if r.status >= 400 else None)
    page.goto(f"{tiled_server}/login?next=/map%3Fdisposition%3Ddemolish")
    page.fill("input[name=username]", "county")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/map\?"))
    page.wait_for_function("() => document.getElementById('rl-status').dataset.grouped !== undefined", timeout=20_000)
    # A demolish case, and the map at z19 on it: its case tiles are asked for and answered (waited for as
    # such: "network idle" is a state the page reached long before, and returned at once under load).
    with page.expect_response(lambda r: "/api/tiles/cases/19/" in r.url, timeout=30_000) as case_tile:
        target = page.evaluate("""async () => {
            const fc = await (await fetch('/api/cases?format=geojson&limit=1&disposition=demolish')).json();
            const f = fc.features[0];
            const ring = f.geometry.type === 'MultiPolygon' ? f.geometry.coordinates[0][0] : f.geometry.coordinates[0];
            const mean = (i) => ring.slice(1).reduce((s, c) => s + c[i], 0) / (ring.length - 1);
            const lon = mean(0), lat = mean(1);
            window.map_redline.setView([lat, lon], 19, { animate: false });
            return { code: f.properties.code, lat, lon };
        }""")
    assert case_tile.value.status == 200, case_tile.value.url
    page.wait_for_function("() => [...document.querySelectorAll('.leaflet-tile-container canvas')].length > 0",
                           timeout=20_000)
    point = page.evaluate("""([lat, lon]) => {
        const p = window.map_redline.latLngToContainerPoint([lat, lon]);
        const box = window.map_redline.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", [target["lat"], target["lon"]])
    # The case's SVG tile is drawn (tiles arrive one by one; under load after the network went quiet).
    page.wait_for_function("([x, y]) => document.elementFromPoint(x, y)?.tagName === 'path'", arg=point,
                           timeout=30_000)
    page.mouse.click(*point)
    page.wait_for_function("(code) => (document.getElementById('rl-panel').textContent || '').includes(code)",
                           arg=target["code"], timeout=30_000)
    page.wait_for_selector(".rl-popup", timeout=20_000)
    page.screenshot(path=str(artifacts / "review_map_tiles.png"))
    # County-wide: counts per quarter tile, summed in the status line.
    page.evaluate("() => window.map_redline.setZoom(11, { animate: false })")
    page.wait_for_function("() => document.querySelectorAll('.rl-count-tile .rl-cluster').length > 0", timeout=20_000)
    page.wait_for_function("() => document.getElementById('rl-status').dataset.grouped === 'true'", timeout=10_000)
    total = int(page.evaluate("document.getElementById('rl-status').dataset.total"))
    assert total > 0 and "件案件" in (page.text_content("#rl-status") or "")
    assert all(s == 200 for _, s in tiles), [t for t in tiles if t[1] != 200]
    assert errors == [] and refused == [], (errors, refused)
    assert external == [], external
