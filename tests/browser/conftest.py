"""A live server on the demo county and a headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.accounts.users import create_user
from api.cli import DEMO_LAYERS
from api.db.engine import make_engine, make_sessionmaker
from api.http.app import create_app
from api.ingest.layers import import_layer
from api.ingest.scan import scan
from api.settings import Settings
from gis.codes import DEFAULT_COUNTY_SRID
from gis.rules import RuleSet
from tests.conftest import ARTIFACTS, DEMO
from tests.live import serving

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-test-password"


@pytest.fixture(scope="session")
def live_db(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The scanned demo county in a SpatiaLite file, with a county reviewer, an officer and an inspector."""
    path = tmp_path_factory.mktemp("live") / "demo.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    factory = make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID)
    for kind, name in DEMO_LAYERS:
        import_layer(factory, kind, DEMO / name)
    scan(factory, RuleSet())
    with factory.begin() as session:
        create_user(session, "county", PASSWORD, "county_reviewer")
        create_user(session, "officer", PASSWORD, "township_officer", "431021101000")
        create_user(session, "inspector", PASSWORD, "inspector", "431021101000")
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def live_factory(live_db: str) -> Iterator[object]:
    """A session factory on the live server's database (to arrange and to check what the pages did)."""
    engine = make_engine(live_db)
    yield make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID)
    engine.dispose()


@pytest.fixture(scope="session")
def live_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live servers' photo store: every server on `live_db` serves the photos any of them stored."""
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def live_server(live_db: str, live_var: Path) -> Iterator[str]:
    """The app on the scanned demo county (embedded SpatiaLite), served by uvicorn on a free port."""
    settings = Settings(database_url=live_db, var_dir=live_var)
    with serving(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless; `playwright install` cannot download here, so no bundled browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: the test command installs Debian's chromium") if _in_ci() else \
            pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


def _in_ci() -> bool:
    import os

    return os.environ.get("CI") == "true"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS



def submit_password_form(page, form: str, current: str, new: str, repeat: str) -> None:  # type: ignore[no-untyped-def]
    """Fill a change-of-password form (the desk's account page, the field app's) and send it."""
    page.fill(f"{form} input[name=current_password]", current)
    page.fill(f"{form} input[name=new_password]", new)
    page.fill(f"{form} input[name=repeat]", repeat)
    page.click(f"{form} button[type=submit]")


def open_case_on_phone(page, case_id: int, code: str) -> None:  # type: ignore[no-untyped-def]
    """Tap a case in the field app's list and wait for its view; on failure say what the phone shows instead
    (the views on screen, the case's error line, the network pill, what became of the request for the case)
    and keep a screenshot, not only that a selector timed out."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    detail = f"/api/cases/{case_id}"
    requests: list[str] = []

    listeners = {
        "request": lambda r: r.url.endswith(detail) and requests.append("sent"),
        "response": lambda r: r.url.endswith(detail) and requests.append(f"answered {r.status}"),
        "requestfailed": lambda r: r.url.endswith(detail) and requests.append(f"failed {r.failure}"),
    }
    for event, listener in listeners.items():
        page.on(event, listener)
    # The app is settled: the list drawn by its first load, the sync that follows under way or done.
    page.wait_for_function("() => document.body.dataset.ready === '1'")
    page.click(f"li.case[data-id='{case_id}']")
    try:
        shown = page.wait_for_function("""(code) => {
            const text = (id) => (document.getElementById(id)?.textContent || '').trim();
            if (!document.getElementById('case-view').hidden && text('case-code') === code) { return 'ok'; }
            return text('case-error') ? `case error: ${text('case-error')}` : false;
        }""", arg=code, timeout=30_000).json_value()
    except PlaywrightTimeout:
        shown = page.evaluate("""() => {
            const views = ['login-view', 'list-view', 'case-view'].filter((v) => !document.getElementById(v).hidden);
            const text = (id) => (document.getElementById(id)?.textContent || '').trim();
            return `after 30 s, views on screen: ${views}; case code: ${text('case-code')}; network: `
                + `${document.getElementById('net').dataset.state}; login error: ${text('login-error')}`;
        }""") + f"; {detail}: {requests or 'never requested'}"
        page.screenshot(path=str(ARTIFACTS / f"open-case-{case_id}-failed.png"))
    finally:
        for event, listener in listeners.items():
            page.remove_listener(event, listener)
    assert shown == "ok", f"case {code} did not open: {shown}"
