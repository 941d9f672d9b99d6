"""The server under attack and under load, on both databases: each finding of the hardening review has a
test here that failed before the fix (XSS, cross-site writes, pool deadlock, upload bombs, login guessing,
malformed input reaching the database)."""

from __future__ import annotations

import datetime as dt
import io
import json
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from api.db import models
from api.http.app import create_app
from api.settings import Settings
from tests.conftest import ARTIFACTS, fixture_path
from tests.http.conftest import PASSWORD, Site, case_id
from tests.live import serving

XSS = '/"><script>window.__pwned=1</script>'


def jpeg() -> bytes:
    return fixture_path("photos", "ianare_gps_DSCN0010.jpg").read_bytes()


def stored_files(site: Site) -> list[str]:
    root = site.client.app.state.settings.photo_dir
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def photo_rows(site: Site) -> int:
    with site.db.factory() as s:
        return int(s.execute(select(func.count()).select_from(models.Photo)).scalar_one())


# --- Pages: escaping, CSP, framing, cookies ----------------------------------------------------------------

def test_login_page_escapes_next_and_sends_a_strict_csp(site: Site):
    r = site.client.get(f"/login?next={quote(XSS)}")
    assert r.status_code == 200
    assert "<script>window.__pwned" not in r.text
    assert "&lt;script&gt;" in r.text or 'value="/map"' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_next_never_leaves_the_site(site: Site):
    for target in ("//evil.example/x", "/\\evil.example", "https://evil.example", "javascript:alert(1)"):
        r = site.client.get(f"/login?next={quote(target)}")
        assert 'value="/map"' in r.text, target


def test_the_language_switch_remembers_the_choice_and_stays_on_the_site(site: Site):
    r = site.client.get("/language?to=en&next=" + quote("/desk/cases?disposition=demolish"), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk/cases?disposition=demolish"
    assert r.cookies.get("redline_lang") == "en"
    for target in ("//evil.example/x", "https://evil.example"):
        r = site.client.get(f"/language?to=en&next={quote(target)}", follow_redirects=False)
        assert r.headers["location"] == "/map", target
    r = site.client.get("/language?to=fr", follow_redirects=False)
    assert r.cookies.get("redline_lang") == "zh"
    english = site.client.get("/api/config?lang=en").json()["labels"]
    assert english["status"]["notice_served"] == "notice served" and english["prohibition"]["1"].startswith("house")
    assert site.client.get("/api/config").json()["labels"]["status"]["closed"] == "已销号"


def test_every_response_carries_the_security_headers(site: Site):
    cid = case_id(site, "A1")
    r = site.client.post(f"/api/cases/{cid}/photos", headers=site.as_user("inspector1"),
                         data={"client_uuid": str(uuid.uuid4())}, files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 201, r.text
    for url in ("/api/cases", r.json()["original_url"], r.json()["thumbnail_url"], "/health"):
        got = site.client.get(url, headers=site.as_user("inspector1"))
        assert got.status_code == 200, url
        assert got.headers["x-content-type-options"] == "nosniff", url
        assert "frame-ancestors 'none'" in got.headers["content-security-policy"], url


def test_the_cookie_is_secure_over_https(site: Site):
    plain = site.client.post("/api/auth/token", json={"username": "county", "password": PASSWORD})
    assert "secure" not in plain.headers["set-cookie"].lower()
    https = httpx.Client(transport=site.client._transport, base_url="https://testserver")
    r = https.post("/api/auth/token", json={"username": "county", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_cookie_authenticated_writes_must_come_from_our_own_pages(site: Site):
    token = site.client.post("/api/auth/token", json={"username": "officer1", "password": PASSWORD}).json()
    cid = case_id(site, "A1")
    site.client.cookies.set("redline_token", token["access_token"])
    try:
        body = {"text": "写在别人的网页上"}
        foreign = site.client.post(f"/api/cases/{cid}/comments", json=body, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403 and "cross-site" in foreign.json()["error"]["message"]
        none = site.client.post(f"/api/cases/{cid}/comments", json=body)
        assert none.status_code == 403
        own = site.client.post(f"/api/cases/{cid}/comments", json=body, headers={"Origin": "http://testserver"})
        assert own.status_code == 201
        # A bearer token cannot be attached by a foreign page: no Origin needed.
        bearer = site.client.post(f"/api/cases/{cid}/comments", json=body, headers=site.as_user("officer1"))
        assert bearer.status_code == 201
    finally:
        site.client.cookies.clear()
    login = site.client.post("/login", data={"username": "county", "password": PASSWORD},
                             headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert login.status_code == 403  # login CSRF: signing the victim in as someone else


# --- Login guessing ----------------------------------------------------------------------------------------

def test_login_is_throttled_per_user(site: Site):
    for _ in range(10):
        r = site.client.post("/api/auth/token", json={"username": "county", "password": "wrong-password"})
        assert r.status_code == 401
    throttled = site.client.post("/api/auth/token", json={"username": "county", "password": PASSWORD})
    assert throttled.status_code == 429 and "too many login attempts" in throttled.json()["error"]["message"]
    other = site.client.post("/api/auth/token", json={"username": "officer1", "password": PASSWORD})
    assert other.status_code == 200  # another user is not locked out by someone guessing at county


def test_successful_logins_do_not_spend_the_address_budget():
    """A bureau behind one address: 40 officials log in within a minute — none throttled; 30 failures from that
    address are still the limit."""
    from api.accounts.users import LoginThrottle
    from api.errors import TooManyAttempts

    throttle = LoginThrottle()
    for i in range(40):
        at = throttle.attempt(f"official{i}", "10.0.0.1")
        throttle.succeeded(f"official{i}", "10.0.0.1", at)
    for i in range(30):
        throttle.attempt(f"guess{i % 3}x{i}", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        throttle.attempt("one-more", "10.0.0.1")


def test_unknown_users_cost_the_same_as_known_ones(site: Site):
    def timed(username: str) -> float:
        start = time.perf_counter()
        r = site.client.post("/api/auth/token", json={"username": username, "password": "wrong-password"})
        assert r.status_code == 401
        return time.perf_counter() - start

    known = statistics.median(timed("officer2") for _ in range(5))
    unknown = statistics.median(timed(f"nobody{i}") for i in range(5))
    assert unknown > 0.5 * known, (known, unknown)  # was 27 ms against 213 ms


# --- Uploads -----------------------------------------------------------------------------------------------

def _raw_request(url: str, head: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, float]:
    """Send a request by hand (headers claiming what they like) and return the status and the seconds to
    the answer."""
    parts = urlsplit(url)
    start = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
        answer = sock.recv(4096).decode("latin-1")
    return int(answer.split(" ", 2)[1]), time.perf_counter() - start


def test_upload_bodies_are_refused_before_they_are_read(site: Site):
    cid = case_id(site, "A1")
    token = site.as_user("inspector1")["Authorization"]
    with serving(site.client.app) as url:
        anonymous = (f"POST /api/cases/{cid}/photos HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                     "boundary=b\r\nContent-Length: 209715200\r\n\r\n")
        status, seconds = _raw_request(url, anonymous)  # no body sent at all: the answer must not wait for it
        assert status == 401 and seconds < 3
        oversized = anonymous.replace("Host: x\r\n", f"Host: x\r\nAuthorization: {token}\r\n")
        status, seconds = _raw_request(url, oversized)
        assert status == 413 and seconds < 3
        # A body streamed without a length is cut off at the cap, not spooled whole.
        head = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
                b"Content-Type: image/jpeg\r\n\r\n")
        body = (head if i == 0 else b"\xff" * (1 << 20) for i in range(41))
        streamed = httpx.post(f"{url}/api/cases/{cid}/photos", headers={"Authorization": token,
                              "Content-Type": "multipart/form-data; boundary=b"}, content=body, timeout=30)
        assert streamed.status_code == 413
    assert stored_files(site) == [] and photo_rows(site) == 0


def test_pixel_bombs_fakes_and_broken_files_are_refused_and_leave_nothing(site: Site):
    cid = case_id(site, "A1")
    big = io.BytesIO()
    Image.new("1", (12000, 12000)).save(big, "PNG")  # 12 000 × 12 000 in a few KiB
    fake_heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic<html><script>alert(1)</script></html>"
    for name, data, expect in (("big.png", big.getvalue(), "megapixels"), ("x.heic", fake_heic, "decodable"),
                               ("cut.jpg", jpeg()[:4000], "decodable")):
        r = site.client.post(f"/api/cases/{cid}/photos", headers=site.as_user("inspector1"),
                             data={"client_uuid": str(uuid.uuid4())}, files={"file": (name, data, "image/png")})
        assert r.status_code == 415, (name, r.text)
        message = r.json()["error"]["message"]
        assert expect in message and "/tmp" not in message and str(site.client.app.state.settings.var_dir) \
            not in message, message
    assert stored_files(site) == [] and photo_rows(site) == 0


def test_a_client_uuid_reused_for_other_bytes_is_a_conflict(site: Site):
    cid = case_id(site, "A1")
    key = str(uuid.uuid4())

    def send(data: bytes) -> httpx.Response:
        return site.client.post(f"/api/cases/{cid}/photos", headers=site.as_user("inspector1"),
                                data={"client_uuid": key}, files={"file": ("p.jpg", data, "image/jpeg")})

    first = send(jpeg())
    again = send(jpeg())
    assert first.status_code == 201 and again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = send(fixture_path("photos", "ianare_gps_DSCN0012.jpg").read_bytes())
    assert other.status_code == 409 and "different photo" in other.json()["error"]["message"]
    assert photo_rows(site) == 1


# --- Malformed input is a 422 with a message, never a 500 ------------------------------------------------

def test_malformed_values_are_refused_with_a_message(site: Site):
    cid = case_id(site, "A1")
    officer = site.as_user("officer1")
    county = site.as_user("county")
    for raw in ('{"text": "r", "remaining_m2": 1e999}', '{"text": "r", "remaining_m2": NaN}',
                '{"text": "r", "remaining_m2": -1}'):
        r = site.client.post(f"/api/cases/{cid}/progress-reports", content=raw,
                             headers={**officer, "Content-Type": "application/json"})
        assert r.status_code == 422, raw
    wrong_payloads = [{"action": 5}, {"action": "verify", "payload": []}, {"action": "verify", "payload": "x"},
                      {"action": "verify", "payload": {"verdict": 5}},
                      {"action": "verify", "payload": {"verdict": "illegal", "field_rules": "3"}},
                      {"action": "verify", "payload": {"verdict": "illegal", "field_rules": [{"a": 1}]}},
                      {"action": "verify", "payload": {"verdict": "illegal", "field_rules": [99]}},
                      {"action": "assign", "payload": {"assignee": ["inspector1"]}},
                      {"action": "return", "payload": {"reason": {"x": 1}}},
                      {"action": "verify", "version": "x"}, {"action": "verify", "version": 2**70},
                      {"action": "classify", "payload": {"decision": None, "bogus": 1}}]
    for body in wrong_payloads:
        r = site.client.post(f"/api/cases/{cid}/transitions", json=body, headers=officer)
        assert r.status_code == 422, (body, r.status_code, r.text)
    for url in (f"/api/cases/{2**31}", f"/api/cases/{2**63}", f"/api/cases/{2**64}", "/api/cases/-1",
                f"/api/photos/{2**63}/original", f"/api/exports/{2**31}"):
        assert site.client.get(url, headers=county).status_code == 422, url
    for month in ("9999-12", "1900-01", "2020-13", "2027-05", "20-01"):
        assert site.client.get(f"/api/scoreboard?month={month}", headers=county).status_code == 422, month
        assert site.client.post("/api/exports", json={"month": month}, headers=county).status_code == 422, month
    # A quarter (季核) or a year (年度评估) is asked for as a period; one that has not begun, or a malformed one, is
    # refused; a month and a period at once, or neither, too.
    for period in ("2026-Q5", "2026-Q0", "9999", "2019-Q4", "2026Q1", "2026-13"):
        assert site.client.get(f"/api/scoreboard?period={period}", headers=county).status_code == 422, period
    assert site.client.get("/api/scoreboard?period=2026-Q3&month=2026-09", headers=county).status_code == 422
    assert site.client.get("/api/scoreboard", headers=county).status_code == 422
    quarter = site.client.get("/api/scoreboard?period=2026-Q3", headers=county)
    assert quarter.status_code == 200 and quarter.json()["period"] == "2026-Q3" and quarter.json()["kind"] == "quarter"
    assert quarter.json()["kind_name"] == "季核"
    for township in ("../../etc", "431021999000", "4310211010"):
        r = site.client.post("/api/exports", json={"month": "2026-10", "township": township}, headers=county)
        assert r.status_code == 422 and "/var" not in r.text, township
    huge = site.client.post(f"/api/cases/{cid}/comments", json={"text": "长" * (1 << 20)}, headers=officer)
    assert huge.status_code == 422
    # An assignee is "me", "none" or a username: an unknown username matches nothing; a sort column the list
    # does not offer, or an oversized value, is refused with its reason.
    nobody = site.client.get("/api/cases?assignee=bob", headers=county)
    assert nobody.status_code == 200 and nobody.json()["total"] == 0
    for query in ("sort=password_hash", "sort=-geom", "assignee=" + "x" * 61, "township=" + "1" * 13):
        refused = site.client.get(f"/api/cases?{query}", headers=county)
        assert refused.status_code == 422, query
    assert "sort must be one of" in site.client.get("/api/cases?sort=bogus", headers=county).json()["error"]["message"]


def test_a_whole_world_bbox_finds_every_case(site: Site):
    county = site.as_user("county")
    everything = site.client.get("/api/cases", headers=county).json()["total"]
    world = site.client.get("/api/cases?bbox=-180,-90,180,90", headers=county)
    assert world.status_code == 200 and world.json()["total"] == everything > 0
    elsewhere = site.client.get("/api/cases?bbox=0,0,10,10", headers=county)
    assert elsewhere.status_code == 200 and elsewhere.json()["total"] == 0


def test_docs_are_public_and_work_offline(site: Site):
    docs = site.client.get("/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert site.client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert site.client.get("/openapi.json").status_code == 200
    assert site.client.get("/api/cases").status_code == 401


# --- Load: 50 concurrent writers ---------------------------------------------------------------------------

def test_fifty_concurrent_writers_no_5xx_no_duplicates_nothing_lost(site: Site):
    """Uploads (with retries of the same upload), comments and racing transitions, 50 at once over real
    HTTP: every answer is 2xx or an explained 409, every write is stored exactly once."""
    cid = case_id(site, "A1")
    other = case_id(site, "A2")
    inspector, officer = site.as_user("inspector1"), site.as_user("officer1")
    photo = jpeg()
    keys = [str(uuid.uuid4()) for _ in range(15)]
    version = site.client.get(f"/api/cases/{other}", headers=officer).json()["properties"]["version"]

    def job(i: int) -> tuple[str, int, object]:
        start = time.perf_counter()
        try:
            return timed_job(i)
        finally:
            seconds[i] = time.perf_counter() - start

    seconds: dict[int, float] = {}

    def timed_job(i: int) -> tuple[str, int, object]:
        with httpx.Client(base_url=url, timeout=120) as http:
            if i < 20:  # 15 uploads, 5 of them sent twice at once (a phone retrying)
                key = keys[i % 15]
                r = http.post(f"/api/cases/{cid}/photos", headers=inspector, data={"client_uuid": key},
                              files={"file": ("p.jpg", photo, "image/jpeg")})
                return "upload", r.status_code, (key, r.json().get("id") if r.status_code == 201 else r.text)
            if i < 40:
                r = http.post(f"/api/cases/{cid}/comments", headers=officer, json={"text": f"意见 {i}"})
                return "comment", r.status_code, r.json().get("id") if r.status_code == 201 else r.text
            r = http.post(f"/api/cases/{other}/transitions", headers=officer,
                          json={"action": "assign", "version": version, "payload": {"assignee": "inspector1"}})
            return "assign", r.status_code, None

    with serving(site.client.app) as url, ThreadPoolExecutor(50) as pool:
        began = time.perf_counter()
        results = list(pool.map(job, range(50)))
        wall = time.perf_counter() - began
    statuses = [status for _, status, _ in results]
    ARTIFACTS.mkdir(exist_ok=True)
    by_kind: dict[str, list[float]] = {}
    for i, (kind, _, _) in enumerate(results):
        by_kind.setdefault(kind, []).append(seconds[i])
    (ARTIFACTS / f"load-{site.db.backend}.json").write_text(json.dumps({
        "writers": 50, "wall_s": round(wall, 2), "statuses": {str(k): statuses.count(k) for k in set(statuses)},
        "seconds": {k: {"median": round(statistics.median(v), 3), "max": round(max(v), 3)} for k, v in by_kind.items()},
    }, indent=1))
    assert not [s for s in statuses if s >= 500], statuses
    uploads = [r for r in results if r[0] == "upload"]
    assert all(status == 201 for _, status, _ in uploads), uploads
    ids_by_key: dict[str, set[int]] = {}
    for _, _, (key, pid) in uploads:  # type: ignore[misc]
        ids_by_key.setdefault(key, set()).add(pid)
    assert all(len(ids) == 1 for ids in ids_by_key.values())  # a retry returns the first record
    comments = [r for r in results if r[0] == "comment"]
    assert all(status == 201 for _, status, _ in comments), comments
    assigns = [status for kind, status, _ in results if kind == "assign"]
    assert assigns.count(200) == 1 and set(assigns) <= {200, 409}  # one wins the version race
    with site.db.factory() as s:
        assert s.execute(select(func.count()).select_from(models.Photo)).scalar_one() == 15
        assert s.execute(select(func.count()).select_from(models.Comment)).scalar_one() == 20
        events = s.execute(select(func.count()).select_from(models.CaseEvent)
                           .where(models.CaseEvent.case_id == other, models.CaseEvent.action == "assign")
                           ).scalar_one()
    assert events == 1


def _busy_site(site: Site, tmp_path) -> TestClient:
    """A second server on the same database whose writes wait at most one second for their turn."""
    app = create_app(Settings(database_url=site.db.url, var_dir=tmp_path / "busy", write_wait_s=1))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("db", ["spatialite"], indirect=True)  # PostgreSQL has no writers' turn: row locks
def test_a_write_kept_waiting_is_a_503_with_a_message_and_writes_nothing(site: Site, tmp_path):
    """A write that cannot get its turn is refused with a message the pages can show (503, Retry-After), and
    nothing of it is stored. Before: SQLite's "database is locked" came out as a plain-text 500, which is
    what one of the fifty concurrent writers below got on a loaded machine."""
    cid = case_id(site, "A1")
    officer = site.as_user("officer1")
    with _busy_site(site, tmp_path) as busy:
        # In this process: another request's write transaction holds the turn on this database file.
        with site.db.factory() as holder:
            holder.add(models.Comment(case_id=cid, author_id=1, at=dt.datetime.now(dt.UTC), text="held"))
            holder.flush()
            r = busy.post(f"/api/cases/{cid}/comments", headers=officer, json={"text": "等不到"})
            holder.rollback()
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        assert "未保存任何内容" in r.json()["error"]["message_zh"] and "1 s" in r.json()["error"]["message_en"]
        # Another process (the CLI) holds SQLite's write lock: the same refusal after the busy timeout.
        holding = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                   "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read()")
        with subprocess.Popen([sys.executable, "-c", holding, str(make_url(site.db.url).database)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as other:
            assert other.stdout is not None and other.stdin is not None
            assert other.stdout.readline().strip() == "held"
            r = busy.post(f"/api/cases/{cid}/comments", headers=officer, json={"text": "等不到"})
            other.stdin.close()
        assert r.status_code == 503 and "try again" in r.json()["error"]["message_en"], r.text
        assert busy.post(f"/api/cases/{cid}/comments", headers=officer,
                                             json={"text": "轮到了"}).status_code == 201
    with site.db.factory() as s:
        texts = s.execute(select(models.Comment.text).where(models.Comment.case_id == cid)).scalars().all()
        events = s.execute(select(models.CaseEvent.note).where(models.CaseEvent.case_id == cid,
                                                               models.CaseEvent.action == "comment")).scalars().all()
    assert texts == ["轮到了"] and events == ["轮到了"]


def test_a_storm_of_wrong_passwords_does_not_starve_the_server(site: Site):
    """60 concurrent wrong passwords (40 threads): throttled and hashed at most one per two cores at a time,
    while /health keeps answering and memory stays flat (before: RSS +900 MiB and /health 4.9 s)."""
    import psutil

    process = psutil.Process()
    with serving(site.client.app) as url, ThreadPoolExecutor(40) as pool:
        def guess(i: int) -> int:
            r = httpx.post(f"{url}/api/auth/token", json={"username": f"county{i % 3}", "password": "wrong-pw"},
                           timeout=60)
            return r.status_code

        rss_before = process.memory_info().rss
        storm = [pool.submit(guess, i) for i in range(60)]
        health: list[float] = []
        for _ in range(5):
            start = time.perf_counter()
            assert httpx.get(f"{url}/health", timeout=10).status_code == 200
            health.append(time.perf_counter() - start)
        codes = [f.result() for f in storm]
        grown = (process.memory_info().rss - rss_before) / 2**20
    # The median is the signal. One answer may be slow: the first request races the 40 client threads starting
    # in this same process (6.6 s once on a loaded 2-core machine, the others 0.2–1.3 s). The bounds leave room
    # for a CI machine loaded by others (a median of 1.4–1.8 s once at load average 8.5 on two cores) and still
    # fail the 4.9 s this test was written against.
    assert statistics.median(health) < 2.5 and sorted(health)[-2] < 4.0, health
    assert grown < 300, f"RSS grew by {grown:.0f} MiB"
    assert set(codes) <= {401, 429} and codes.count(429) >= 30  # 10 per username, 30 per address
