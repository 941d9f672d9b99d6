"""The officials' desk in a real browser: the case list (filters, sorting, paging, downloads, bulk assignment),
the township scoreboard and the monthly exports — each page also kept as a screenshot."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from api.accounts.users import create_user
from api.db.models import AdminArea, Case, CaseEvent, Chief, User
from tests.browser.conftest import PASSWORD, submit_password_form
from tests.browser.test_field_steps import lose_first_answers

pytestmark = pytest.mark.browser


def signed_in(browser, live_server: str, path: str, user: str = "county"):  # type: ignore[no-untyped-def]
    """A desktop page of the desk, after the login form (which brings the browser back to `path`)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}{path}")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(path.split("?")[0])))
    return page, errors


def listed_codes(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#rl-cases tbody tr[data-code]", "rows => rows.map(r => r.dataset.code)")


def wait_for_list(page, previous: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("(before) => document.body.dataset.loaded && document.body.dataset.loaded !== before",
                           arg=previous)


def test_case_list_filters_sorts_pages_and_opens_the_map(browser, live_server: str, live_factory, artifacts: Path):
    page, errors = signed_in(browser, live_server, "/desk/cases")
    wait_for_list(page)
    with live_factory() as s:
        total = s.execute(select(func.count()).select_from(Case)).scalar_one()
        in_town = s.execute(select(func.count()).where(Case.township_code == "431021102000")).scalar_one()
        demolish_in_town = s.execute(select(func.count()).where(Case.township_code == "431021102000",
                                                                Case.disposition == "demolish")).scalar_one()
    assert int(page.get_attribute("#rl-total", "data-total") or -1) == total
    assert len(listed_codes(page)) == min(100, total)
    assert "我的案件" not in (page.text_content("body") or "")
    # Filters by township name (a pick list, never a code to type) and by disposition.
    before = page.get_attribute("body", "data-loaded")
    page.select_option("#rl-filters select[name=township]", value="431021102000")
    wait_for_list(page, before)
    assert int(page.get_attribute("#rl-total", "data-total") or -1) == in_town
    before = page.get_attribute("body", "data-loaded")
    page.select_option("#rl-filters select[name=disposition]", "demolish")
    wait_for_list(page, before)
    assert int(page.get_attribute("#rl-total", "data-total") or -1) == demolish_in_town
    assert all(c.startswith("RL-431021102000-") for c in listed_codes(page))
    assert "township=431021102000" in page.url and "disposition=demolish" in page.url
    # Values in Chinese, codes beside where needed (as the cell's title).
    assert page.text_content("#rl-cases tbody tr td:nth-child(7)") == "拆除（零容忍）"
    # Sorting by farmland area, largest first: the server sorts (the page holds only one page of cases).
    page.select_option("#rl-filters select[name=disposition]", "")
    page.click("#rl-cases th[data-sort=farmland_m2]")
    page.wait_for_selector("#rl-cases th[data-sort=farmland_m2][aria-sort=ascending]")
    page.click("#rl-cases th[data-sort=farmland_m2]")  # again: largest first
    page.wait_for_selector("#rl-cases th[data-sort=farmland_m2][aria-sort=descending]")
    assert "sort=-farmland_m2" in page.url
    farmland = [float(t.split(" / ")[0]) for t in page.eval_on_selector_all(
        "#rl-cases tbody td:nth-child(9)", "cells => cells.map(c => c.textContent)")]
    assert farmland == sorted(farmland, reverse=True) and farmland[0] > 0
    with live_factory() as s:
        biggest = s.execute(select(func.max(Case.farmland_m2)).where(Case.township_code == "431021102000")).scalar_one()
    assert abs(farmland[0] - biggest) < 0.06
    # Paging: the next page continues where the first stopped, with no overlap.
    before = page.get_attribute("body", "data-loaded")
    page.select_option("#rl-filters select[name=limit]", "50")
    wait_for_list(page, before)
    first = listed_codes(page)
    before = page.get_attribute("body", "data-loaded")
    page.click("#rl-next")
    wait_for_list(page, before)
    second = listed_codes(page)
    assert len(first) == 50 and second and not set(first) & set(second)
    assert "第 2 /" in (page.text_content("#rl-page-no") or "")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "desk_cases.png"))
    # A click on a code opens that case on the map.
    code = second[0]
    page.click(f"#rl-cases tbody tr[data-code='{code}'] a")
    page.wait_for_url(re.compile(r"/map\?code="))
    page.wait_for_selector(f"#rl-panel:not([hidden]) b:has-text('{code}')")
    assert errors == [], errors


def test_downloads_hold_the_filtered_list(browser, live_server: str, live_factory):
    page, errors = signed_in(browser, live_server, "/desk/cases?township=431021103000&period=before_cutoff")
    wait_for_list(page)
    with live_factory() as s:
        expected = set(s.execute(select(Case.code).where(Case.township_code == "431021103000",
                                                         Case.period == "before_cutoff")).scalars())
    assert int(page.get_attribute("#rl-total", "data-total") or -1) == len(expected) > 0
    with page.expect_download() as got:
        page.click("#rl-csv")
    text = Path(got.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["案件编号"] for r in rows} == expected  # every case of the filter, not only the first page
    assert {r["时段代码"] for r in rows} == {"before_cutoff"} and rows[0]["时段"].startswith("存量")
    with page.expect_download() as got:
        page.click("#rl-xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(got.value.path()).read_bytes())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "案件编号" and {r[0] for r in values[1:]} == expected
    assert errors == []


def test_bulk_assignment_from_pick_lists(browser, live_server: str, live_factory, artifacts: Path):
    with live_factory.begin() as s:
        create_user(s, "inspector104", PASSWORD, "inspector", "431021104000", "李巡查")
    page, errors = signed_in(browser, live_server, "/desk/cases?township=431021104000&status=new&limit=50")
    wait_for_list(page)
    picks = page.eval_on_selector_all("#rl-bulk select[name=assignee] option", "os => os.map(o => o.textContent)")
    assert any("李巡查" in p for p in picks)  # a pick list of the users in scope, not a text box
    assert page.locator("#rl-bulk input[type=text]").count() == 0
    codes = listed_codes(page)[:3]
    for code in codes:
        page.check(f"#rl-cases tr[data-code='{code}'] input[type=checkbox]")
    assert page.text_content("#rl-selected") == "3"
    page.select_option("#rl-bulk select[name=assignee]", "inspector104")
    # The first answer is lost (the server assigned the three); the official sees the error and clicks again:
    # the resend carries the batch's key, so nothing is assigned twice and the answer says three assigned.
    lost = lose_first_answers(page.context, ("/api/cases/bulk-assign",))
    page.click("#rl-bulk button[type=submit]")
    page.wait_for_function("() => document.getElementById('rl-bulk-result').textContent.includes('出错')")
    page.click("#rl-bulk button[type=submit]")
    page.wait_for_function("() => document.getElementById('rl-bulk-result').dataset.assigned === '3'")
    assert lost == ["/api/cases/bulk-assign", "/api/cases/bulk-assign again"]
    with live_factory() as s:
        who = s.execute(select(User.id).where(User.username == "inspector104")).scalar_one()
        rows = s.execute(select(Case.status, Case.assignee_id).where(Case.code.in_(codes))).all()
        events = s.execute(select(func.count()).select_from(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
                           .where(Case.code.in_(codes), CaseEvent.action == "assign")).scalar_one()
    assert rows == [("assigned", who)] * 3 and events == 3  # each one audited
    page.screenshot(path=str(artifacts / "desk_bulk_assign.png"))
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == []  # the lost answer's console line


def test_scoreboard_page_shows_the_month_with_marks_and_trend(browser, live_server: str, artifacts: Path):
    page, errors = signed_in(browser, live_server, "/desk/scoreboard")
    page.wait_for_function("() => document.body.dataset.trend !== undefined", timeout=60_000)
    month = page.input_value("#rl-month input[name=month]")
    answer = page.request.get(f"{live_server}/api/scoreboard?month={month}").json()
    rows = page.eval_on_selector_all("#rl-scoreboard tbody tr", "rs => rs.map(r => r.dataset.code)")
    assert rows == [t["township_code"] for t in answer["townships"]] and rows
    marks = page.text_content("#rl-scoreboard tbody") or ""
    expected_marks = sum(t["commend"] for t in answer["townships"]) + sum(t["criticise"] for t in answer["townships"])
    assert marks.count("通报表扬") + marks.count("通报批评") == expected_marks
    assert page.locator("#rl-trend tbody tr").count() == 6
    assert page.locator("#rl-trend-chart svg polyline").count() == 2
    # The on-time rate is a percentage in the API (按期办理率 (%), as in the workbook) and is shown as one:
    # 50 is "50%", never "5000%". Each township's and each month's cell says what the API says.
    assert page.evaluate("async () => (await import('/static/js/common/format.js')).percent(50)") == "50%"

    def shown(rate: float | None) -> str:
        return "—" if rate is None else f"{rate:.0f}%"

    on_time = page.eval_on_selector_all("#rl-scoreboard tbody tr", "rs => rs.map(r => r.cells[11].textContent)")
    assert on_time == [shown(t["on_time_rate"]) for t in answer["townships"]]
    months = page.request.get(f"{live_server}/api/scoreboard/trend?month={month}&months=6").json()["months"]
    trend_on_time = page.eval_on_selector_all("#rl-trend tbody tr", "rs => rs.map(r => r.cells[7].textContent)")
    assert trend_on_time == [shown(m["on_time_rate"]) for m in months]
    page.screenshot(path=str(artifacts / "desk_scoreboard.png"), full_page=True)
    # 季核 and 年度评估: the month's quarter and year, ranked on their own figures (asked for as a period).
    year, mon = month.split("-")
    for span, period, name in (("quarter", f"{year}-Q{(int(mon) + 2) // 3}", "季核"), ("year", year, "年度评估")):
        page.select_option("#rl-month select[name=span]", span)
        page.wait_for_function("(p) => document.body.dataset.trend === p", arg=period, timeout=60_000)
        board = page.request.get(f"{live_server}/api/scoreboard?period={period}").json()
        assert page.eval_on_selector_all("#rl-scoreboard tbody tr", "rs => rs.map(r => r.dataset.code)") == [
            t["township_code"] for t in board["townships"]]
        assert f"{period} {name}" in (page.text_content("#rl-as-of") or "")
        assert "期末核查率" in (page.text_content("#rl-h-cleared") or "") and f"span={span}" in page.url
    page.emulate_media(media="print")
    assert page.is_hidden(".rl-nav")  # printable: no navigation on paper
    assert errors == []


def test_exports_page_runs_an_export_and_lists_its_files(browser, live_server: str, artifacts: Path):
    page, errors = signed_in(browser, live_server, "/desk/exports")
    page.wait_for_function("() => document.body.dataset.loaded !== undefined")
    page.select_option("#rl-export select[name=township]", "431021101000")
    page.click("#rl-export button[type=submit]")
    row = page.wait_for_selector("#rl-exports tbody tr[data-status=done]", timeout=120_000)
    links = row.query_selector_all("a")
    names = [a.text_content() for a in links]
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".gpkg") for n in names)
    assert "431021101000" in (row.text_content() or "")
    with page.expect_download() as got:
        next(a for a in links if (a.text_content() or "").endswith(".xlsx")).click()
    assert openpyxl.load_workbook(io.BytesIO(Path(got.value.path()).read_bytes())).sheetnames[0].startswith("汇总")
    page.screenshot(path=str(artifacts / "desk_exports.png"))
    # 季核: the month's quarter, exported as one package named for it.
    month = page.input_value("#rl-export input[name=month]")
    quarter = f"{month[:4]}-Q{(int(month[5:]) + 2) // 3}"
    page.select_option("#rl-export select[name=span]", "quarter")
    page.click("#rl-export button[type=submit]")
    row = page.wait_for_selector(f"#rl-exports tbody tr[data-status=done]:has(td:text-is('{quarter}'))",
                                 timeout=120_000)
    assert any((a.text_content() or "") == f"redline_{quarter.replace('-', '')}_431021101000.xlsx"
               for a in row.query_selector_all("a"))
    # A month that has not begun cannot be asked for: the picker stops at this month, and the server refuses
    # it anyway (422, with its reason).
    jobs = len(page.request.get(f"{live_server}/api/exports").json())
    page.fill("#rl-export input[name=month]", "2999-01")
    page.click("#rl-export button[type=submit]")
    assert page.evaluate("document.querySelector('#rl-export input[name=month]').validity.rangeOverflow")
    refused = page.request.post(f"{live_server}/api/exports", data={"month": "2999-01"},
                                headers={"Origin": live_server})
    assert refused.status == 422 and "2999-01" in refused.json()["error"]["message"]
    assert len(page.request.get(f"{live_server}/api/exports").json()) == jobs
    assert errors == [], errors


def test_english_where_the_user_picks_it(browser, live_server: str, live_factory, artifacts: Path):
    """The language switch in the navigation bar: the desk and the map in English (the server's refusals
    too), the codes still beside the words; the choice holds across pages and switches back."""
    with live_factory() as s:
        cid, code = s.execute(select(Case.id, Case.code).where(Case.township_code == "431021103000",
                                                               Case.status == "new").order_by(Case.id)).first()
    page, errors = signed_in(browser, live_server, "/desk/cases?disposition=demolish")
    wait_for_list(page)
    assert page.get_attribute("html", "lang") == "zh" and page.text_content("h1") == "案件清单"
    page.click("#rl-lang")
    page.wait_for_url(re.compile(r"/desk/cases\?.*disposition=demolish"))
    wait_for_list(page)
    assert page.get_attribute("html", "lang") == "en"
    assert page.text_content("h1") == "Case list"
    assert page.text_content("#rl-cases th[data-sort=status]") == "Status"
    assert page.text_content("#rl-cases tbody tr td:nth-child(7)") == "demolish (zero tolerance)"
    assert re.fullmatch(r"\d+ cases", page.text_content("#rl-total") or "")
    assert page.text_content("header nav a[href='/desk/scoreboard']") == "Scoreboard"
    page.screenshot(path=str(artifacts / "desk-cases-english.png"), full_page=False)
    # The map remembers the choice; a refused action says why in English.
    page.goto(f"{live_server}/map?code={code}")
    button = page.wait_for_selector("#rl-panel:not([hidden]) button[data-action=assign]")
    assert "Legend" in (page.text_content("#rl-legend") or "")
    assert "Status" in (page.text_content("#rl-panel") or "")
    changed = page.request.post(f"{live_server}/api/cases/{cid}/transitions", data={"action": "assign"},
                                headers={"Origin": live_server})
    assert changed.ok, changed.text()
    button.click()
    page.wait_for_function(
        "() => document.getElementById('rl-action-error').textContent.includes('changed since you loaded it')")
    assert "已被修改" not in (page.text_content("#rl-action-error") or "")
    # The chiefs' posts by their English names (before: 县级田长, 乡级田长 and 全县 from the server's words).
    page.goto(f"{live_server}/desk/chiefs")
    page.wait_for_function("() => document.body.dataset.loaded")
    levels = set(page.eval_on_selector_all("#rl-chiefs tbody tr td:first-child",
                                           "cells => cells.map(c => c.textContent)"))
    assert levels and levels <= {"county chief", "township chief", "village chief", "grid patroller"}, levels
    county_rows = page.eval_on_selector_all("#rl-chiefs tr[data-level=county] td:nth-child(2)",
                                            "cells => cells.map(c => c.textContent)")
    assert set(county_rows) <= {"the county"}
    page.goto(f"{live_server}/map?code={code}")
    page.wait_for_selector("#rl-panel:not([hidden])")
    # And back to Chinese.
    page.click("#rl-lang")
    page.wait_for_selector("#rl-lang:has-text('English')")
    assert "图例" in (page.text_content("#rl-legend") or "")
    assert all("409" in e for e in errors), errors


def test_an_admin_names_a_field_chief_who_then_sees_the_area(browser, live_server: str, live_factory,
                                                              artifacts: Path):
    with live_factory.begin() as s:
        if s.execute(select(func.count()).where(User.username == "chief-admin")).scalar_one() == 0:
            create_user(s, "chief-admin", PASSWORD, "admin")
    page, errors = signed_in(browser, live_server, "/desk/chiefs", user="chief-admin")
    page.wait_for_function("() => document.body.dataset.loaded")
    page.select_option("#rl-chief select[name=level]", "village")
    page.wait_for_function("() => document.body.dataset.coverage")
    # A village of 431021101 with permanent farmland and no chief yet (the coverage table lists it).
    uncovered = page.evaluate("() => fetch('/api/chiefs/coverage').then(r => r.json())")
    village = next(v["code"] for r in uncovered if r["township_code"] == "431021101000" for v in r["uncovered"])
    page.select_option("#rl-chief select[name=area_code]", village)
    page.select_option("#rl-chief select[name=username]", "inspector")
    township = village[:9] + "000"
    row = f"#rl-coverage tr[data-township='{township}'] td"
    before = page.eval_on_selector_all(row, "tds => tds.map(t => t.textContent)")
    page.click("#rl-chief button[type=submit]")
    page.wait_for_selector(f"#rl-chiefs tr[data-area='{village}']")
    assert "inspector" in (page.text_content(f"#rl-chiefs tr[data-area='{village}']") or "")
    # The villages' reach: the village just named is no longer among those without a chief, and the farmland
    # without one is what the API says.
    page.wait_for_function(f"() => !document.querySelector(\"#rl-coverage tr[data-township='{township}']\")"
                           f".textContent.includes('{village}')")
    answer = page.evaluate("() => fetch('/api/chiefs/coverage').then(r => r.json())")
    mine = next(r for r in answer if r["township_code"] == township)
    cells = page.eval_on_selector_all(row, "tds => tds.map(t => t.textContent)")
    assert cells[3] == f"{mine['uncovered_mu']:.2f}" and int(cells[2]) == mine["villages_with_chief"]
    assert village in before[4] and int(cells[2]) == int(before[2]) + 1  # one more village with a chief
    # The townships whose 乡级田长 post nobody holds are listed as vacant, to be filled.
    with live_factory() as s:
        held = set(s.execute(select(Chief.area_code).where(Chief.level == "township", Chief.ended_at.is_(None)))
                   .scalars())
        townships = set(s.execute(select(AdminArea.code).where(AdminArea.level == "township")).scalars())
    vacant = page.eval_on_selector_all("#rl-chiefs tr.vacant[data-level=township]",
                                       "rows => rows.map(r => r.dataset.area)")
    assert set(vacant) == townships - held and vacant
    assert "空缺" in (page.text_content(f"#rl-chiefs tr[data-area='{sorted(vacant)[0]}']") or "")
    page.screenshot(path=str(artifacts / "desk-chiefs.png"), full_page=True)
    chief, chief_errors = signed_in(browser, live_server, "/desk/chiefs", user="inspector")
    chief.wait_for_selector(f"#rl-inbox tr[data-area='{village}']")
    row = chief.text_content(f"#rl-inbox tr[data-area='{village}']") or ""
    assert "村级田长" in row
    assert errors == [] and chief_errors == []


def test_the_desk_lists_the_patrol_findings_left_to_a_person(browser, live_server: str, live_factory):
    """A finding noted for the township and one at the house of a closed case are listed on the chiefs page with
    their Chinese labels, place, patroller, note and the case they point at; one found 40 days ago and never handled
    still is (before, it had dropped off), one handled 40 days ago is not. The township says what was done on the
    page, and the finding shows as handled, by whom and how; the county sends it back, and it is to handle again
    with both words listed in order."""
    import datetime as dt
    import uuid

    from api.db.models import Finding

    now = dt.datetime.now(dt.UTC)
    with live_factory.begin() as s:
        inspector = s.execute(select(User).where(User.username == "inspector")).scalar_one()
        closed = s.execute(select(Case.id, Case.code).where(Case.township_code == inspector.township_code)
                           .order_by(Case.id)).first()
        rows = [("damaged", "noted", None, "取土挖坑", now),
                ("new_construction", "closed_case", closed.id, "原址重建", now),
                ("other", "noted", None, "四十天前", now - dt.timedelta(days=40)),
                ("other", "noted", None, "四十天前已处理", now - dt.timedelta(days=41))]
        keys = []
        for kind, outcome, case, note, at in rows:
            keys.append(str(uuid.uuid4()))
            s.add(Finding(client_uuid=keys[-1], user_id=inspector.id, kind=kind, note=note, at=at, lat=25.6, lon=112.4,
                          township_code=inspector.township_code, village_code=None, grid_code=None, outcome=outcome,
                          case_id=case, uploaded_at=now, **({"handled_at": now - dt.timedelta(days=40),
                                                             "handled_by": "officer", "handled_note": "已清理"}
                                                            if note == "四十天前已处理" else {})))
    page, errors = signed_in(browser, live_server, "/desk/chiefs")
    page.wait_for_selector(f"#rl-findings tr[data-uuid='{keys[1]}']")
    noted = page.text_content(f"#rl-findings tr[data-uuid='{keys[0]}']") or ""
    assert "耕地破坏" in noted and "已记录，待乡镇处理" in noted and "取土挖坑" in noted
    rebuilt = page.text_content(f"#rl-findings tr[data-uuid='{keys[1]}']") or ""
    assert "已销号案件的房屋处又见建房" in rebuilt and closed.code in rebuilt
    assert page.get_attribute(f"#rl-findings tr[data-uuid='{keys[1]}'] a", "href") == f"/map?code={closed.code}"
    assert "四十天前" in (page.text_content(f"#rl-findings tr[data-uuid='{keys[2]}']") or "")
    assert page.locator(f"#rl-findings tr[data-uuid='{keys[3]}']").count() == 0
    row = f"#rl-findings tr[data-uuid='{keys[0]}']"
    page.fill(f"{row} input[name=note]", "已责令回填复耕")
    page.click(f"{row} button[name=handle]")
    page.wait_for_selector(f"{row}[data-handled=yes] button[name=reopen]")
    done = page.text_content(row) or ""
    assert "已处理" in done and "处理完毕：已责令回填复耕（county " in done
    assert page.locator(f"#rl-findings tr[data-uuid='{keys[2]}'] button[name=handle]").count() == 1  # to handle
    # The county finds the pit still open and sends the finding back, saying why: listed to handle again, the
    # township's handling kept above the reopening.
    page.fill(f"{row} input[name=note]", "复核：坑未回填")
    page.click(f"{row} button[name=reopen]")
    page.wait_for_selector(f"{row}[data-handled=no] button[name=handle]")
    texts = page.locator(f"{row} ol.handlings li").all_text_contents()
    assert len(texts) == 2 and texts[0].startswith("处理完毕：已责令回填复耕（county ")
    assert texts[1].startswith("退回重办：复核：坑未回填（county ")
    assert [li.get_attribute("data-action") for li in page.locator(f"{row} ol.handlings li").all()] == [
        "handled", "reopened"]
    assert "待处理" in (page.text_content(row) or "")
    assert errors == []


#: The width Chromium lays out a printed A4 landscape page in: 297 mm less the report's 12 mm page margins, at
#: 96 px per inch.
A4_LANDSCAPE_PRINT_PX = (297 - 2 * 12) / 25.4 * 96


def test_the_printed_monthly_report_fits_its_a4_landscape_page(browser, live_server: str, live_factory):
    """The printable report (`redline_YYYYMM_report.html`) goes on paper: its summary of 20-odd columns must lie
    within the printed page's width, or the right-hand columns — the on-time rate, the 通报 — are cut off. The
    month is the demo county's scan, when its thousands of cases opened (the widest figures)."""
    import time

    from api.cases.deadlines import COUNTY_TZ
    from api.clock import as_utc

    with live_factory() as s:
        month = f"{as_utc(s.execute(select(func.min(Case.created_at))).scalar_one()).astimezone(COUNTY_TZ):%Y-%m}"
    page, errors = signed_in(browser, live_server, "/desk/exports")
    started = page.request.post(f"{live_server}/api/exports", data={"month": month},
                                headers={"Origin": live_server}).json()
    deadline = time.monotonic() + 120
    while (job := page.request.get(f"{live_server}/api/exports/{started['id']}").json())["status"] != "done":
        assert job["status"] != "failed" and time.monotonic() < deadline, job
        time.sleep(0.5)
    name = next(f for f in job["files"] if f.endswith("_report.html"))
    html = page.request.get(f"{live_server}/api/exports/{started['id']}/files/{name}").text()
    paper = browser.new_page(viewport={"width": int(A4_LANDSCAPE_PRINT_PX), "height": 800})
    paper.emulate_media(media="print")
    paper.set_content(html)
    widest = paper.evaluate("() => Math.max(document.documentElement.scrollWidth, ...[...document"
                            ".querySelectorAll('table, svg')].map(e => e.getBoundingClientRect().right))")
    assert widest <= A4_LANDSCAPE_PRINT_PX, widest
    paper.close()
    assert errors == [], errors


def test_a_user_changes_their_password_on_the_desk(browser, live_server: str, live_factory, artifacts: Path):
    """From the name in the header to the account page: the new password typed twice (a mismatch is caught on
    the page, a wrong current password by the server, in Chinese); once changed, the login form says so and
    only the new password opens the desk."""
    with live_factory.begin() as s:
        create_user(s, "sun", PASSWORD, "county_reviewer", None, "孙审核")
    page, errors = signed_in(browser, live_server, "/desk/cases", user="sun")
    page.click("#rl-user")
    page.wait_for_url(re.compile("/desk/account"))
    page.wait_for_function("() => document.body.dataset.loaded")
    form = "#rl-password"
    submit_password_form(page, form, PASSWORD, "a-fresh-password-1", "a-fresh-password-2")
    page.wait_for_function("() => document.getElementById('rl-password-error').textContent.includes('不一致')")
    submit_password_form(page, form, "not-the-password", "a-fresh-password-1", "a-fresh-password-1")
    page.wait_for_function("() => document.getElementById('rl-password-error').textContent === '当前密码不正确'")
    page.screenshot(path=str(artifacts / "desk_account.png"))
    submit_password_form(page, form, PASSWORD, "a-fresh-password-1", "a-fresh-password-1")
    page.wait_for_url(re.compile("/login"))
    assert "密码已修改" in (page.text_content("p.err") or "")
    page.fill("input[name=username]", "sun")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile("/login"))  # the old password no longer opens it
    page.fill("input[name=username]", "sun")
    page.fill("input[name=password]", "a-fresh-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile("/desk/cases"))
    assert [e for e in errors if "422" not in e] == []  # the refused change is the only console error
