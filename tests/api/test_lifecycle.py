"""A case lifecycle that cannot be gamed, through the API on both databases (issue: lifecycle).

Covered here: permanent basic farmland cannot be legalised or kept; re-inspection needs a photo *taken* at
the house after the demolition was recorded; a returned case is back on the 137 clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from api.cases import transition
from api.models import Case, User
from api.repository import read_frame
from tests.api.conftest import Site, case_id
from tests.api.test_workflow_api import act, photo_at, upload
from tests.photo_factory import jpeg_at_house, jpeg_with_exif


def test_permanent_farmland_cannot_be_legalised_by_anyone(site: Site):
    increment, stock = case_id(site, "A1"), case_id(site, "A2")  # both wholly or partly on farmland
    act(site, "county", increment, "assign")
    act(site, "officer1", increment, "assign", assignee="inspector1")
    refused = act(site, "inspector1", increment, "verify", expect=409, verdict="legal",
                  legal_reason="approved_homestead")["error"]["message"]
    assert "100.00 m² of permanent basic farmland" in refused
    act(site, "county", stock, "assign")
    act(site, "inspector1", stock, "verify", verdict="illegal")
    for decision in ("legalise", "fine_keep"):
        refused = act(site, "officer1", stock, "classify", expect=409, decision=decision)["error"]["message"]
        assert "permanent basic farmland" in refused and "m²" in refused
    act(site, "officer1", stock, "classify", decision="confiscate")  # taking the house off the land is allowed
    # A footprint that is no house (a rural road) or a farming facility allowed there can still be found legal.
    b3 = case_id(site, "B3")  # half on farmland
    act(site, "county", b3, "assign")
    act(site, "inspector2", b3, "verify", expect=409, verdict="legal", legal_reason="other")
    act(site, "inspector2", b3, "verify", verdict="legal", legal_reason="rural_road")


def test_reinspection_needs_a_photo_taken_at_the_house_after_demolition(site: Site):
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    act(site, "officer1", cid, "assign", assignee="inspector1")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    for user, action in (("officer1", "serve_notice"), ("officer1", "start_demolition"),
                         ("inspector1", "record_demolition"), ("inspector1", "restore")):
        act(site, user, cid, action)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    elsewhere = jpeg_with_exif(39.98, 116.37, 0.0, now, seed=3)  # Beijing, taken just now
    assert upload(site, "inspector1", cid, data=elsewhere).status_code == 201
    refused = act(site, "inspector1", cid, "reinspect", expect=409)["error"]["message"]
    assert "1 without a position or too far from the house" in refused
    with site.db.factory() as s:
        house = read_frame(s, Case, where=[Case.id == cid]).geometry.iloc[0]
    yesterday = jpeg_at_house(house, dt.datetime.now(dt.UTC) - dt.timedelta(days=1), seed=5)  # at the house,
    assert upload(site, "inspector1", cid, data=yesterday).status_code == 201  # but before the demolition
    refused = act(site, "inspector1", cid, "reinspect", expect=409)["error"]["message"]
    assert "1 taken before it" in refused and "Asia/Shanghai" in refused
    assert upload(site, "inspector1", cid, data=photo_at(site, cid, seed=4)).status_code == 201
    act(site, "inspector1", cid, "reinspect")  # a photo taken at the house just now counts
    history = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]["history"]
    assert history[-1]["action"] == "reinspect"


def test_a_returned_case_is_back_on_the_137_clock(site: Site):
    """Submitted on day 1, returned on day 2: three days later, with nothing resubmitted, it is overdue."""
    cid = case_id(site, "A2")  # stock, on farmland
    with site.db.factory() as s:
        users = {u.username: u for u in s.execute(select(User)).scalars()}
        for u in users.values():
            s.expunge(u)
    day = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)

    def at(d: int) -> dt.datetime:
        return day + dt.timedelta(days=d)

    for who, action, payload, when in (
            ("county", "assign", {}, at(0)), ("inspector1", "verify", {"verdict": "illegal"}, at(0)),
            ("officer1", "classify", {"decision": "confiscate"}, at(0)), ("officer1", "rectify", {}, at(1)),
            ("officer1", "submit", {}, at(1))):
        transition(site.db.factory, users[who], cid, action, payload, now=when)
    submitted = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert submitted["overdue"] is False and submitted["next_deadline"] is None  # finished in time
    transition(site.db.factory, users["county"], cid, "return", {"reason": "没收手续不全"}, now=at(2))
    returned = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert returned["status"] == "rectified"
    assert returned["overdue"] is True  # finish was due 3 days after the return, 5 days ago
    assert [e["action"] for e in returned["history"]][-2:] == ["submit", "return"]
    overdue = site.client.get("/api/cases", params={"overdue": "true"}, headers=site.as_user("county")).json()
    assert cid in [i["id"] for i in overdue["items"]]
    transition(site.db.factory, users["officer1"], cid, "submit", {}, now=dt.datetime.now(dt.UTC))
    again = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]
    assert again["overdue"] is False  # the new round is finished (late: on_time says so)
    assert again["on_time"] is False
