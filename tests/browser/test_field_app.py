"""The inspectors' field app on a phone-sized screen: offline, reload, back online, synced exactly once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from api.cases.service import transition
from api.db.models import Case, Photo, User
from tests.browser.conftest import PASSWORD, open_case_on_phone, submit_password_form
from tests.conftest import fixture_path

pytestmark = pytest.mark.browser


def assign_to_inspector(live_factory, cases: list[Case], inspector: str = "inspector") -> None:  # type: ignore[no-untyped-def]
    """The county assigns the cases to an inspector (through the service, as the desk would)."""
    with live_factory() as s:
        county = s.execute(select(User).where(User.username == "county")).scalar_one()
        s.expunge(county)
    for case in cases:
        transition(live_factory, county, case.id, "assign", {"assignee": inspector})


def log_in_on_phone(page, live_server: str, case_id: int) -> None:  # type: ignore[no-untyped-def]
    """The inspector logs in, sees `case_id` listed, and the app is reloaded under its service worker."""
    page.goto(f"{live_server}/field/")
    page.fill("input[name=username]", "inspector")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector(f"li.case[data-id='{case_id}']")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now served through the service worker
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def test_field_work_survives_offline_and_reload(browser, live_server: str, live_factory, artifacts):
    with live_factory() as s:
        case = s.execute(select(Case).where(Case.township_code == "431021101000", Case.status == "new",
                                            Case.disposition == "demolish").order_by(Case.id)).scalars().first()
        s.expunge_all()
    assign_to_inspector(live_factory, [case])
    context = browser.new_context(viewport={"width": 390, "height": 844}, permissions=["geolocation"],
                                  geolocation={"latitude": 25.6, "longitude": 112.4}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in_on_phone(page, live_server, case.id)
    open_case_on_phone(page, case.id, case.code)

    context.set_offline(True)
    page.check("input[name=verdict][value=illegal]")
    page.check("input[name=field_rules][value='5']")
    page.set_input_files("#photo", str(fixture_path("photos", "exexif_sunrise.jpg")))
    page.click("#field-form button[type=submit]")
    page.wait_for_selector("li.queue-item[data-kind=photo][data-state=queued]")
    page.wait_for_selector("li.queue-item[data-kind=transition][data-state=queued]")

    page.reload()  # offline: the shell comes from the cache, the queue from IndexedDB
    page.wait_for_selector("#login-view[hidden]", state="attached")
    page.wait_for_selector("li.queue-item[data-kind=photo][data-state=queued]")
    assert page.text_content("#net") in ("离线", "offline")
    page.screenshot(path=str(artifacts / "field_app_offline.png"))

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    # Sent items clear themselves: the queue empties and says so.
    page.wait_for_selector("#queue-empty:not([hidden])", timeout=20_000)
    assert page.locator("li.queue-item").count() == 0
    assert "已发送 2" in (page.text_content("#synced") or "")
    # Another sync (e.g. the next time the signal comes back) sends nothing twice.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(500)
    with live_factory() as s:
        photos = s.execute(select(func.count()).select_from(Photo).where(Photo.case_id == case.id)).scalar_one()
        after = s.get(Case, case.id)
    assert photos == 1
    assert after.status == "verified" and after.field_rules == "5"
    page.screenshot(path=str(artifacts / "field_app_synced.png"))
    assert errors == []
    assert re.search(r"/field/", page.url)
    context.close()


def test_every_case_view_starts_clean_and_an_uncached_case_offers_nothing(browser, live_server: str, live_factory,
                                                                          artifacts):
    """The wrong-case bugs: a photo chosen on one case must not ride along to the next; offline, a case never
    opened shows that it is not cached — not the previous case's history under a form that can be sent."""
    with live_factory() as s:
        cases = list(s.execute(select(Case).where(Case.township_code == "431021101000", Case.status == "new")
                               .order_by(Case.id).offset(5).limit(3)).scalars().all())
        s.expunge_all()
    assign_to_inspector(live_factory, cases)
    first, second, never = cases
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    log_in_on_phone(page, live_server, never.id)
    open_case_on_phone(page, first.id, first.code)
    page.check("input[name=verdict][value=illegal]")
    page.set_input_files("#photo", str(fixture_path("photos", "exexif_sunrise.jpg")))
    page.click("#back")  # left without sending
    open_case_on_phone(page, second.id, second.code)
    assert page.evaluate("document.getElementById('photo').files.length") == 0
    assert not page.is_checked("input[name=verdict][value=illegal]")
    assert page.is_visible("#field-form")
    page.click("#back")

    # Every assigned case is stored on the phone; suppose storing this one failed (the signal dropped during
    # the prefetch): it is the one case the phone does not hold.
    page.wait_for_function("() => document.body.dataset.prefetched !== undefined")
    assert page.get_attribute(f"li.case[data-id='{never.id}']", "data-cached") == "1"
    assert page.evaluate(f"""() => caches.keys().then(keys => Promise.all(keys.map(k => caches.open(k).then(
        c => c.delete('/api/cases/{never.id}'))))).then(gone => gone.some(Boolean))""")
    context.set_offline(True)
    page.click(f"li.case[data-id='{never.id}']")
    page.wait_for_selector("#case-error:has-text('未缓存')")
    assert page.text_content("#case-code") == f"#{never.id}"
    assert page.is_hidden("#field-form") and page.text_content("#history") == ""
    page.screenshot(path=str(artifacts / "field_app_uncached_case.png"))
    context.close()


def test_a_case_opened_in_english_names_its_facts_in_english(browser, live_server: str, live_factory):
    """An inspector who picked English reads the case's facts (status, period, areas, deadline) under English
    names, as the rest of the app; the codes beside them stay the server's."""
    with live_factory() as s:
        case = s.execute(select(Case).where(Case.township_code == "431021101000", Case.status == "new")
                         .order_by(Case.id).offset(9).limit(1)).scalar_one()
        s.expunge(case)
    assign_to_inspector(live_factory, [case])
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    log_in_on_phone(page, live_server, case.id)
    page.click("#lang")
    assert page.text_content("#lang") == "中文"
    open_case_on_phone(page, case.id, case.code)
    names = page.eval_on_selector_all("#case-facts dt", "dts => dts.map(d => d.textContent)")
    assert names == ["Status", "Period", "Disposition", "Prohibitions (八不准)", "Footprint m² / mu",
                     "Permanent farmland m² / mu", "Unrectified m²", "Deadline"]
    # What a step needs, and why it cannot be sent yet, are said in English too.
    page.check("input[name=step][value=verify]")
    assert page.text_content("#step-needs") == ("This step needs: a verdict; an illegal verdict needs the period of "
                                                "construction; site photos optional.")
    page.click("#field-form button[type=submit]")
    assert page.text_content("#form-error") == "Choose a verdict."
    page.click("#back")
    page.click("#lang")  # and back in Chinese
    open_case_on_phone(page, case.id, case.code)
    assert page.eval_on_selector_all("#case-facts dt", "dts => dts.map(d => d.textContent)")[0] == "状态"
    context.close()


def test_an_inspector_changes_their_password_on_the_phone(browser, live_server: str, live_factory):
    """The field app had no way to change one's password (the desk had): an inspector given a password by the
    admin kept it. Now: the current one, the new one twice; a wrong current password or two different new ones are
    refused in place; once changed, the phone (logged out everywhere by the server) asks for the new one."""
    import httpx

    from api.accounts.users import create_user

    with live_factory.begin() as s:
        if s.execute(select(func.count()).where(User.username == "pw-inspector")).scalar_one() == 0:
            create_user(s, "pw-inspector", PASSWORD, "inspector", "431021101000")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server}/field/")
    page.fill("input[name=username]", "pw-inspector")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    page.wait_for_function("() => document.body.dataset.ready")
    page.click("#password-open")
    form = "#password-form"
    submit_password_form(page, form, PASSWORD, "a-new-field-password", "another-new-password")
    assert page.text_content("#password-error") == "两次输入的新密码不一致"
    submit_password_form(page, form, "not-the-password", "a-new-field-password", "a-new-field-password")
    page.wait_for_function("() => document.getElementById('password-error').textContent === '当前密码不正确'")
    submit_password_form(page, form, PASSWORD, "a-new-field-password", "a-new-field-password")
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.text_content("#login-note") == "密码已修改，请用新密码登录"
    assert page.evaluate("() => localStorage.getItem('redline.token')") is None
    with httpx.Client(base_url=live_server) as client:
        assert client.post("/api/auth/token", json={"username": "pw-inspector", "password": PASSWORD}
                           ).status_code == 401
        assert client.post("/api/auth/token", json={"username": "pw-inspector",
                                                    "password": "a-new-field-password"}).status_code == 200
    page.fill("input[name=username]", "pw-inspector")
    page.fill("input[name=password]", "a-new-field-password")
    page.click("#login-form button")
    page.wait_for_selector("#list-view:not([hidden])")
    context.close()
