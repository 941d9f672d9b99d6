"""One enforcement round in the browser alone: an increment case from `new` to `closed` through the pages — the
county assigns it to the township on the desk, the township picks the inspector on the map, the inspector
verifies, records the demolition (offline, queued), the restoration and the re-inspection with real JPEGs on
a phone, the township submits and the county passes it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import select

from api.accounts.users import create_user
from api.cases.deadlines import COUNTY_TZ
from api.cases.service import transition
from api.db.models import Case, CaseEvent, User
from api.db.repository import read_frame
from tests.browser.conftest import PASSWORD, open_case_on_phone
from tests.browser.test_desk import signed_in, wait_for_list
from tests.browser.test_field_steps import lose_first_answers
from tests.photo_factory import jpeg_at_house

pytestmark = pytest.mark.browser
TOWNSHIP = "431021105000"


def status_of(live_factory, case_id: int) -> str:  # type: ignore[no-untyped-def]
    with live_factory() as s:
        return str(s.execute(select(Case.status).where(Case.id == case_id)).scalar_one())


def desk_action(page, action: str, choose: tuple[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Take an action from the map's side panel (a pick list first, when it has one) and wait for the panel
    to show the case again, with the action in its history."""
    button = page.wait_for_selector(f"#rl-panel:not([hidden]) button[data-action={action}]")
    if choose:
        page.select_option(f"#rl-panel [data-for={choose[0]}]", choose[1])
    done = page.locator("#rl-panel li", has_text=f" {action}").count()
    button.click()
    page.wait_for_function(f"""(n) => [...document.querySelectorAll('#rl-panel li')]
        .filter(li => li.textContent.includes(' {action}')).length > n""", arg=done)


def field_step(page, case: Case, step: str, photo: bytes | None, artifacts: Path, *, verdict: str | None = None,
               offline_context=None) -> None:  # type: ignore[no-untyped-def]
    """On the phone: open the case, pick the step, add the photo, see it previewed, send it."""
    page.click("#refresh")
    page.wait_for_selector(f"li.case[data-id='{case.id}']")
    open_case_on_phone(page, case.id, case.code)
    page.check(f"input[name=step][value={step}]")
    assert "本步骤需要" in (page.text_content("#step-needs") or "")
    if verdict:
        page.check(f"input[name=verdict][value={verdict}]")
    if photo is None:
        return
    if step != "verify":  # a step that needs photos refuses to queue without one, before anything is sent
        page.click("#field-form button[type=submit]")
        assert "至少 1 张" in (page.text_content("#form-error") or "")
    page.set_input_files("#photo", files=[{"name": f"{step}.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.wait_for_selector("#previews img")  # previewed before it is sent
    if offline_context is not None:
        offline_context.set_offline(True)
    page.click("#field-form button[type=submit]")
    page.wait_for_selector("#list-view:not([hidden])")
    if offline_context is not None:
        page.wait_for_selector("li.queue-item[data-state=queued]")
        page.screenshot(path=str(artifacts / f"loop_field_{step}_offline.png"))
        offline_context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#queue-empty:not([hidden])", timeout=30_000)


def test_an_increment_case_goes_from_new_to_closed_through_the_pages(browser, live_server: str, live_factory,
                                                                      artifacts: Path):
    with live_factory.begin() as s:
        create_user(s, "officer105", PASSWORD, "township_officer", TOWNSHIP, "王乡长")
        create_user(s, "inspector105", PASSWORD, "inspector", TOWNSHIP, "张巡查")
    with live_factory() as s:
        case = s.execute(select(Case).where(Case.township_code == TOWNSHIP, Case.status == "new",
                                            Case.period == "after_cutoff", Case.disposition == "demolish")
                         .order_by(Case.id)).scalars().first()
        s.expunge(case)
        footprint = read_frame(s, Case, where=[Case.id == case.id]).geometry.iloc[0]
    centre = shapely.centroid(footprint)
    lon, lat = Transformer.from_crs(4546, 4326, always_xy=True).transform(centre.x, centre.y - 10)

    # 1. The county assigns it to the township, from the case list.
    county, errors = signed_in(browser, live_server, f"/desk/cases?township={TOWNSHIP}&status=new&search={case.code}")
    wait_for_list(county)
    county.check(f"#rl-cases tr[data-code='{case.code}'] input[type=checkbox]")
    county.select_option("#rl-bulk select[name=assignee]", "")  # the township itself, inspector to be picked
    county.click("#rl-bulk button[type=submit]")
    county.wait_for_function("() => document.getElementById('rl-bulk-result').dataset.assigned === '1'")
    assert status_of(live_factory, case.id) == "assigned"

    # 2. The township picks its inspector on the map.
    officer, errors_officer = signed_in(browser, live_server, f"/map?code={case.code}", user="officer105")
    officer.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{case.code}')")
    desk_action(officer, "assign", ("assignee", "inspector105"))
    officer.screenshot(path=str(artifacts / "loop_map_assign.png"))

    # 3. The inspector verifies on site, with a photo.
    phone_context = browser.new_context(viewport={"width": 390, "height": 844}, permissions=["geolocation"],
                                        geolocation={"latitude": lat, "longitude": lon}, locale="zh-CN")
    phone = phone_context.new_page()
    phone_errors: list[str] = []
    phone.on("pageerror", lambda e: phone_errors.append(str(e)))
    phone.goto(f"{live_server}/field/")
    phone.fill("input[name=username]", "inspector105")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("#login-form button")
    phone.wait_for_selector(f"li.case[data-id='{case.id}']")
    assert phone.text_content("#who") == "张巡查"
    phone.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
    now = lambda: dt.datetime.now(COUNTY_TZ).replace(microsecond=0) + dt.timedelta(seconds=2)  # noqa: E731
    field_step(phone, case, "verify", jpeg_at_house(footprint, now(), seed=1), artifacts, verdict="illegal")
    assert status_of(live_factory, case.id) == "verified"

    # 4. The township serves the notice and starts the demolition.
    officer.reload()
    officer.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{case.code}')")
    desk_action(officer, "serve_notice")
    desk_action(officer, "start_demolition")
    assert status_of(live_factory, case.id) == "demolishing"

    # 5. Demolition recorded with photos — out of signal, queued, sent when it returns; restoration; re-inspection
    # with a photo taken at the house after the demolition was recorded.
    field_step(phone, case, "record_demolition", jpeg_at_house(footprint, now(), seed=2), artifacts,
               offline_context=phone_context)
    assert status_of(live_factory, case.id) == "demolished"
    field_step(phone, case, "restore", jpeg_at_house(footprint, now(), seed=3), artifacts)
    assert status_of(live_factory, case.id) == "restored"
    field_step(phone, case, "reinspect", jpeg_at_house(footprint, now() + dt.timedelta(seconds=5), seed=4), artifacts)
    assert status_of(live_factory, case.id) == "reinspected"
    phone.screenshot(path=str(artifacts / "loop_field_done.png"))

    # 6. The township submits; the county passes it: closed.
    officer.reload()
    officer.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{case.code}')")
    desk_action(officer, "submit")
    county.goto(f"{live_server}/map?code={case.code}")
    county.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{case.code}')")
    desk_action(county, "pass_review")
    county.screenshot(path=str(artifacts / "loop_map_closed.png"))
    with live_factory() as s:
        events = s.execute(select(CaseEvent.action, CaseEvent.actor).where(CaseEvent.case_id == case.id)
                           .order_by(CaseEvent.id)).all()
        final = s.get(Case, case.id)
    assert final.status == "closed" and final.remaining_m2 == 0
    assert [e for e in events if e[0] != "comment"] == [("create", "scan"),
        ("assign", "county"), ("assign", "officer105"), ("verify", "inspector105"), ("serve_notice", "officer105"),
        ("start_demolition", "officer105"), ("record_demolition", "inspector105"), ("restore", "inspector105"),
        ("reinspect", "inspector105"), ("submit", "officer105"), ("pass_review", "county")]
    assert errors == [] and errors_officer == [] and phone_errors == []
    assert re.search(r"/field/", phone.url)
    phone_context.close()


def test_the_map_offers_no_decision_keeping_a_house_on_permanent_farmland(browser, live_server: str,
                                                                          live_factory):
    """The township classifies a stock house from the map's side panel. On permanent basic farmland the pick list
    offers demolition alone (the server refuses the others, naming the area); off it, all four decisions."""
    township = "431021107000"
    with live_factory.begin() as s:
        create_user(s, "officer107", PASSWORD, "township_officer", township, "赵乡长")
        create_user(s, "inspector107", PASSWORD, "inspector", township, "钱巡查")
    with live_factory() as s:
        users = {u.username: u for u in s.execute(select(User).where(User.username.in_(
            ["county", "inspector107"]))).scalars()}
        for u in users.values():
            s.expunge(u)
        stock = select(Case.id, Case.code).where(Case.township_code == township, Case.status == "new",
                                                 Case.period == "before_cutoff").order_by(Case.id)
        on_farmland = s.execute(stock.where(Case.rules.like("1%"))).first()
        off_farmland = s.execute(stock.where(Case.farmland_m2 == 0)).first()
    assert on_farmland and off_farmland
    for cid, _code in (on_farmland, off_farmland):
        transition(live_factory, users["county"], cid, "assign", {})
        transition(live_factory, users["inspector107"], cid, "verify", {"verdict": "illegal"})
    officer, errors = signed_in(browser, live_server, f"/map?code={on_farmland[1]}", user="officer107")
    offered = []
    for _cid, code in (on_farmland, off_farmland):
        officer.goto(f"{live_server}/map?code={code}")
        officer.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{code}')")
        offered.append(officer.eval_on_selector_all("#rl-panel select[data-for=decision] option",
                                                    "options => options.map(o => o.value)"))
    assert offered[0] == ["demolish"]
    # The history names the scan that opened the case in words, not by its code "scan".
    first = officer.text_content("#rl-history li:first-child") or ""
    assert "系统扫描" in first and " scan " not in first
    assert sorted(offered[1]) == ["confiscate", "demolish", "fine_keep", "legalise"]
    desk_action(officer, "classify", ("decision", "fine_keep"))  # off the farmland: kept for a fine
    with live_factory() as s:
        assert s.get(Case, off_farmland[0]).decision == "fine_keep"
    # An increment kept for a fine before such decisions were voided: classified again, demolition alone offered.
    with live_factory.begin() as s:
        increment = s.execute(select(Case).where(Case.township_code == township, Case.status == "new",
                                                 Case.period == "after_cutoff", Case.farmland_m2 == 0)
                              .order_by(Case.id)).scalars().first()
        assert increment is not None
        increment.status, increment.verdict, increment.decision = "classified", "illegal", "fine_keep"
        increment.version += 1
        code = increment.code
    officer.goto(f"{live_server}/map?code={code}")
    officer.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{code}')")
    assert officer.eval_on_selector_all("#rl-panel select[data-for=decision] option",
                                        "options => options.map(o => o.value)") == ["demolish"]
    assert not errors


def test_a_change_of_period_the_scan_filed_says_it_has_no_photo(browser, live_server: str, live_factory):
    """A re-scan files a change of period from changed data, with no photo (`scan._hold_zero_tolerance`). The
    county's panel said "evidence:" and nothing; it now says there is no photo and why, so the data is checked."""
    import json

    from sqlalchemy import update

    with live_factory.begin() as s:
        cid, code = s.execute(select(Case.id, Case.code).where(Case.township_code == "431021108000",
                                                               Case.status == "new", Case.period == "after_cutoff")
                              .order_by(Case.id)).first()
        request = {"period": "before_cutoff", "reason": "重新扫描测得时段为「2020年7月3日前」", "evidence": [],
                   "by": "scan", "at": dt.datetime.now(dt.UTC).isoformat()}
        s.execute(update(Case).where(Case.id == cid).values(requested_period="before_cutoff",
                                                            period_request=json.dumps(request, ensure_ascii=False),
                                                            version=Case.version + 1))
    county, errors = signed_in(browser, live_server, f"/map?code={code}")
    county.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{code}')")
    text = county.locator("#rl-panel p", has_text="待县级决定").text_content() or ""
    assert "重新扫描测得时段" in text and "无照片（由复测的数据变化提出" in text
    assert text.startswith("待县级决定：系统扫描 申请") and "scan" not in text  # the system's name, not its code
    assert not errors


def test_the_township_files_its_progress_report_and_the_county_comments_on_the_map(browser, live_server: str,
                                                                                  live_factory):
    """137: a township reports every 7 days until a case is finished, and the overdue flag follows those reports.
    The pages had no way to file one (the API alone took it), so the county's own deadlines could only be met
    from a script. The side panel takes it now, refuses a lower remaining area while the house stands (the
    server's reason shown), and the county comments beside it — once, though the first answer was lost."""
    from api.db.models import Comment, ProgressReport

    township = "431021108000"
    with live_factory.begin() as s:
        create_user(s, "officer108", PASSWORD, "township_officer", township, "孙乡长")
        create_user(s, "inspector108", PASSWORD, "inspector", township, "周巡查")
    with live_factory() as s:
        cid, code, standing = s.execute(select(Case.id, Case.code, Case.remaining_m2).where(
            Case.township_code == township, Case.status == "new", Case.period == "after_cutoff")
            .order_by(Case.id.desc())).first()
        users = {u.username: u for u in s.execute(select(User).where(User.username.in_(
            ["county", "inspector108"]))).scalars()}
        for u in users.values():
            s.expunge(u)
    transition(live_factory, users["county"], cid, "assign", {"assignee": "inspector108"})
    transition(live_factory, users["inspector108"], cid, "verify", {"verdict": "illegal"})
    officer, errors = signed_in(browser, live_server, f"/map?code={code}", user="officer108")
    officer.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{code}')")
    # A smaller remaining area on a verified house still standing: refused, and the panel says why.
    officer.fill("#rl-report-text", "已送达拆除通知前的准备")
    officer.fill("#rl-report-remaining", "1")
    officer.click("#rl-report-send")
    officer.wait_for_function(
        "() => document.getElementById('rl-report-error').textContent.includes('尚无拆除或整改在进行')")
    # The report itself, without a figure: filed, listed with its author, and the case shown again.
    officer.fill("#rl-report-text", "户主已签收告知书，正在搬离")
    officer.fill("#rl-report-remaining", "")
    officer.dblclick("#rl-report-send")  # an impatient double click files it once
    officer.wait_for_selector("#rl-reports li:has-text('户主已签收告知书')")
    assert "孙乡长" in (officer.text_content("#rl-reports li") or "")
    county, county_errors = signed_in(browser, live_server, f"/map?code={code}")
    county.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{code}')")
    assert county.query_selector("#rl-report-send") is None  # the county reviews; the township reports
    assert county.locator("#rl-reports li").count() == 1
    county.fill("#rl-comment-text", "请七日内拆除到位")
    lost = lose_first_answers(county.context, (f"/api/cases/{cid}/comments",))
    county.click("#rl-comment-send")  # filed, but the answer is lost: the panel says the send failed
    county.wait_for_function("() => document.getElementById('rl-comment-error').textContent !== ''")
    county.click("#rl-comment-send")  # sent again, with the same submission key: answered, not filed twice
    county.wait_for_selector("#rl-comments li:has-text('请七日内拆除到位')")
    assert lost == [f"/api/cases/{cid}/comments", f"/api/cases/{cid}/comments again"]
    with live_factory() as s:
        reports = s.execute(select(ProgressReport.text, ProgressReport.remaining_m2)
                            .where(ProgressReport.case_id == cid)).all()
        comments = s.execute(select(Comment.text).where(Comment.case_id == cid)).scalars().all()
        case = s.get(Case, cid)
    assert reports == [("户主已签收告知书，正在搬离", None)] and comments == ["请七日内拆除到位"]
    assert case.remaining_m2 == pytest.approx(standing) and case.last_report_at is not None
    # The refused report's 409 and the lost answer are the browsers' console lines; nothing else went wrong.
    assert [e for e in errors if "409" not in e] == []
    assert [e for e in county_errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_the_county_records_the_city_and_the_province_on_the_map(browser, live_server: str, live_factory):
    """A case the county closed waits for the city, then the province (审核层级). The county records their word
    from the side panel: a pass says who is next; a return, with its reason, puts the case back with the
    township where it was submitted from."""
    township = "431021108000"
    with live_factory.begin() as s:
        closed = s.execute(select(Case).where(Case.township_code == township, Case.status == "new",
                                              Case.period == "before_cutoff").order_by(Case.id.desc())).scalars()
        first, second = closed.first(), None
        assert first is not None
        second = s.execute(select(Case).where(Case.township_code == township, Case.status == "new",
                                              Case.period == "before_cutoff", Case.id != first.id)
                           .order_by(Case.id.desc())).scalars().first()
        assert second is not None
        for case in (first, second):  # closed by the county after a stock rectification
            case.status, case.verdict, case.decision = "closed", "illegal", "demolish"
            case.resume_status = "reinspected"
            case.closed_at, case.remaining_m2 = dt.datetime.now(dt.UTC), 0.0
            case.version += 1
        codes = (first.code, second.code)
        ids = (first.id, second.id)
    county, errors = signed_in(browser, live_server, f"/map?code={codes[0]}")
    county.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{codes[0]}')")
    assert "待市级审核" in (county.text_content("#rl-panel .rl-facts") or "")
    county.fill("#rl-panel div:has(> button[data-action=upper_pass]) [data-for=document]", "永市自然资审〔2026〕9号")
    desk_action(county, "upper_pass", ("level", "city"))
    county.wait_for_function(
        "() => document.querySelector('#rl-panel .rl-facts').textContent.includes('市级已通过，待省级审核')")
    assert status_of(live_factory, ids[0]) == "closed"
    county.goto(f"{live_server}/map?code={codes[1]}")
    county.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{codes[1]}')")
    county.fill("#rl-panel [data-for=reason]", "拆除后未复耕")
    county.click("#rl-panel button[data-action=upper_return]")  # without the city's document number: refused
    county.wait_for_function("() => document.getElementById('rl-action-error').textContent.includes('文号')")
    county.fill("#rl-panel div:has(> button[data-action=upper_return]) [data-for=document]", "永市自然资审〔2026〕7号")
    desk_action(county, "upper_return", ("level", "city"))
    assert status_of(live_factory, ids[1]) == "reinspected"
    assert "市级（永市自然资审〔2026〕7号）：拆除后未复耕" in (county.text_content("#rl-history") or "")
    with live_factory() as s:
        assert s.get(Case, ids[0]).upper_review == "city" and s.get(Case, ids[1]).closed_at is None
    # The desk's list: the closed cases to send up to the province next.
    county.goto(f"{live_server}/desk/cases?awaiting=province&township={township}")
    wait_for_list(county)
    assert county.input_value("#rl-filters select[name=awaiting]") == "province"
    assert county.eval_on_selector_all("#rl-cases tbody tr[data-code]", "rows => rows.map(r => r.dataset.code)") == [
        codes[0]]
    assert [e for e in errors if "409" not in e] == []  # the refused return's 409 is the console's one line
