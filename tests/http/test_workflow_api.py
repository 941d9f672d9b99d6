"""Cases driven through the HTTP API on both databases: the whole path, refusals, scope, concurrency,
deadlines, scoreboard, audit chain."""

from __future__ import annotations

import datetime as dt
import io
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, text

from api.cases.audit import verify_chain
from api.cases.service import transition
from api.db import models
from api.db.models import User
from api.evidence.upload import upload_photo
from tests.conftest import fixture_path
from tests.http.conftest import T1, T2, Site, case_id, off_permanent_farmland

PHOTO = ("photos", "ianare_gps_DSCN0010.jpg")


def act(site: Site, user: str, cid: int, action: str, expect: int = 200, **payload) -> dict:
    r = site.client.post(f"/api/cases/{cid}/transitions", headers=site.as_user(user),
                         json={"action": action, "payload": payload})
    assert r.status_code == expect, r.text
    return r.json()


def upload(site: Site, user: str, cid: int, kind: str = "after_demolition", client_uuid: str | None = None,
           data: bytes | None = None, name: str = "photo.jpg", wait_for_decode: bool = True):
    """POST a photo; by default return once the server's decoding thread has also decoded it (the answer comes
    first), so what the test reads next shows the decode's result."""
    body = data if data is not None else fixture_path(*PHOTO).read_bytes()
    answer = site.client.post(f"/api/cases/{cid}/photos", headers=site.as_user(user),
                              data={"client_uuid": client_uuid or str(uuid.uuid4()), "kind": kind},
                              files={"file": (name, body, "image/jpeg")})
    if wait_for_decode:
        site.client.app.state.pixel_queue.wait_idle()
    return answer


def photo_at(site: Site, cid: int, seed: int = 0) -> bytes:
    """A JPEG taken just now at the case's house (10 m south, facing north)."""
    from api.db.models import Case
    from api.db.repository import read_frame
    from tests.photo_factory import jpeg_at_house

    with site.db.factory() as s:
        house = read_frame(s, Case, where=[Case.id == cid]).geometry.iloc[0]
    return jpeg_at_house(house, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5), seed=seed)


def test_increment_from_new_to_closed(site: Site):
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    act(site, "officer1", cid, "assign", assignee="inspector1")
    act(site, "inspector1", cid, "verify", verdict="illegal", field_rules=[3])
    for user, action in (("officer1", "serve_notice"), ("officer1", "start_demolition"),
                         ("inspector1", "record_demolition"), ("inspector1", "restore")):
        act(site, user, cid, action)
    refused = act(site, "inspector1", cid, "reinspect", expect=409)
    assert "photo" in refused["error"]["message"]
    # A photo taken in 2008 somewhere else shows nothing of this demolition: refused, and the reason says so.
    assert upload(site, "inspector1", cid).status_code == 201
    refused = act(site, "inspector1", cid, "reinspect", expect=409)["error"]["message"]
    assert "taken at the house after the demolition was recorded" in refused and "1 taken before it" in refused
    assert upload(site, "inspector1", cid, data=photo_at(site, cid)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "submit")
    returned = act(site, "county", cid, "return", reason="复耕照片不清晰")
    assert returned["status"] == "reinspected"
    act(site, "officer1", cid, "submit")
    closed = act(site, "county", cid, "pass_review")
    assert closed["status"] == "closed" and closed["remaining_m2"] == 0.0
    case = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert case["status"] == "closed" and case["field_rules"] == "3"
    actions = [e["action"] for e in case["history"]]
    assert actions == ["create", "assign", "assign", "verify", "serve_notice", "start_demolition",
                       "record_demolition", "restore", "reinspect", "submit", "return", "submit", "pass_review"]
    assert case["history"][0]["actor"] == "scan" and case["history"][0]["after"]["status"] == "new"
    assert case["history"][10]["note"] == "复耕照片不清晰"
    assert case["history"][1]["before"]["status"] == "new" and case["history"][1]["after"]["status"] == "assigned"
    assert case["allowed_actions"] == ["upper_pass", "upper_return"] and case["awaiting_review"] == "city"
    with site.db.factory() as s:
        assert verify_chain(s).ok


def close_increment(site: Site, cid: int) -> None:
    """Take an increment case from new to closed by the county (with a photo at the demolished house)."""
    act(site, "county", cid, "assign", assignee="inspector1")
    act(site, "inspector1", cid, "verify", verdict="illegal", period="after_cutoff")
    for user, action in (("officer1", "serve_notice"), ("officer1", "start_demolition"),
                         ("inspector1", "record_demolition"), ("inspector1", "restore")):
        act(site, user, cid, action)
    assert upload(site, "inspector1", cid, data=photo_at(site, cid)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "submit")
    act(site, "county", cid, "pass_review")


def test_the_city_and_the_province_review_a_closed_case_and_a_return_reopens_it(site: Site):
    """Review levels county → city → province. Before, the county's pass ended the case: when the city returned it
    (退回整改), nothing in Redline could put it back with the township, and it stood closed."""
    from api.cases.history import snapshot

    cid = case_id(site, "A1")
    close_increment(site, cid)
    act(site, "officer1", cid, "upper_return", expect=409, level="city", reason="x", document="市审1号")
    refused = act(site, "county", cid, "upper_pass", expect=409, level="province", document="省审1号")["error"]
    assert "待市级审核" in refused["message_zh"]
    # The county records the city's word from the city's document: without its number, nothing is recorded.
    assert "文号" in act(site, "county", cid, "upper_pass", expect=409, level="city")["error"]["message_zh"]
    returned = act(site, "county", cid, "upper_return", level="city", reason="复耕地块仍有建筑垃圾",
                   document="永市自然资审〔2026〕7号")
    assert returned["status"] == "reinspected"  # where the township submitted it from
    detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("officer1")).json()["properties"]
    assert "submit" in detail["allowed_actions"] and detail["awaiting_review"] is None
    assert detail["history"][-1]["action"] == "upper_return"
    assert detail["history"][-1]["note"] == "市级（永市自然资审〔2026〕7号）：复耕地块仍有建筑垃圾"
    with site.db.factory() as s:
        case = s.get(models.Case, cid)
        assert case.closed_at is None and case.finished_at is None and case.returned_at is not None
        # The month's snapshot replays the return: no longer closed, a new round from the return.
        now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        row = snapshot(s, now, [models.Case.id == cid]).iloc[0]
        assert row["status"] == "reinspected" and row["closed_at"] is None and row["returned_at"] is not None
    act(site, "officer1", cid, "submit")
    act(site, "county", cid, "pass_review")
    listed = lambda **q: [i["id"] for i in site.client.get(  # noqa: E731
        "/api/cases", params=q, headers=site.as_user("county")).json()["items"]]
    assert cid in listed(awaiting="city") and cid not in listed(awaiting="province")
    act(site, "county", cid, "upper_pass", level="city", document="永市自然资审〔2026〕9号")
    detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert (detail["upper_review"], detail["awaiting_review"]) == ("city", "province")
    assert detail["upper_review_words"] == {"zh": "市级已通过，待省级审核",
                                            "en": "passed by the city, awaiting the province"}
    # The desk's list finds what to send up next, and its download says where each case stands.
    assert listed(awaiting="province") == [cid] and cid not in listed(awaiting="city")
    unknown = site.client.get("/api/cases", params={"awaiting": "county"}, headers=site.as_user("county"))
    assert unknown.status_code == 422
    sheet = site.client.get("/api/cases/download", params={"awaiting": "province"},
                            headers=site.as_user("county")).content.decode("utf-8-sig")
    assert "上级审核" in sheet.splitlines()[0] and "市级已通过，待省级审核" in sheet
    act(site, "county", cid, "upper_pass", level="province", reason="省级抽查通过", document="湘自然资审〔2026〕3号")
    detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert (detail["status"], detail["upper_review"], detail["awaiting_review"]) == ("closed", "province", None)
    assert detail["allowed_actions"] == []
    assert detail["history"][-1]["note"] == "省级（湘自然资审〔2026〕3号）：省级抽查通过"
    with site.db.factory() as s:
        assert verify_chain(s).ok
        assert s.get(models.Case, cid).closed_at is not None


def test_stock_path_and_remaining_area_blocks_closing(site: Site, tmp_path: Path):
    cid = off_permanent_farmland(site, tmp_path)
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    act(site, "officer1", cid, "serve_notice", expect=409)
    act(site, "officer1", cid, "classify", decision="confiscate")
    r = site.client.post(f"/api/cases/{cid}/progress-reports", headers=site.as_user("officer1"),
                         json={"text": "没收手续办理一半", "remaining_m2": 80.0})
    assert r.status_code == 201
    act(site, "officer1", cid, "rectify")
    act(site, "officer1", cid, "submit")
    act(site, "county", cid, "pass_review")


def report(site: Site, user: str, cid: int, expect: int = 201, **body: Any) -> dict:
    r = site.client.post(f"/api/cases/{cid}/progress-reports", headers=site.as_user(user),
                         json={"text": "进展", **body})
    assert r.status_code == expect, r.text
    return r.json()


def remaining(site: Site, cid: int) -> float:
    return site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]["remaining_m2"]


def test_a_progress_report_lowers_the_remaining_area_only_while_rectification_is_under_way(site: Site,
                                                                                         tmp_path: Path):
    """The remaining unrectified area is what the monthly report publishes per township. Before, any progress
    report set it: a township could report 0 on a verified house still standing, and its published total fell
    with nothing pulled down."""
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign", assignee="inspector1")
    act(site, "inspector1", cid, "verify", verdict="illegal", period="after_cutoff")
    standing = remaining(site, cid)
    assert standing > 50
    for figure in (0.0, standing / 2):
        refused = report(site, "officer1", cid, 409, remaining_m2=figure)["error"]
        assert ("报为 0" if figure == 0 else "尚无拆除或整改在进行") in refused["message_zh"], refused
    assert remaining(site, cid) == pytest.approx(standing)
    report(site, "officer1", cid, remaining_m2=standing)  # the same figure again: a report of no change
    report(site, "inspector1", cid, remaining_m2=standing + 5)  # a site measured larger
    assert remaining(site, cid) == pytest.approx(standing + 5)
    report(site, "county", cid, 403, remaining_m2=standing)  # the county reviews; the township reports
    act(site, "officer1", cid, "serve_notice")
    assert "尚无拆除或整改在进行" in report(site, "officer1", cid, 409, remaining_m2=10.0)["error"]["message_zh"]
    act(site, "officer1", cid, "start_demolition")
    report(site, "officer1", cid, remaining_m2=standing / 2)  # half pulled down
    assert remaining(site, cid) == pytest.approx(standing / 2)
    assert "报为 0" in report(site, "officer1", cid, 409, remaining_m2=0.0)["error"]["message_zh"]
    detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("officer1")).json()["properties"]
    assert detail["may_report"] is True
    assert [(r["author"], r["remaining_m2"]) for r in detail["progress_reports"]] == [
        ("officer1", pytest.approx(standing)), ("inspector1", pytest.approx(standing + 5)),
        ("officer1", pytest.approx(standing / 2))]
    assert site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"][
        "may_report"] is False
    # A stock decision keeping the house is rectified step by step; a decision to demolish is not under way
    # until its demolition starts.
    stock = off_permanent_farmland(site, tmp_path)
    act(site, "county", stock, "assign")
    act(site, "inspector1", stock, "verify", verdict="illegal", period="before_cutoff")
    act(site, "officer1", stock, "classify", decision="demolish")
    assert "尚无拆除或整改在进行" in report(site, "officer1", stock, 409, remaining_m2=1.0)["error"]["message_zh"]


def test_legal_verdict_closes_with_nothing_remaining(site: Site):
    cid = case_id(site, "A3")
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="legal", legal_reason="facility_farmland")
    act(site, "officer1", cid, "submit")
    assert act(site, "county", cid, "pass_review")["status"] == "closed"


def test_remaining_area_must_reach_zero_before_review_passes(site: Site, tmp_path: Path):
    cid = off_permanent_farmland(site, tmp_path)
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    act(site, "officer1", cid, "classify", decision="confiscate")
    act(site, "officer1", cid, "rectify")
    site.client.post(f"/api/cases/{cid}/progress-reports", headers=site.as_user("officer1"),
                     json={"text": "没收手续未完成", "remaining_m2": 20.0})
    act(site, "officer1", cid, "submit")
    refused = act(site, "county", cid, "pass_review", expect=409)
    assert "20.00 m²" in refused["error"]["message"]
    # Said in both languages: Chinese for the officials, English where the user picks it, and both together.
    assert refused["error"]["message_zh"] == "剩余未整改面积 20.00 m²；为 0 时才能销号"
    assert refused["error"]["message_en"] == "remaining unrectified area is 20.00 m²; a case closes only at 0"
    assert refused["error"]["message"] == f"{refused['error']['message_zh']}（{refused['error']['message_en']}）"


def test_refused_transition_changes_nothing(site: Site):
    cid = case_id(site, "A1")
    before = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    body = act(site, "county", cid, "pass_review", expect=409)
    assert body["error"]["type"] == "Conflict" and "new" in body["error"]["message"]
    assert body["error"]["message_zh"].startswith("案件「新发现」时不能「审核通过（销号）」")
    refused = act(site, "inspector1", cid, "assign", expect=409)  # an inspector may not assign
    assert refused["error"]["message_zh"] == "巡查员无权「指派」"
    assert refused["error"]["message_en"] == "inspectors may not assign"
    after = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert after["status"] == before["status"] == "new"
    assert after["version"] == before["version"] and after["history"] == before["history"]
    assert [e["action"] for e in after["history"]] == ["create"]


def test_unknown_period_must_be_established_on_site(site: Site):
    cid = case_id(site, "A4")
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", expect=409, verdict="illegal")
    act(site, "inspector1", cid, "verify", verdict="illegal", period="after_cutoff")
    act(site, "officer1", cid, "serve_notice")


ENDPOINTS = [
    ("get", "/api/cases/{cid}", None),
    ("post", "/api/cases/{cid}/transitions", {"json": {"action": "assign", "payload": {}}}),
    ("post", "/api/cases/{cid}/comments", {"json": {"text": "看看"}}),
    ("post", "/api/cases/{cid}/progress-reports", {"json": {"text": "进展"}}),
]


@pytest.mark.parametrize("user", ["officer2", "inspector2"])
@pytest.mark.parametrize(("method", "path", "kwargs"), ENDPOINTS)
def test_township_users_never_reach_another_townships_case(site: Site, user, method, path, kwargs):
    cid = case_id(site, "A1")
    with site.db.factory() as s:
        events_before = s.execute(text("SELECT count(*) FROM case_events")).scalar_one()
    r = getattr(site.client, method)(path.format(cid=cid), headers=site.as_user(user), **(kwargs or {}))
    assert r.status_code == 404
    with site.db.factory() as s:
        assert s.execute(text("SELECT count(*) FROM case_events")).scalar_one() == events_before


@pytest.mark.parametrize("user", ["officer2", "inspector2"])
def test_township_scope_on_lists_maps_photos_and_scoreboard(site: Site, user):
    h = site.as_user(user)
    items = site.client.get("/api/cases", headers=h).json()
    assert items["total"] == 4 and {i["township_code"] for i in items["items"]} == {T2}
    assert site.client.get("/api/cases", headers=h, params={"township": T1}).json()["total"] == 0
    fc = site.client.get("/api/cases", headers=h, params={"format": "geojson", "overdue": "false"}).json()
    assert {f["properties"]["township_code"] for f in fc["features"]} == {T2}
    assert upload(site, user, case_id(site, "A1")).status_code == 404
    board = site.client.get("/api/scoreboard", headers=h, params={"month": "2026-11"}).json()
    assert [row["township_code"] for row in board["townships"]] == [T2]


def test_county_sees_every_township(site: Site):
    assert site.client.get("/api/cases", headers=site.as_user("county")).json()["total"] == 8
    board = site.client.get("/api/scoreboard", headers=site.as_user("county"), params={"month": "2026-11"}).json()
    assert len(board["townships"]) == 8


def test_two_officers_at_once_one_wins_one_conflicts(site: Site):
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    version = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]["version"]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def verify(user: str, verdict: str) -> None:
        headers = site.as_user(user)
        barrier.wait()
        r = site.client.post(f"/api/cases/{cid}/transitions", headers=headers,
                             json={"action": "verify", "version": version,
                                   "payload": {"verdict": verdict, "legal_reason": "other"}})
        results.append(r.status_code)

    threads = [threading.Thread(target=verify, args=("officer1", "illegal")),
               threading.Thread(target=verify, args=("inspector1", "legal"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    case = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert [e["action"] for e in case["history"]] == ["create", "assign", "verify"]  # nothing lost or doubled
    assert case["version"] == version + 1


def test_a_resent_step_report_or_comment_is_answered_once_and_applied_once(site: Site,
                                                                          monkeypatch: pytest.MonkeyPatch):
    """The field app queues every submission and sends it again when an answer did not arrive; a step, a
    report or a comment whose first send was applied but whose answer was lost must not be applied twice
    (two reports, two comments) nor shown as refused (a step already taken is no longer allowed). The
    client's UUID is the key: a resend is answered as the first was; the key used for something else is 409."""
    from api.cases import service

    cid = case_id(site, "A2")
    act(site, "county", cid, "assign", assignee="inspector1")
    step = {"action": "verify", "payload": {"verdict": "illegal"},
            "client_uuid": str(uuid.uuid4())}
    first = site.client.post(f"/api/cases/{cid}/transitions", headers=site.as_user("inspector1"), json=step)
    again = site.client.post(f"/api/cases/{cid}/transitions", headers=site.as_user("inspector1"), json=step)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    other = {**step, "payload": {"verdict": "legal", "legal_reason": "other"}}
    refused = site.client.post(f"/api/cases/{cid}/transitions", headers=site.as_user("inspector1"), json=other)
    assert refused.status_code == 409 and "另一次提交" in refused.json()["error"]["message_zh"], refused.text
    assert site.client.post(f"/api/cases/{cid}/transitions", headers=site.as_user("officer1"),
                            json=step).status_code == 409  # someone else's key
    assert site.client.post(f"/api/cases/{cid}/transitions", headers=site.as_user("inspector1"),
                            json={**step, "client_uuid": "not-a-uuid"}).status_code == 422

    key = str(uuid.uuid4())
    filed = [report(site, "officer1", cid, text="已下达拆除通知", client_uuid=key) for _ in range(2)]
    assert filed[0] == filed[1]
    assert report(site, "officer1", cid, 409, text="另一份报告", client_uuid=key)["error"]["message_en"]
    comment = {"text": "户主在场", "client_uuid": str(uuid.uuid4())}
    said = [site.client.post(f"/api/cases/{cid}/comments", headers=site.as_user("county"), json=comment)
            for _ in range(2)]
    assert [r.status_code for r in said] == [201, 201] and said[0].json() == said[1].json()
    assert site.client.post(f"/api/cases/{cid}/comments", headers=site.as_user("county"),
                            json={"text": "户主在场", "client_uuid": key}).status_code == 409  # a report's key

    # Two sends of one report at the same moment (the phone's retry racing the first, slow, answer): both
    # read before either records; one report is filed and both are answered with it.
    twice = str(uuid.uuid4())
    answers: list[Any] = []
    with site.db.factory() as s:
        user = s.execute(select(User).where(User.username == "officer1")).scalar_one()
        s.expunge(user)
    side_by_side(monkeypatch, service, "state_of", [
        lambda: answers.append(service.add_progress_report(site.db.factory, user, cid, "同时两次", None,
                                                           client_uuid=twice).id)] * 2)
    assert len(answers) == 2 and answers[0] == answers[1]

    detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert [e["action"] for e in detail["history"]] == [
        "create", "assign", "verify", "progress_report", "comment", "progress_report"]
    assert [r["text"] for r in detail["progress_reports"]] == ["已下达拆除通知", "同时两次"]
    assert len(detail["comments"]) == 1
    with site.db.factory() as s:
        assert verify_chain(s).ok


def test_a_resent_bulk_assignment_is_applied_once(site: Site):
    """The desk's bulk assignment sent again after its answer was lost (a dropped connection, the official clicking
    once more) must not assign every case a second time. One key for the batch as drawn (`client_uuid`): each
    case's step is keyed by it and the case, so a resend answers each case as it stands; the key sent again with
    another assignee is refused case by case, never applied; a key that is no UUID is 422."""
    cases = [case_id(site, house) for house in ("A1", "A2")]
    batch = {"ids": cases, "assignee": "inspector1", "client_uuid": str(uuid.uuid4())}
    sends = [site.client.post("/api/cases/bulk-assign", headers=site.as_user("county"), json=batch)
             for _ in range(2)]
    assert [r.status_code for r in sends] == [200, 200], sends[1].text
    assert sends[0].json() == sends[1].json() and sends[1].json()["assigned"] == 2
    changed = site.client.post("/api/cases/bulk-assign", headers=site.as_user("county"),
                               json={**batch, "assignee": "inspector2"}).json()
    assert changed["assigned"] == 0 and all("另一次提交" in r["error_zh"] for r in changed["results"]), changed
    assert site.client.post("/api/cases/bulk-assign", headers=site.as_user("county"),
                            json={**batch, "client_uuid": "not-a-uuid"}).status_code == 422
    listed = {i["id"]: i for i in site.client.get("/api/cases", headers=site.as_user("county")).json()["items"]}
    for cid in cases:
        detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
        assert [e["action"] for e in detail["history"]] == ["create", "assign"], detail["history"]
        assert listed[cid]["assignee"] == "inspector1"
    # Without a key each send is a new assignment (a re-assignment is a step of its own).
    site.client.post("/api/cases/bulk-assign", headers=site.as_user("county"),
                     json={"ids": cases[:1], "assignee": "inspector1"})
    detail = site.client.get(f"/api/cases/{cases[0]}", headers=site.as_user("county")).json()["properties"]
    assert [e["action"] for e in detail["history"]] == ["create", "assign", "assign"]


def resaved(quality: int) -> bytes:
    """The fixture photo saved again at `quality`: other bytes, a near-identical picture."""
    with Image.open(fixture_path(*PHOTO)) as img:
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality, exif=img.info["exif"])
        return out.getvalue()


def inspector1(site: Site) -> User:
    """The site's inspector as a detached record, for calling the services directly."""
    with site.db.factory() as s:
        user = s.execute(select(User).where(User.username == "inspector1")).scalar_one()
        s.expunge(user)
    return user


def answered_not_decoded(site: Site, cid: int, seed: int = 0, kind: str = "after_demolition",
                         client_uuid: str | None = None, data: bytes | None = None) -> models.Photo:
    """A photo uploaded by inspector1 as the server stores and answers it, its pixels not decoded yet (what a
    server stopped right after the answer leaves): `data`, or by default one taken at the case's house."""
    body = data if data is not None else photo_at(site, cid, seed=seed)
    return upload_photo(site.db.factory, inspector1(site), cid, client_uuid or str(uuid.uuid4()), kind,
                        io.BytesIO(body), root=site.client.app.state.settings.photo_dir, max_bytes=10 << 20)


def side_by_side(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, jobs: list[Any]) -> None:
    """Run `jobs` in two threads such that the first to call `module.name` (a read of the other cases' photos)
    waits there, up to two seconds, for the second to call it too: both read before either records, unless
    something makes the second wait for the first to finish."""
    real = getattr(module, name)
    first, second = threading.Event(), threading.Event()

    def reading(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if not first.is_set():
            first.set()
            second.wait(timeout=2)
        else:
            second.set()
        return result

    monkeypatch.setattr(module, name, reading)
    errors: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            job()
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []


def test_near_identical_photos_decoded_at_the_same_moment_on_two_cases_are_seen(site: Site,
                                                                                monkeypatch: pytest.MonkeyPatch):
    """Two near-identical photos on two cases, decoded at once: each decode compares and records in its turn
    (`api.evidence.turn`), so the later one sees the earlier; before, both read first and neither was flagged."""
    from api.evidence import pixels

    root = site.client.app.state.settings.photo_dir
    photos = [answered_not_decoded(site, case_id(site, house), kind="panorama", data=resaved(quality))
              for house, quality in (("A1", 60), ("A2", 50))]
    side_by_side(monkeypatch, pixels, "phashes_of_other_cases",
                 [lambda p=p: pixels.check_pixels(site.db.factory, root, p.id) for p in photos])
    flag = "几乎相同的照片已用于其他案件（a near-identical photo is attached to another case）"
    with site.db.factory() as s:
        flagged = [flag in (s.get(models.Photo, p.id).checks or "") for p in photos]
    assert flagged.count(True) == 1, flagged


def test_the_same_file_sent_to_two_cases_at_the_same_moment_is_flagged(site: Site, monkeypatch: pytest.MonkeyPatch):
    from api.evidence import upload as uploads

    root = site.client.app.state.settings.photo_dir
    data = fixture_path(*PHOTO).read_bytes()
    user = inspector1(site)
    side_by_side(monkeypatch, uploads, "_evidence", [
        lambda cid=cid: uploads.upload_photo(site.db.factory, user, cid, str(uuid.uuid4()), "panorama",
                                             io.BytesIO(data), root=root, max_bytes=10 << 20)
        for cid in (case_id(site, "A1"), case_id(site, "A2"))])
    with site.db.factory() as s:
        checks = [c or "" for c in s.execute(select(models.Photo.checks)).scalars()]
    assert len(checks) == 2 and sum("the same file is attached to another case" in c for c in checks) == 1, checks


def test_a_near_identical_photo_on_another_case_is_flagged_and_on_the_same_case_is_not(site: Site):
    """The same picture saved again (other bytes, so another sha256; a near-identical difference hash) is flagged
    when it is attached to another case: a photo of one house passed off as evidence for another."""
    def as_stored(answer: httpx.Response, case_code: str) -> dict[str, Any]:
        """The photo as the case shows it now: the upload answered before its pixels were decoded."""
        detail = site.client.get(f"/api/cases/{case_id(site, case_code)}", headers=site.as_user("county")).json()
        return next(p for p in detail["properties"]["photos"] if p["id"] == answer.json()["id"])

    flag = "几乎相同的照片已用于其他案件（a near-identical photo is attached to another case）"
    first = upload(site, "inspector1", case_id(site, "A1"), kind="panorama")
    same_case = upload(site, "inspector1", case_id(site, "A1"), kind="closeup", data=resaved(60))
    other_case = upload(site, "inspector1", case_id(site, "A2"), kind="panorama", data=resaved(50))
    assert first.status_code == same_case.status_code == other_case.status_code == 201
    assert len({first.json()["sha256"], same_case.json()["sha256"], other_case.json()["sha256"]}) == 3
    # The answer comes before the decode: the near-duplicate check is still to come, and says so.
    assert not other_case.json()["pixels_checked"] and flag not in other_case.json()["checks"]
    first, same_case, other_case = (as_stored(first, "A1"), as_stored(same_case, "A1"), as_stored(other_case, "A2"))
    assert first["pixels_checked"] and same_case["pixels_checked"] and other_case["pixels_checked"]
    assert flag not in first["checks"] and flag not in same_case["checks"]
    assert flag in other_case["checks"], other_case["checks"]
    assert not any("same file" in c for c in other_case["checks"])  # not the same bytes: only near


def test_photo_upload_is_idempotent_and_sniffs_content(site: Site):
    cid = case_id(site, "A1")
    key = str(uuid.uuid4())
    first = upload(site, "inspector1", cid, kind="panorama", client_uuid=key)
    again = upload(site, "inspector1", cid, kind="panorama", client_uuid=key)
    assert first.status_code == again.status_code == 201
    # The same record; only its decode, done just after the first answer, has moved on.
    assert {**first.json(), "pixels_checked": True} == again.json()
    assert first.json()["lat"] == pytest.approx(43.4674, abs=1e-3)  # the Nikon's GPS (northern France)
    with site.db.factory() as s:
        assert s.execute(text("SELECT count(*) FROM photos")).scalar_one() == 1
    assert first.json()["time_source"] == "gps_utc" and first.json()["taken_at"].startswith("2008-10-23T14:27:07")
    checks = first.json()["checks"]
    assert any("from the house" in c for c in checks)  # a photo from Italy is far from a house in Hunan
    assert "拍摄时间早于案件建立（taken before the case was opened）" in checks  # 2008
    other = upload(site, "inspector1", case_id(site, "A2"), kind="panorama")
    assert "同一文件已用于其他案件（the same file is attached to another case）" in other.json()["checks"]
    detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert [p["sha256"] for p in detail["photos"]] == [first.json()["sha256"]]
    assert detail["photos"][0]["checks"] == checks
    original = site.client.get(first.json()["original_url"], headers=site.as_user("county"))
    assert original.content == fixture_path(*PHOTO).read_bytes()  # byte for byte, EXIF intact
    thumb = site.client.get(first.json()["thumbnail_url"], headers=site.as_user("county"))
    assert thumb.headers["content-type"] == "image/jpeg" and len(thumb.content) < len(original.content)
    assert site.client.get(first.json()["original_url"], headers=site.as_user("officer2")).status_code == 404
    fake = upload(site, "inspector1", cid, data=b"GIF89a not a photo at all", name="x.jpg")
    assert fake.status_code == 415
    truncated = upload(site, "inspector1", cid, data=fixture_path(*PHOTO).read_bytes()[:4000])
    assert truncated.status_code == 415
    assert upload(site, "inspector1", cid, kind="selfie").status_code == 422


def test_deadlines_and_overdue_filter(site: Site):
    fresh_id, late_id = case_id(site, "A1"), case_id(site, "A3")
    act(site, "county", fresh_id, "assign")
    # An assignment three days ago (through the service, so the history says so too): study is overdue.
    with site.db.factory() as s:
        county = s.execute(select(User).where(User.username == "county")).scalar_one()
        s.expunge(county)
    transition(site.db.factory, county, late_id, "assign", {},
               now=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    rows = site.client.get("/api/cases", headers=site.as_user("county"), params={"overdue": "false"}).json()
    fresh = next(i for i in rows["items"] if i["id"] == fresh_id)
    assert fresh["next_deadline_kind"] == "study" and fresh["overdue"] is False
    late = site.client.get("/api/cases", headers=site.as_user("county"), params={"overdue": "true"}).json()
    assert [i["id"] for i in late["items"]] == [late_id]
    assert site.client.get("/api/cases", headers=site.as_user("officer2"), params={"overdue": "true"}).json()[
        "total"] == 0
    board = site.client.get("/api/scoreboard", headers=site.as_user("county"),
                            params={"month": dt.date.today().strftime("%Y-%m")}).json()["townships"]
    mine = next(r for r in board if r["township_code"] == T1)
    # The rate is over the deadlines that fell due this month: A3's missed study deadline (due the day after
    # its assignment, which may fall in the previous month early in a month); A1's is not due yet.
    assert mine["overdue"] == 1 and mine["met"] == 0 and mine["criticise"] is True
    assert (mine["due"], mine["on_time_rate"]) in ((1, 0.0), (0, None))
    assert mine["new_increments"] == 2  # A1 and A3 were built after the cutoff; A2 is stock, A4 unknown
    other = next(r for r in board if r["township_code"] == T2)
    assert other["overdue"] == 0 and other["on_time_rate"] is None and other["due"] == 0
    assert other["criticise"] is True and other["new_increments"] == 2  # new increments are criticised too
    assert site.client.get("/api/scoreboard", headers=site.as_user("county"),
                           params={"month": "2026-13"}).status_code == 422


def test_audit_chain_detects_edits_and_deletions(site: Site):
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    site.client.post(f"/api/cases/{cid}/comments", headers=site.as_user("officer1"), json={"text": "ok"})
    with site.db.factory() as s:
        assert verify_chain(s).ok and verify_chain(s).events == 8 + 3  # the scan's eight creations, then ours
    with site.db.factory.begin() as s:
        s.execute(text("UPDATE case_events SET actor = 'someone' WHERE id = 10"))
    with site.db.factory() as s:
        report = verify_chain(s)
    assert not report.ok and report.broken_event_id == 10 and "edited" in (report.reason or "")
    with site.db.factory.begin() as s:
        s.execute(text("UPDATE case_events SET actor = 'inspector1' WHERE id = 10"))
        s.execute(text("DELETE FROM case_events WHERE id = 11"))
    with site.db.factory() as s:
        report = verify_chain(s)
    assert not report.ok and report.broken_event_id == 11 and "missing" in (report.reason or "")
    with site.db.factory.begin() as s:
        s.execute(text("DELETE FROM case_events WHERE id = 5"))
    with site.db.factory() as s:
        report = verify_chain(s)
    assert not report.ok and report.broken_event_id == 6 and "missing" in (report.reason or "")


def test_a_photo_taken_at_the_house_passes_every_check(site: Site):
    from pyproj import Transformer

    from api.db.models import Case
    from api.db.repository import read_frame
    from tests.photo_factory import jpeg_with_exif

    cid = case_id(site, "A1")
    with site.db.factory() as s:
        house = read_frame(s, Case, where=[Case.id == cid]).geometry.iloc[0]
    c = house.centroid
    lon, lat = Transformer.from_crs(4546, 4326, always_xy=True).transform(c.x, c.y - 15)  # 15 m south
    taken = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(seconds=30)  # just now
    body = jpeg_with_exif(lat, lon, 0.0, taken)  # facing north, at the house
    r = upload(site, "inspector1", cid, kind="closeup", data=body)
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["checks"] == [] and photo["time_source"] == "exif_offset"
    assert photo["lat"] == pytest.approx(lat, abs=1e-5) and photo["bearing_deg"] == pytest.approx(0.0)
    facing_away = jpeg_with_exif(lat, lon, 180.0, taken, seed=9)
    assert upload(site, "inspector1", cid, data=facing_away).json()["checks"] == [
        "镜头朝向 180°，没有对着房屋（the camera faced 180°, away from the house）"]


def test_an_iphone_heic_photo_is_evidence_like_a_jpeg(site: Site):
    from pyproj import Transformer

    from api.db.models import Case
    from api.db.repository import read_frame
    from tests.photo_factory import heic_with_exif

    cid = case_id(site, "A1")
    with site.db.factory() as s:
        house = read_frame(s, Case, where=[Case.id == cid]).geometry.iloc[0]
    c = house.centroid
    lon, lat = Transformer.from_crs(4546, 4326, always_xy=True).transform(c.x, c.y - 15)
    taken = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(seconds=30)
    body = heic_with_exif(lat, lon, 0.0, taken)
    r = site.client.post(f"/api/cases/{cid}/photos", headers=site.as_user("inspector1"),
                         data={"client_uuid": str(uuid.uuid4()), "kind": "closeup"},
                         files={"file": ("IMG_0001.HEIC", body, "image/heic")})
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["checks"] == [] and photo["lat"] == pytest.approx(lat, abs=1e-5)
    original = site.client.get(photo["original_url"], headers=site.as_user("county"))
    assert original.content == body  # kept as shot
    thumb = site.client.get(photo["thumbnail_url"], headers=site.as_user("county"))
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"  # a JPEG thumbnail for the browser


def test_oversized_upload_is_refused_and_leaves_nothing(site: Site, tmp_path):
    cid = case_id(site, "A1")
    inspector = inspector1(site)
    from api.errors import TooLarge

    with fixture_path(*PHOTO).open("rb") as fh, pytest.raises(TooLarge):
        upload_photo(site.db.factory, inspector, cid, str(uuid.uuid4()), "panorama", fh, root=tmp_path / "store",
                     max_bytes=10_000)
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
    with site.db.factory() as s:
        assert s.execute(text("SELECT count(*) FROM photos")).scalar_one() == 0
