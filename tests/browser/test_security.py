"""Attacks tried in a real browser: a reflected script in the login page, and a foreign page posting with
the victim's cookie."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.browser.conftest import PASSWORD
from tests.live import free_port

pytestmark = pytest.mark.browser
PAYLOAD = '/"><script>window.__pwned=1;fetch("/api/cases").then(r=>r.text()).then(t=>window.__stolen=t)</script>'


def test_reflected_script_in_next_does_not_run_and_login_still_works(browser, live_server: str, artifacts: Path):
    page = browser.new_page()
    page.goto(f"{live_server}/login?next={quote(PAYLOAD)}")
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None and page.evaluate("window.__stolen") is None
    page.screenshot(path=str(artifacts / "login-xss-attempt.png"))
    page.fill("input[name=username]", "county")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/map"))  # the poisoned next= was replaced by the map, not followed
    assert page.evaluate("window.__pwned") is None
    page.close()


def test_an_inline_script_is_blocked_by_csp_even_in_our_own_origin(browser, live_server: str):
    """Defence in depth: were escaping ever missed, the page's CSP would still refuse a script it was not
    rendered with."""
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server}/login")
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__injected = 1'; document.body.appendChild(s); }""")
    assert page.evaluate("window.__injected") is None
    assert violations
    page.close()


@pytest.fixture
def attacker_site() -> Iterator[str]:
    """Another web server on the same host, another port: the same *site* to the browser (so even a
    SameSite=Strict cookie goes along), another *origin* — e.g. any other intranet service, compromised."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>not redline</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_page_of_another_origin_cannot_write_with_the_cookie(browser, live_server: str, attacker_site: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "county")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/map"))
    attacker = context.new_page()
    attacker.goto(attacker_site)
    attacker.evaluate("""async (target) => {
        await fetch(target + '/logout', {method: 'POST', credentials: 'include', mode: 'no-cors'}); }""",
                      live_server)
    assert page.evaluate("fetch('/api/auth/me').then(r => r.status)") == 200  # still signed in: refused
    page.evaluate("fetch('/logout', {method: 'POST'})")  # our own page may log out
    page.wait_for_timeout(300)
    assert page.evaluate("fetch('/api/auth/me').then(r => r.status)") == 401
    context.close()
