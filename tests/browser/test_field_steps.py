"""The field app's own promises on a phone: an empty list says so, the status pill tells a dead server from no
network, a photo can be added at any step, a different period is a request with evidence (never set inside
the verdict), a refused item waits for "retry now", and the map survives the keyboard opening."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from api.accounts.users import create_user
from api.cases.deadlines import COUNTY_TZ
from api.db.models import Case, CaseEvent, Photo, ProgressReport
from api.db.repository import read_frame
from tests.browser.conftest import PASSWORD, open_case_on_phone
from tests.browser.test_field_app import assign_to_inspector
from tests.photo_factory import jpeg_at_house

pytestmark = pytest.mark.browser
TOWNSHIP = "431021106000"


def phone_login(browser, live_server: str, user: str, **context_options):  # type: ignore[no-untyped-def]
    """A phone (`context_options`: e.g. its position) signed in to the field app as `user`."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", **context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/field/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_function("() => document.body.dataset.ready === '1'")
    return context, page, errors


def inspector_with_cases(live_factory, username: str, name: str, count: int) -> list[Case]:  # type: ignore[no-untyped-def]
    """A new inspector of the township, assigned its first `count` new cases (detached records)."""
    with live_factory.begin() as s:
        create_user(s, username, PASSWORD, "inspector", TOWNSHIP, name)
    with live_factory() as s:
        cases = list(s.execute(select(Case).where(Case.township_code == TOWNSHIP, Case.status == "new")
                               .order_by(Case.id).limit(count)).scalars())
        for case in cases:
            s.expunge(case)
    assign_to_inspector(live_factory, cases, inspector=username)
    return cases


def test_an_empty_list_says_so_and_the_pill_tells_a_dead_server_from_no_network(browser, live_server: str,
                                                                               live_factory, artifacts: Path):
    with live_factory.begin() as s:
        create_user(s, "idle106", PASSWORD, "inspector", TOWNSHIP, "赵空闲")
    context, page, errors = phone_login(browser, live_server, "idle106")
    assert page.is_visible("#empty") and page.locator("li.case").count() == 0
    assert page.text_content("#who") == "赵空闲"
    page.wait_for_selector("#net[data-state=online]")
    # The phone has a network but the server does not answer (a captive portal, the server down).
    page.route("**/health", lambda route: route.abort())
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#net[data-state=noserver]")
    assert page.text_content("#net") == "服务器无响应"
    page.unroute("**/health")
    context.set_offline(True)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    page.wait_for_selector("#net[data-state=offline]")
    page.screenshot(path=str(artifacts / "field_app_empty_offline.png"))
    context.set_offline(False)
    page.click("#logout")
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.evaluate("localStorage.getItem('redline.token')") is None
    assert errors == []
    context.close()


def test_photos_at_any_step_and_a_period_change_is_a_request(browser, live_server: str, live_factory,
                                                           artifacts: Path):
    with live_factory.begin() as s:
        create_user(s, "inspector106", PASSWORD, "inspector", TOWNSHIP, "钱巡查")
    with live_factory() as s:
        case = s.execute(select(Case).where(Case.township_code == TOWNSHIP, Case.status == "new",
                                            Case.period == "after_cutoff").order_by(Case.id)).scalars().first()
        s.expunge(case)
        footprint = read_frame(s, Case, where=[Case.id == case.id]).geometry.iloc[0]
    assign_to_inspector(live_factory, [case], inspector="inspector106")
    context, page, errors = phone_login(browser, live_server, "inspector106")
    open_case_on_phone(page, case.id, case.code)
    # Photos only: no verdict asked for, the case does not move.
    page.check("input[name=step][value=photos]")
    assert page.is_hidden("#verify-fields")
    taken = dt.datetime.now(COUNTY_TZ).replace(microsecond=0)
    page.set_input_files("#photo", files=[{"name": "a.jpg", "mimeType": "image/jpeg",
                                           "buffer": jpeg_at_house(footprint, taken, seed=11)}])
    page.click("#field-form button[type=submit]")
    page.wait_for_selector("#queue-empty:not([hidden])", timeout=20_000)
    with live_factory() as s:
        assert s.execute(select(func.count()).select_from(Photo).where(Photo.case_id == case.id)).scalar_one() == 1
        assert s.get(Case, case.id).status == "assigned"

    # The owner shows a contract dated 2019: the inspector asks for the period to become "before the cutoff".
    open_case_on_phone(page, case.id, case.code)
    page.check("input[name=step][value=verify]")
    page.check("input[name=verdict][value=uncertain]")
    page.select_option("#field-form select[name=period]", "before_cutoff")
    page.wait_for_selector("#period-request:not([hidden])")
    page.click("#field-form button[type=submit]")  # no reason yet: refused on the phone, nothing queued
    assert "依据" in (page.text_content("#form-error") or "")
    page.fill("textarea[name=period_reason]", "户主出示2019年建房合同及收据")
    page.click("#field-form button[type=submit]")  # a reason but no evidence photo: refused too
    assert "证据照片" in (page.text_content("#form-error") or "")
    page.select_option("#field-form select[name=kind]", "document")
    page.set_input_files("#photo", files=[{"name": "contract.jpg", "mimeType": "image/jpeg",
                                           "buffer": jpeg_at_house(footprint, taken, seed=12)}])
    page.screenshot(path=str(artifacts / "field_app_period_request.png"))
    page.click("#field-form button[type=submit]")
    page.wait_for_selector("#queue-empty:not([hidden])", timeout=20_000)
    with live_factory() as s:
        after = s.get(Case, case.id)
        contract = s.execute(select(Photo.id).where(Photo.case_id == case.id, Photo.kind == "document")).scalar_one()
        import json
        request = json.loads(after.period_request)
    assert after.period == "after_cutoff"  # unchanged until the county decides
    assert after.requested_period == "before_cutoff" and after.status == "verified" and after.verdict == "uncertain"
    assert request["evidence"] == [contract] and request["by"] == "inspector106"
    assert errors == []
    context.close()


def test_a_refused_item_waits_for_retry_and_the_map_survives_a_resize(browser, live_server: str, live_factory,
                                                                     artifacts: Path):
    with live_factory.begin() as s:
        create_user(s, "retry106", PASSWORD, "inspector", TOWNSHIP, "孙巡查")
    with live_factory() as s:
        case = s.execute(select(Case).where(Case.township_code == TOWNSHIP, Case.status == "new")
                         .order_by(Case.id.desc())).scalars().first()
        s.expunge(case)
    assign_to_inspector(live_factory, [case], inspector="retry106")
    context, page, errors = phone_login(browser, live_server, "retry106")
    open_case_on_phone(page, case.id, case.code)
    page.check("input[name=step][value=photos]")
    # Not a photo at all (a text file named .jpg): the server refuses it, the item stays with its reason.
    page.set_input_files("#photo", files=[{"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"}])
    page.click("#field-form button[type=submit]")
    item = page.wait_for_selector("li.queue-item[data-state=failed]", timeout=20_000)
    assert "JPEG" in (item.text_content() or "") and item.query_selector("button.retry")
    assert "立即重试" in (item.text_content() or "")
    page.screenshot(path=str(artifacts / "field_app_failed_item.png"))
    # The keyboard opens (the viewport shrinks), then the phone turns: Leaflet is told each time, so its
    # drawing layer follows the map's box instead of staying at the old size (a blank map).
    page.wait_for_selector("#list-view:not([hidden]) .leaflet-overlay-pane svg")

    def drawn_vs_box() -> tuple[float, float]:
        return tuple(page.evaluate("""() => {
            const box = document.getElementById('map').getBoundingClientRect().width;
            const svg = document.querySelector('#map .leaflet-overlay-pane svg');
            return [Number(svg.getAttribute('width')), box]; }"""))  # type: ignore[return-value]

    page.set_viewport_size({"width": 390, "height": 420})
    page.set_viewport_size({"width": 844, "height": 390})
    page.wait_for_function("""() => {
        const box = document.getElementById('map').getBoundingClientRect().width;
        const svg = document.querySelector('#map .leaflet-overlay-pane svg');
        return Number(svg.getAttribute('width')) >= box; }""")
    drawn, box = drawn_vs_box()
    assert box > 700 and drawn >= box
    page.screenshot(path=str(artifacts / "field_app_landscape.png"))
    assert errors == []
    context.close()


def test_a_sync_that_finds_the_same_cases_keeps_the_list_a_tap_is_landing_on(browser, live_server: str,
                                                                              live_factory):
    """Every sync reloads the inspector's cases. It used to redraw the list each time, so a tap pressed on one row
    and released on its replacement was lost (no click on either: the intermittent "case did not open" of the
    phone tests). Rows that read the same now keep their elements."""
    cases = inspector_with_cases(live_factory, "steady106", "钱稳定", 3)
    context, page, errors = phone_login(browser, live_server, "steady106")
    page.wait_for_function("() => document.body.dataset.prefetched !== undefined")  # the first sync is done
    row = page.query_selector(f"li.case[data-id='{cases[0].id}']")
    assert row is not None
    for _ in range(2):  # a sync: the queue, then the cases reloaded and their details fetched again
        page.evaluate("delete document.body.dataset.prefetched")
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_function("() => document.body.dataset.prefetched !== undefined")
    assert row.evaluate("(li) => li.isConnected"), "the sync redrew rows that had not changed"
    assert page.locator("li.case").count() == 3
    row.click()
    page.wait_for_function("(code) => !document.getElementById('case-view').hidden && "
                           "document.getElementById('case-code').textContent.trim() === code", arg=cases[0].code)
    assert errors == []
    context.close()


def test_sorted_by_distance_the_nearest_case_comes_first_with_its_metres(browser, live_server: str, live_factory):
    """按距离: the inspector's cases nearest first, each row with its distance in metres from the phone (the
    centre of the case's footprint, as the app measures it: Leaflet's great-circle distance)."""
    cases = inspector_with_cases(live_factory, "near106", "孙最近", 4)
    with live_factory() as s:
        frame = read_frame(s, Case, where=[Case.id.in_([c.id for c in cases])]).to_crs(4326)
    bounds = frame.geometry.bounds
    lon = ((bounds["minx"] + bounds["maxx"]) / 2).to_numpy()
    lat = ((bounds["miny"] + bounds["maxy"]) / 2).to_numpy()
    here = int(np.flatnonzero(frame["id"].to_numpy() == cases[-1].id)[0])  # the phone stands at the last case
    p1, p2 = np.radians(lat[here]), np.radians(lat)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon - lon[here]) / 2) ** 2
    metres = 2 * 6371000 * np.arcsin(np.sqrt(a))
    nearest_first = [int(i) for i in frame["id"].to_numpy()[np.argsort(metres, kind="stable")]]
    assert metres[here] == 0 and len(set(np.round(metres))) == len(cases)  # no ties to order by chance

    context, page, errors = phone_login(browser, live_server, "near106", permissions=["geolocation"],
                                        geolocation={"latitude": float(lat[here]), "longitude": float(lon[here])})
    page.wait_for_function("() => document.querySelectorAll('li.case').length === 4 && "
                           "[...document.querySelectorAll('li.case')].every((li) => / m$/.test(li.textContent))")
    page.select_option("#sort", "distance")
    listed = page.eval_on_selector_all("li.case", "(lis) => lis.map((li) => [Number(li.dataset.id), li.textContent])")
    assert [case_id for case_id, _ in listed] == nearest_first
    for (case_id, text), expected in zip(listed, np.sort(metres), strict=True):
        assert abs(int(text.rsplit("· ", 1)[1].removesuffix(" m")) - expected) <= 1, (case_id, text, expected)
    assert errors == []
    context.close()


def lose_first_answers(context, paths: tuple[str, ...]) -> list[str]:  # type: ignore[no-untyped-def]
    """Let the first POST to each of `paths` reach the server, which applies it, and drop its answer (the phone
    left the signal as the server replied); later sends go through. Returns what happened, in order."""
    seen: list[str] = []

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        path = next(p for p in paths if route.request.url.endswith(p))
        if route.request.method == "POST" and path not in seen:
            seen.append(path)
            route.fetch()  # applied on the server...
            route.abort("internetdisconnected")  # ...and the answer never arrives
            return
        seen.append(f"{path} again")
        route.continue_()

    for path in paths:
        context.route(f"**{path}", handle)
    return seen


def test_a_step_and_a_report_whose_answers_were_lost_are_sent_again_and_applied_once(browser, live_server: str,
                                                                                     live_factory):
    """The queue sends an item again when its answer did not arrive. A step or a report applied by the first send
    was then filed twice (a second verification in the history, a second report), or shown as refused. Each now
    carries its queue item's UUID: the resend is answered as the first send was."""
    with live_factory.begin() as s:
        create_user(s, "resend106", PASSWORD, "inspector", TOWNSHIP, "周重发")
    with live_factory() as s:
        case = s.execute(select(Case).where(Case.township_code == TOWNSHIP, Case.status == "new",
                                            Case.period != "unknown").order_by(Case.id.desc())).scalars().first()
        s.expunge(case)
    assign_to_inspector(live_factory, [case], inspector="resend106")
    context, page, errors = phone_login(browser, live_server, "resend106")
    seen = lose_first_answers(context, (f"/api/cases/{case.id}/transitions", f"/api/cases/{case.id}/progress-reports"))

    open_case_on_phone(page, case.id, case.code)
    assert page.is_visible("#report-form")  # an assigned case: its township reports on it
    page.fill("#report-form textarea[name=text]", "已约谈户主，限期自行拆除")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("li.queue-item[data-kind=report][data-state=queued]")  # sent once, its answer lost
    page.wait_for_function("(n) => document.querySelectorAll('li.queue-item').length === 1", arg=1)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#queue-empty:not([hidden])", timeout=20_000)

    open_case_on_phone(page, case.id, case.code)
    page.check("input[name=step][value=verify]")
    page.check("input[name=verdict][value=illegal]")
    page.click("#field-form button[type=submit]")
    page.wait_for_selector("li.queue-item[data-kind=transition][data-state=queued]")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#queue-empty:not([hidden])", timeout=20_000)  # answered, not refused
    # The history names who acted: the scan that opened the case by its name (系统扫描), not its code.
    open_case_on_phone(page, case.id, case.code)
    page.wait_for_selector("#history li")
    opened = page.text_content("#history li:first-child") or ""
    assert "系统扫描" in opened and "发现（建案）" in opened and " scan " not in opened, opened

    assert seen == [f"/api/cases/{case.id}/progress-reports", f"/api/cases/{case.id}/progress-reports again",
                    f"/api/cases/{case.id}/transitions", f"/api/cases/{case.id}/transitions again"]
    with live_factory() as s:
        actions = list(s.execute(select(CaseEvent.action).where(CaseEvent.case_id == case.id)
                                 .order_by(CaseEvent.id)).scalars())
        reports = list(s.execute(select(ProgressReport.text).where(ProgressReport.case_id == case.id)).scalars())
        assert s.get(Case, case.id).status == "verified"
    assert actions == ["create", "assign", "progress_report", "verify"]
    assert reports == ["已约谈户主，限期自行拆除"]
    assert errors == []
    context.close()
