"""A case lifecycle that cannot be gamed, through the API on both databases: each hole of the lifecycle review
shown closed — the attempt refused with its reason, or the reopened / new case created."""

from __future__ import annotations

import datetime as dt
import io
import threading
import uuid
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
import shapely
from PIL import Image
from sqlalchemy import func, select

from api.cases.audit import verify_chain
from api.cases.deadlines import COUNTY_TZ
from api.cases.service import transition
from api.db.models import Case, Photo, User
from api.db.repository import read_frame
from api.errors import Conflict
from api.evidence.pixels import check_pending, check_pixels
from api.evidence.store import original_path
from api.ingest.layers import import_layer
from api.ingest.scan import scan
from api.reports.export import export_month
from api.settings import Settings
from gis.errors import RedlineInputError
from gis.evidence import UNDECODABLE
from gis.rules import MU_M2, RuleSet
from tests.conftest import Database, from_built
from tests.http.conftest import T1, Site, build_site, case_id, off_permanent_farmland, serving_site
from tests.http.test_workflow_api import act, answered_not_decoded, inspector1, photo_at, upload
from tests.photo_factory import damaged_jpeg, jpeg_at_house, jpeg_with_exif


def photos_of(site: Site, cid: int) -> dict[int, dict]:
    """The case's photos as a reviewer sees them now, by id."""
    detail = site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()
    return {p["id"]: p for p in detail["properties"]["photos"]}


def demolish_and_restore(site: Site, cid: int) -> None:
    """The township serves the notice and starts the demolition; the inspector records it and the restoration."""
    for user, action in (("officer1", "serve_notice"), ("officer1", "start_demolition"),
                         ("inspector1", "record_demolition"), ("inspector1", "restore")):
        act(site, user, cid, action)


def test_a_picture_not_yet_decoded_or_damaged_is_no_evidence_of_the_demolition(site: Site):
    """An upload is answered before its pixels are decoded (`api.evidence.pixels`): until they are, and if they
    turn out damaged, the photo shows nothing of the site and re-inspection does not count it."""
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    act(site, "officer1", cid, "assign", assignee="inspector1")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    demolish_and_restore(site, cid)
    damaged = upload(site, "inspector1", cid, data=damaged_jpeg(photo_at(site, cid, seed=6)))
    assert damaged.status_code == 201 and not damaged.json()["pixels_checked"]  # whole by its markers: accepted
    stored = photos_of(site, cid)[damaged.json()["id"]]  # then decoded: the picture is refused, the file kept
    assert stored["pixels_checked"] and UNDECODABLE in stored["checks"]
    assert site.client.get(stored["thumbnail_url"], headers=site.as_user("county")).status_code == 404
    assert site.client.get(stored["original_url"], headers=site.as_user("county")).status_code == 200
    refused = act(site, "inspector1", cid, "reinspect", expect=409)["error"]["message"]
    assert "0 without a position or too far from the house, 1 whose picture is not checked yet or is damaged" \
        in refused, refused
    # A photo answered and not yet decoded is no evidence to the workflow ...
    pending = answered_not_decoded(site, cid, seed=7)
    assert pending.pixels_checked_at is None
    with pytest.raises(Conflict, match="2 whose picture is not checked yet or is damaged"):
        transition(site.db.factory, inspector1(site), cid, "reinspect", {})
    # ... but an action sent right after its photos (the field app queues both at once) does not race the
    # decode: the transition decodes the case's waiting photos first.
    act(site, "inspector1", cid, "reinspect")
    assert photos_of(site, cid)[pending.id]["pixels_checked"]


def test_a_thumbnail_asked_for_before_the_decode_is_made_on_the_spot(site: Site):
    cid = case_id(site, "A1")
    pending = answered_not_decoded(site, cid, seed=9, kind="panorama")
    assert not photos_of(site, cid)[pending.id]["pixels_checked"]
    thumb = site.client.get(f"/api/photos/{pending.id}/thumbnail", headers=site.as_user("county"))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as img:
        assert 0 < max(img.size) <= 320
    assert photos_of(site, cid)[pending.id]["pixels_checked"]


def test_uploads_are_answered_while_the_decoding_thread_is_busy_and_decoded_in_order_after(
        site: Site, monkeypatch: pytest.MonkeyPatch):
    """The decodes run on the server's decoding thread (`PixelQueue`), not in the request's own cycle, where the
    next upload on the same connection (a phone sending its queue) waited for the last one's decode. With that
    thread held up, two uploads are still answered; their decodes follow, in order, once it is free. A queue
    closed by a stopping server leaves a photo pending for the next start rather than failing its upload."""
    from api.evidence import pixels

    decoding, release = threading.Event(), threading.Event()
    decoded: list[int] = []
    real = pixels.check_pixels_logged

    def held_up(factory, root, photo_id, policy=None):  # type: ignore[no-untyped-def]
        decoding.set()
        assert release.wait(60)
        real(factory, root, photo_id, policy)
        decoded.append(photo_id)

    monkeypatch.setattr(pixels, "check_pixels_logged", held_up)
    cid = case_id(site, "A1")
    answers: list = []
    phone = threading.Thread(target=lambda: answers.extend(
        upload(site, "inspector1", cid, kind="panorama", data=photo_at(site, cid, seed=seed), wait_for_decode=False)
        for seed in (11, 12)))
    phone.start()
    phone.join(timeout=60)
    try:
        assert decoding.wait(10), "no decode began on the decoding thread"
        assert not phone.is_alive(), "the uploads waited for the decode"
        assert [a.status_code for a in answers] == [201, 201] and not any(a.json()["pixels_checked"] for a in answers)
        assert not any(p["pixels_checked"] for p in photos_of(site, cid).values())
    finally:
        release.set()
    site.client.app.state.pixel_queue.wait_idle()
    ids = [a.json()["id"] for a in answers]
    assert decoded == ids  # in the order of the uploads
    assert all(photos_of(site, cid)[i]["pixels_checked"] for i in ids)

    site.client.app.state.pixel_queue.close()  # the server stopping
    late = answered_not_decoded(site, cid, seed=13, kind="panorama")
    site.client.app.state.pixel_queue.submit(late.id)  # not an error: left for the next start
    assert not photos_of(site, cid)[late.id]["pixels_checked"]
    assert check_pending(site.db.factory, site.client.app.state.settings.photo_dir) == 1


def test_photos_a_stopped_server_left_undecoded_are_decoded_at_the_next_start(db: Database, tmp_path: Path,
                                                                              request: pytest.FixtureRequest):
    village_code, centre = from_built(request, db, "site", build_site)
    with serving_site(db, tmp_path, village_code, centre) as site:
        site.client.app.state.pixel_queue.wait_idle()  # this start found nothing to decode
        cid = case_id(site, "A1")
        root = site.client.app.state.settings.photo_dir
        keys = [str(uuid.uuid4()) for _ in range(3)]
        for seed, key in enumerate(keys):  # stored and answered; then the server stops before decoding them
            answered_not_decoded(site, cid, seed, kind="panorama", client_uuid=key)
    with db.factory() as s:
        assert s.execute(select(func.count()).where(Photo.pixels_checked_at.is_(None))).scalar_one() == 3
    shutting_down = threading.Event()
    shutting_down.set()  # a server stopping (its queue closed) as it starts decoding leaves them to the next start
    assert check_pending(db.factory, root, stop=shutting_down) == 0
    with serving_site(db, tmp_path, village_code, centre) as site:  # the next start decodes them beside serving
        assert site.client.get("/health").status_code == 200
        site.client.app.state.pixel_queue.wait_idle()  # on the decoding thread, ahead of any new upload
        with db.factory() as s:
            photos = s.execute(select(Photo).where(Photo.client_uuid.in_(keys))).scalars().all()
        assert [p.pixels_checked_at is not None and p.phash is not None for p in photos] == [True] * 3
        for photo in photos:
            thumb = site.client.get(f"/api/photos/{photo.id}/thumbnail", headers=site.as_user("county"))
            assert thumb.status_code == 200


def test_a_photo_whose_original_is_missing_stays_unchecked_rather_than_flagged_damaged(site: Site):
    """A store not mounted (or a database restored without its files) is no damaged picture: the decode leaves
    the photo waiting, unflagged, for the file to come back."""
    cid = case_id(site, "A1")
    root = site.client.app.state.settings.photo_dir
    photo = answered_not_decoded(site, cid, seed=8, kind="panorama")
    original = original_path(root, photo.sha256)
    moved = original.rename(original.with_suffix(".away"))
    assert check_pixels(site.db.factory, root, photo.id) is False
    stored = photos_of(site, cid)[photo.id]
    assert not stored["pixels_checked"] and UNDECODABLE not in stored["checks"]
    moved.rename(original)
    assert check_pixels(site.db.factory, root, photo.id) is True
    assert photos_of(site, cid)[photo.id]["pixels_checked"]


def test_permanent_farmland_cannot_be_legalised_by_anyone(site: Site):
    """Nothing that leaves the house standing on permanent basic farmland: not a legal verdict for a house, not
    补办手续, not a fine, and not confiscation either. 土地管理法 第77条 confiscates a building only where it
    conforms to the land-use plan; on permanent basic farmland (第35条) it never does, so the house is demolished
    and the land restored. Before, confiscation closed such a case with the house still on the farmland."""
    increment, stock = case_id(site, "A1"), case_id(site, "A2")  # both wholly or partly on farmland
    act(site, "county", increment, "assign")
    act(site, "officer1", increment, "assign", assignee="inspector1")
    refused = act(site, "inspector1", increment, "verify", expect=409, verdict="legal",
                  legal_reason="approved_homestead")["error"]["message"]
    assert "100.00 m² of permanent basic farmland" in refused
    act(site, "county", stock, "assign")
    act(site, "inspector1", stock, "verify", verdict="illegal")
    for decision in ("legalise", "fine_keep", "confiscate"):
        refused = act(site, "officer1", stock, "classify", expect=409, decision=decision)["error"]["message"]
        assert "permanent basic farmland" in refused and "m²" in refused and "第77条" in refused
    assert act(site, "officer1", stock, "classify", decision="demolish")["status"] == "classified"
    act(site, "officer1", stock, "serve_notice")
    # A footprint that is no house (a rural road) or a farming facility allowed there can still be found legal.
    b3 = case_id(site, "B3")  # half on farmland
    act(site, "county", b3, "assign")
    act(site, "inspector2", b3, "verify", expect=409, verdict="legal", legal_reason="other")
    act(site, "inspector2", b3, "verify", verdict="legal", legal_reason="rural_road")


def test_a_confiscation_kept_on_permanent_farmland_before_the_fix_does_not_close_the_case(site: Site):
    """Until stop 35 a township could confiscate a stock house on permanent basic farmland and the case closed
    with the house standing. Such a decision, already in a county's database, is void in law (土地管理法 第35条、
    第77条): the county cannot pass it, the township cannot submit it, and the township classifies the case again —
    demolition only — from where it stands; the remaining area is the house again, as nothing was demolished."""
    cid = case_id(site, "A2")  # stock, on permanent basic farmland
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    act(site, "officer1", cid, "classify", decision="demolish")
    with site.db.factory.begin() as s:  # as the old code left it: confiscated, rectified and submitted
        case = s.get(Case, cid)
        case.decision, case.status, case.resume_status, case.remaining_m2 = "confiscate", "submitted", "rectified", 0.0
    refused = act(site, "county", cid, "pass_review", expect=409)["error"]["message"]
    assert "permanent basic farmland" in refused and "第77条" in refused
    act(site, "county", cid, "return", reason="没收不能保留永久基本农田上的房屋")
    assert props(site, cid)["status"] == "rectified"
    assert "classify it again" in act(site, "officer1", cid, "submit", expect=409)["error"]["message"]
    mine = site.client.get(f"/api/cases/{cid}", headers=site.as_user("officer1")).json()["properties"]
    assert "classify" in mine["allowed_actions"]
    act(site, "officer1", cid, "classify", expect=409, decision="fine_keep")
    again = act(site, "officer1", cid, "classify", decision="demolish")
    assert again["status"] == "classified"
    stored = props(site, cid)
    assert stored["decision"] == "demolish" and stored["remaining_m2"] == pytest.approx(stored["occupied_m2"])
    assert stored["remaining_m2"] > 0
    act(site, "officer1", cid, "serve_notice")


def test_a_case_the_county_returns_for_its_decision_is_classified_again(site: Site, tmp_path: Path):
    """A stock house off permanent farmland, kept for a fine; the county returns it: "应拆除" (it should be
    demolished). Before, the returned case stood `rectified` with only `submit` on offer — the same decision again,
    returned again, for ever. Now the township classifies it again; demolished, it is all to rectify once more."""
    cid = off_permanent_farmland(site, tmp_path)
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    act(site, "officer1", cid, "classify", decision="fine_keep")
    act(site, "officer1", cid, "classify", expect=409, decision="demolish")  # decided: not again unasked
    act(site, "officer1", cid, "rectify")
    act(site, "officer1", cid, "submit")
    act(site, "county", cid, "return", reason="占用耕地面积大，应拆除复耕")
    mine = site.client.get(f"/api/cases/{cid}", headers=site.as_user("officer1")).json()["properties"]
    assert mine["status"] == "rectified" and "classify" in mine["allowed_actions"]
    assert act(site, "officer1", cid, "classify", decision="demolish")["status"] == "classified"
    again = props(site, cid)
    assert again["decision"] == "demolish" and again["remaining_m2"] == pytest.approx(again["occupied_m2"])
    assert again["remaining_m2"] > 0
    act(site, "officer1", cid, "serve_notice")


def test_reinspection_needs_a_photo_taken_at_the_house_after_demolition(site: Site):
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign")
    act(site, "officer1", cid, "assign", assignee="inspector1")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    demolish_and_restore(site, cid)
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


def test_a_returned_case_is_back_on_the_137_clock(site: Site, tmp_path: Path):
    """Submitted on day 1, returned on day 2: three days later, with nothing resubmitted, it is overdue."""
    cid = off_permanent_farmland(site, tmp_path)  # stock, on cultivated land
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


def this_months_row(site: Site) -> dict:
    """Township T1's row of this month's scoreboard (the month in Asia/Shanghai), as the county sees it."""
    month = dt.datetime.now(dt.UTC).astimezone(COUNTY_TZ).strftime("%Y-%m")
    board = site.client.get("/api/scoreboard", headers=site.as_user("county"), params={"month": month}).json()
    return next(r for r in board["townships"] if r["township_code"] == T1)


def props(site: Site, cid: int) -> dict:
    return site.client.get(f"/api/cases/{cid}", headers=site.as_user("county")).json()["properties"]


def test_a_change_of_period_is_a_request_the_county_decides(site: Site):
    """An inspector alone cannot turn an increment into stock: the change is a request with a reason and
    evidence; until the county decides, the case keeps its period, disposition and deadlines."""
    cid = case_id(site, "A1")  # built 2021: increment, demolish
    act(site, "county", cid, "assign")
    act(site, "officer1", cid, "assign", assignee="inspector1")
    refused = act(site, "inspector1", cid, "verify", expect=409, verdict="illegal", period="before_cutoff")
    assert "is a request" in refused["error"]["message"]
    act(site, "inspector1", cid, "verify", verdict="uncertain")
    no_evidence = act(site, "inspector1", cid, "request_period", expect=409, period="before_cutoff",
                      reason="户主出示2019年购房合同")
    assert "evidence" in no_evidence["error"]["message"]
    other_case_photo = upload(site, "inspector1", case_id(site, "A2"), kind="detail", data=photo_at(site, cid, 7))
    foreign = act(site, "inspector1", cid, "request_period", expect=409, period="before_cutoff", reason="合同",
                  evidence=[other_case_photo.json()["id"]])
    assert "not a photo or document of this case" in foreign["error"]["message"]
    contract = upload(site, "inspector1", cid, kind="document", data=photo_at(site, cid, 8)).json()["id"]
    act(site, "inspector1", cid, "request_period", period="before_cutoff", reason="户主出示2019年购房合同",
        evidence=[contract])
    pending = props(site, cid)
    assert pending["period"] == "after_cutoff" and pending["disposition"] == "demolish"
    assert pending["period_request"]["period"] == "before_cutoff" and pending["period_request"]["evidence"] == [
        contract]
    assert "decide_period" in pending["allowed_actions"]  # on the county's desk
    seen = site.client.get(f"/api/cases/{cid}", headers=site.as_user("inspector1")).json()["properties"]
    assert "decide_period" not in seen["allowed_actions"] and "request_period" not in seen["allowed_actions"]
    act(site, "inspector1", cid, "decide_period", expect=409, approve=True, reason="同意")
    assert act(site, "officer1", cid, "submit", expect=409)["error"]["message"]
    act(site, "county", cid, "decide_period", approve=False, reason="合同日期与影像不符")
    assert props(site, cid)["period"] == "after_cutoff"
    act(site, "inspector1", cid, "request_period", period="before_cutoff", reason="补充税票", evidence=[contract])
    act(site, "county", cid, "decide_period", approve=True, reason="税票与合同一致，认定为存量")
    decided = props(site, cid)
    assert decided["period"] == "before_cutoff" and decided["disposition"] == "classify"
    actions = [e["action"] for e in decided["history"]]
    assert actions[-4:] == ["request_period", "decide_period", "request_period", "decide_period"]
    with site.db.factory() as s:
        assert verify_chain(s).ok


@pytest.mark.parametrize("rectified", [False, True], ids=["classified", "rectified"])
def test_a_kept_house_found_to_be_an_increment_goes_back_to_demolition(site: Site, tmp_path: Path,
                                                                        rectified: bool):
    """A stock house classified to be kept for a fine, then shown (a dated contract) to have been built after the
    cutoff: the county's approval of the change of period puts it on the zero-tolerance path. Before, the case
    kept its stock decision and state, so the township could still rectify and submit it, and the county pass
    it: an increment kept for a fine. Now the approval voids the decision and sends the case back to `verified`,
    from where the only way on is the demolition notice; all it occupies is to rectify again."""
    cid = off_permanent_farmland(site, tmp_path)
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    act(site, "officer1", cid, "classify", decision="fine_keep")
    if rectified:
        act(site, "officer1", cid, "rectify")
    contract = upload(site, "inspector1", cid, kind="document", data=photo_at(site, cid, 9)).json()["id"]
    act(site, "inspector1", cid, "request_period", period="after_cutoff", reason="合同显示2021年购地建房",
        evidence=[contract])
    decided = act(site, "county", cid, "decide_period", approve=True, reason="合同日期在截止日之后：增量")
    assert decided["status"] == "verified"
    case = props(site, cid)
    assert case["period"] == "after_cutoff" and case["disposition"] == "demolish" and case["decision"] is None
    assert case["remaining_m2"] == pytest.approx(case["occupied_m2"]) and case["remaining_m2"] > 0
    township = site.client.get(f"/api/cases/{cid}", headers=site.as_user("officer1")).json()["properties"]
    assert "serve_notice" in township["allowed_actions"] and "rectify" not in township["allowed_actions"]
    for action in ("rectify", "submit", "classify"):
        act(site, "officer1", cid, action, expect=409, decision="fine_keep")
    assert act(site, "officer1", cid, "serve_notice")["status"] == "notice_served"
    assert props(site, cid)["history"][-2]["action"] == "decide_period"


def test_an_unknown_period_may_be_established_as_increment_on_site(site: Site):
    cid = case_id(site, "A4")  # no declared date, no imagery: unknown
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal", period="after_cutoff")  # into zero tolerance
    assert props(site, cid)["period"] == "after_cutoff"


def test_a_stock_demolition_goes_the_whole_way_and_is_counted(site: Site):
    cid = case_id(site, "A2")  # stock
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    act(site, "officer1", cid, "classify", decision="demolish")
    assert "serve_notice" in act(site, "officer1", cid, "rectify", expect=409)["error"]["message"]
    demolish_and_restore(site, cid)
    assert upload(site, "inspector1", cid, data=photo_at(site, cid, 2)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "submit")
    assert act(site, "county", cid, "pass_review")["status"] == "closed"
    mine = this_months_row(site)
    occupied = props(site, cid)["footprint_m2"]  # wholly on farmland
    assert mine["restored_m2"] == pytest.approx(occupied) and mine["restored_mu"] == pytest.approx(occupied / MU_M2,
                                                                                                 abs=1e-4)


def test_filing_is_a_county_act_with_its_number_and_the_export_shows_it(site: Site, tmp_path):
    cid = case_id(site, "A1")
    act(site, "officer1", cid, "file", expect=409, file_number="桂阳自然资立〔2026〕1号")  # a county act
    assert "file_number" in act(site, "county", cid, "file", expect=409)["error"]["message"]
    act(site, "county", cid, "file", file_number="桂阳自然资立〔2026〕1号")
    assert "already" in act(site, "county", cid, "file", expect=409, file_number="x")["error"]["message"]
    month = dt.datetime.now(dt.UTC).astimezone(COUNTY_TZ).strftime("%Y-%m")
    with site.db.factory() as s:
        result = export_month(s, month, tmp_path / "out", Settings(database_url=site.db.url, var_dir=tmp_path))
    wb = openpyxl.load_workbook(next(p for p in result.files if p.suffix == ".xlsx"))
    header, *rows = list(wb["案件 Cases"].iter_rows(values_only=True))
    filed = {r[header.index("案件编号")]: (r[header.index("立案日期")], r[header.index("立案号")]) for r in rows}
    today = dt.datetime.now(dt.UTC).astimezone(COUNTY_TZ).date().isoformat()
    assert filed[props(site, cid)["code"]] == (today, "桂阳自然资立〔2026〕1号")
    assert filed[props(site, case_id(site, "A2"))["code"]] in (("", ""), (None, None))  # found, not filed


def _close_by_demolition(site: Site, cid: int) -> None:
    act(site, "county", cid, "assign")
    act(site, "officer1", cid, "assign", assignee="inspector1")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    demolish_and_restore(site, cid)
    assert upload(site, "inspector1", cid, data=photo_at(site, cid, 11)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "submit")
    act(site, "county", cid, "pass_review")


def test_a_sham_demolition_is_reopened_by_the_next_survey(site: Site, tmp_path):
    cid = case_id(site, "A1")
    _close_by_demolition(site, cid)
    scan(site.db.factory, RuleSet())  # the survey predates the demolition: nothing to contradict it yet
    assert props(site, cid)["status"] == "closed"
    import_layer(site.db.factory, "houses", tmp_path / "h.gpkg")  # the same file again: no new survey
    assert scan(site.db.factory, RuleSet()).reopened == 0 and props(site, cid)["status"] == "closed"
    survey = gpd.read_file(tmp_path / "h.gpkg").assign(survey="2026-12")  # a new survey: the house is still there
    survey.to_file(tmp_path / "survey.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "survey.gpkg")
    report = scan(site.db.factory, RuleSet())
    assert report.reopened == 1
    reopened = props(site, cid)
    assert reopened["status"] == "reopened" and reopened["remaining_m2"] == pytest.approx(100.0)
    assert reopened["history"][-1]["action"] == "reappeared" and reopened["history"][-1]["actor"] == "scan"
    assert reopened["allowed_actions"][0] == "assign"  # back with the township, to be worked again
    again = scan(site.db.factory, RuleSet())  # idempotent: reopened once
    assert again.reopened == 0
    assert this_months_row(site)["reopened"] == 1
    with site.db.factory() as s:
        assert verify_chain(s).ok


def test_a_survey_made_before_the_demolition_and_delivered_after_it_reopens_nothing(site: Site, tmp_path):
    """Surveys are delivered weeks after the fieldwork. A survey made last week shows the house, demolished (and
    recorded) today: no contradiction — the house stood last week. Before, the import's time stood for the survey
    and such a delivery reopened the case as a sham demolition, against the township, for a house that is gone.
    A survey made today proves nothing either way (the same day as the record); one made tomorrow is refused; a
    survey made after the record does reopen it."""
    cid = case_id(site, "A1")
    _close_by_demolition(site, cid)
    today = dt.datetime.now(dt.UTC).astimezone(COUNTY_TZ).date()
    houses = gpd.read_file(tmp_path / "h.gpkg")
    for n, day in enumerate((today - dt.timedelta(days=7), today)):
        houses.assign(survey=f"fieldwork-{n}").to_file(tmp_path / f"survey{n}.gpkg")
        import_layer(site.db.factory, "houses", tmp_path / f"survey{n}.gpkg", surveyed_on=day)
        assert scan(site.db.factory, RuleSet()).reopened == 0
        assert props(site, cid)["status"] == "closed"
    houses.assign(survey="fieldwork-2").to_file(tmp_path / "survey2.gpkg")
    with pytest.raises(RedlineInputError, match="in the future"):
        import_layer(site.db.factory, "houses", tmp_path / "survey2.gpkg", surveyed_on=today + dt.timedelta(days=2))
    with pytest.raises(RedlineInputError, match="houses survey only"):
        import_layer(site.db.factory, "farmland", tmp_path / "f.gpkg", surveyed_on=today)
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # the clock a day on: the survey made "today"
    import_layer(site.db.factory, "houses", tmp_path / "survey2.gpkg",
                 surveyed_on=tomorrow.astimezone(COUNTY_TZ).date(), now=tomorrow)
    assert scan(site.db.factory, RuleSet()).reopened == 1
    assert props(site, cid)["status"] == "reopened"


def test_a_house_demolished_and_gone_from_the_next_survey_is_not_reopened(site: Site, tmp_path):
    """Houses are never deleted by an import: a house missing from a new survey keeps its row. Before, any houses
    import after a demolition was recorded — a new survey without the house, or another township's file —
    reopened the case as a sham demolition (假拆除), because the house's old row still showed it violating.
    Only a survey that contains the house is evidence that it still stands."""
    cid = case_id(site, "A1")
    _close_by_demolition(site, cid)
    houses = gpd.read_file(tmp_path / "h.gpkg")
    houses[houses["id"] != "A1"].assign(survey="2026-12").to_file(tmp_path / "without_a1.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "without_a1.gpkg")  # the township's new survey: A1 is gone
    assert scan(site.db.factory, RuleSet()).reopened == 0
    assert props(site, cid)["status"] == "closed"
    other = houses[houses["id"].str.startswith("B")].assign(survey="2026-12")  # another township's survey
    other.to_file(tmp_path / "other_township.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "other_township.gpkg")
    assert scan(site.db.factory, RuleSet()).reopened == 0
    assert props(site, cid)["status"] == "closed"


def imaged_without_its_wing(site: Site, folder: Path, cid: int) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Make the case's house an extension: a baseline footprint imaged at the cutoff without its 5 m east wing, then
    a scan. Returns the house and its old part (county CRS)."""
    with site.db.factory() as s:
        house = read_frame(s, Case, where=[Case.id == cid]).geometry.iloc[0]
    minx, miny, maxx, maxy = house.bounds
    old = shapely.box(minx, miny, maxx - 5, maxy)
    gpd.GeoDataFrame({"id": ["BL1"], "imaged_on": ["2020-07-01"]}, geometry=[old], crs=4546
                     ).to_file(folder / "baseline.gpkg")
    import_layer(site.db.factory, "baseline", folder / "baseline.gpkg")
    scan(site.db.factory, RuleSet())
    return house, old


def wing_demolished(site: Site, folder: Path, cid: int) -> tuple[shapely.Geometry, shapely.Geometry]:
    """`imaged_without_its_wing`, then the increment path for the wing: verified illegal, the notice served, the
    wing demolished and its land restored. Returns the house and its old part."""
    house, old = imaged_without_its_wing(site, folder, cid)
    assert props(site, cid)["period"] == "extended_after_cutoff"
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    demolish_and_restore(site, cid)
    return house, old


def test_an_extension_whose_new_part_was_demolished_is_not_reopened_for_its_old_part(site: Site, tmp_path):
    """An extension's demolition removes its new part; the old part stays (classified). The next survey shows
    the house without the wing, still on the farmland: that is the old part, not a sham demolition. Before, the
    scan reopened the case because the house was still there; only the new part standing again reopens it."""
    cid = off_permanent_farmland(site, tmp_path)  # 15 m × 12 m, declared 2019, on cultivated land
    house, old = wing_demolished(site, tmp_path, cid)
    _, miny, _, maxy = house.bounds
    # The month's 拆除复耕 area is the wing that was demolished, not the whole house (before: all 180 m²).
    mine = this_months_row(site)
    assert mine["restored_m2"] == pytest.approx(5 * (maxy - miny), abs=0.01)
    assert upload(site, "inspector1", cid, data=photo_at(site, cid, 13)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "classify", decision="confiscate")
    act(site, "officer1", cid, "rectify")
    act(site, "officer1", cid, "submit")
    assert act(site, "county", cid, "pass_review")["status"] == "closed"
    houses = gpd.read_file(tmp_path / "h.gpkg")
    houses.loc[houses["id"] == "A2", "geometry"] = old  # the wing is gone; the old part stands
    houses.assign(survey="2027-01").to_file(tmp_path / "without_wing.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "without_wing.gpkg")
    assert scan(site.db.factory, RuleSet()).reopened == 0
    assert props(site, cid)["status"] == "closed"
    houses.loc[houses["id"] == "A2", "geometry"] = house  # the wing again
    houses.assign(survey="2027-02").to_file(tmp_path / "with_wing.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "with_wing.gpkg")
    assert scan(site.db.factory, RuleSet()).reopened == 1
    assert props(site, cid)["status"] == "reopened"


def test_an_extension_whose_old_part_is_demolished_too_closes(site: Site, tmp_path):
    """An extension on permanent basic farmland: the new part is demolished (zero tolerance), then the old part
    is classified — demolition is the only decision there — and demolished in turn. The second restoration leaves
    nothing: the case is submitted and closed. Before, every restoration of an extension left its old part as the
    remaining area, so the submit asked for the old part to be classified again, and again: the case could never
    close (and the month's restored area counted the wing twice)."""
    cid = case_id(site, "A2")  # 15 m × 12 m, declared 2019, on permanent basic farmland
    house, old = wing_demolished(site, tmp_path, cid)
    _, miny, _, maxy = house.bounds
    old_part = props(site, cid)["remaining_m2"]
    assert old_part == pytest.approx(10 * (maxy - miny), abs=0.01)
    assert upload(site, "inspector1", cid, data=photo_at(site, cid, 16)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "classify", expect=409, decision="confiscate")
    act(site, "officer1", cid, "classify", decision="demolish")
    demolish_and_restore(site, cid)
    assert props(site, cid)["remaining_m2"] == 0
    assert upload(site, "inspector1", cid, data=photo_at(site, cid, 17)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "submit")
    assert act(site, "county", cid, "pass_review")["status"] == "closed"
    mine = this_months_row(site)
    assert mine["restored_m2"] == pytest.approx(15 * (maxy - miny), abs=0.01)  # the wing, then the old part
    # Ordered demolished whole, the house is contradicted by its old part standing in a later survey: reopened,
    # its decision void, to go the whole path once more.
    houses = gpd.read_file(tmp_path / "h.gpkg")
    houses.loc[houses["id"] == "A2", "geometry"] = old
    houses.assign(survey="2027-03").to_file(tmp_path / "old_part_standing.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "old_part_standing.gpkg")
    assert scan(site.db.factory, RuleSet()).reopened == 1
    reopened = props(site, cid)
    assert reopened["status"] == "reopened" and reopened["decision"] is None
    assert reopened["history"][-1]["action"] == "reappeared"


def test_an_extensions_two_restorations_count_each_in_its_own_month(site: Site, tmp_path):
    """The wing demolished and its land restored last month, the old part (classified `demolish`) this month: last
    month's 拆除复耕 area is the wing, this month's the old part. Before, only a case's first restoration counted,
    so the old part's land was never counted in any month."""
    cid = case_id(site, "A2")  # on permanent basic farmland: the old part can only be demolished
    house, _old = imaged_without_its_wing(site, tmp_path, cid)
    _, miny, _, maxy = house.bounds
    with site.db.factory() as s:
        users = {u.username: u for u in s.execute(select(User)).scalars()}
        for u in users.values():
            s.expunge(u)
    this_month = dt.datetime.now(dt.UTC).astimezone(COUNTY_TZ).replace(day=1, hour=12, minute=0, second=0)
    last_month = (this_month - dt.timedelta(days=3)).astimezone(dt.UTC)  # three days before the 1st, county time
    with site.db.factory.begin() as s:  # found before then (the site's scan ran just now)
        s.get(Case, cid).created_at = last_month - dt.timedelta(days=1)
    for k, (who, action, payload) in enumerate((
            ("county", "assign", {}), ("inspector1", "verify", {"verdict": "illegal"}),
            ("officer1", "serve_notice", {}), ("officer1", "start_demolition", {}),
            ("inspector1", "record_demolition", {}), ("inspector1", "restore", {}))):
        transition(site.db.factory, users[who], cid, action, payload, now=last_month + dt.timedelta(minutes=k))
    assert upload(site, "inspector1", cid, data=photo_at(site, cid, 18)).status_code == 201
    act(site, "inspector1", cid, "reinspect")
    act(site, "officer1", cid, "classify", decision="demolish")
    demolish_and_restore(site, cid)

    def restored(month: dt.datetime) -> float:
        board = site.client.get("/api/scoreboard", headers=site.as_user("county"),
                                params={"month": month.astimezone(COUNTY_TZ).strftime("%Y-%m")}).json()
        return next(r for r in board["townships"] if r["township_code"] == T1)["restored_m2"]

    assert restored(last_month) == pytest.approx(5 * (maxy - miny), abs=0.01)  # the wing
    assert restored(this_month) == pytest.approx(10 * (maxy - miny), abs=0.01)  # the old part


def test_a_closed_stock_house_that_grew_gets_an_increment_case_and_an_extension_goes_both_ways(site: Site,
                                                                                               tmp_path):
    cid = off_permanent_farmland(site, tmp_path)  # stock: 15 m × 12 m, built 2019, on cultivated land
    with site.db.factory() as s:
        house = read_frame(s, Case, where=[Case.id == cid]).geometry.iloc[0]
    gpd.GeoDataFrame({"id": ["BL1"], "imaged_on": ["2020-07-01"]}, geometry=[house], crs=4546
                     ).to_file(tmp_path / "baseline.gpkg")
    import_layer(site.db.factory, "baseline", tmp_path / "baseline.gpkg")
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    act(site, "officer1", cid, "classify", decision="confiscate")
    act(site, "officer1", cid, "rectify")
    act(site, "officer1", cid, "submit")
    act(site, "county", cid, "pass_review")
    # The owner adds a 5 m wing after the case closed; the next survey shows it.
    houses = gpd.read_file(tmp_path / "h.gpkg")
    _minx, miny, maxx, maxy = house.bounds
    grown = shapely.union(house, shapely.box(maxx, miny, maxx + 5, maxy))
    houses.loc[houses["id"] == "A2", "geometry"] = grown
    houses.to_file(tmp_path / "h2.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "h2.gpkg")
    assert scan(site.db.factory, RuleSet()).grown == 1
    assert scan(site.db.factory, RuleSet()).grown == 0  # once per closed case
    items = site.client.get("/api/cases", headers=site.as_user("county")).json()["items"]
    growth = next(i for i in items if i["code"].endswith("-A2-G1"))
    g = props(site, growth["id"])
    assert g["period"] == "extended_after_cutoff" and g["disposition"] == "demolish" and g["status"] == "new"
    new_part = 5 * (maxy - miny)
    assert g["unapproved_after_cutoff_m2"] == pytest.approx(new_part, abs=0.01)
    assert g["remaining_m2"] == pytest.approx(new_part, abs=0.01)  # the new part first
    assert g["new_part_m2"] == pytest.approx(new_part, abs=0.01) and g["parent_case_id"] == cid
    assert g["old_part_m2"] == pytest.approx(g["occupied_m2"] - new_part, abs=0.01)
    with site.db.factory() as s:
        assert s.get(Case, growth["id"]).parent_case_id == cid
    # The extension: the new part is demolished; then the old part is classified.
    gid = growth["id"]
    act(site, "county", gid, "assign")
    act(site, "inspector1", gid, "verify", verdict="illegal")
    demolish_and_restore(site, gid)
    old_part = g["occupied_m2"] - new_part
    assert props(site, gid)["remaining_m2"] == pytest.approx(old_part, abs=0.01)
    assert upload(site, "inspector1", gid, data=photo_at(site, gid, 12)).status_code == 201
    act(site, "inspector1", gid, "reinspect")
    assert "classified next" in act(site, "officer1", gid, "submit", expect=409)["error"]["message"]
    # A progress report cannot stand in for the classification: it cannot put the old part's remaining area at 0
    # (before stop 39 it could, though the case still refused to be submitted with the old part undecided).
    reported = site.client.post(f"/api/cases/{gid}/progress-reports", headers=site.as_user("officer1"),
                                json={"text": "旧房部分无需处理", "remaining_m2": 0.0})
    assert reported.status_code == 409 and "报为 0" in reported.json()["error"]["message_zh"]
    assert props(site, gid)["remaining_m2"] == pytest.approx(old_part, abs=0.01)
    assert "classified next" in act(site, "officer1", gid, "submit", expect=409)["error"]["message"]
    act(site, "officer1", gid, "classify", decision="confiscate")
    act(site, "officer1", gid, "rectify")
    act(site, "officer1", gid, "submit")
    assert act(site, "county", gid, "pass_review")["status"] == "closed"
    # Zero tolerance does not end with the growth case either. A survey without the wing: nothing to reopen.
    houses.loc[houses["id"] == "A2", "geometry"] = house
    houses.assign(survey="2027-01").to_file(tmp_path / "h3.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "h3.gpkg")
    report = scan(site.db.factory, RuleSet())
    assert (report.reopened, report.grown) == (0, 0) and props(site, gid)["status"] == "closed"
    # The wing again in the next survey (never demolished, or built anew): the growth case is reopened, its new
    # part to be demolished once more. Before, it was never looked at again: one case per closed stock case.
    houses.loc[houses["id"] == "A2", "geometry"] = grown
    houses.assign(survey="2027-02").to_file(tmp_path / "h4.gpkg")
    import_layer(site.db.factory, "houses", tmp_path / "h4.gpkg")
    report = scan(site.db.factory, RuleSet())
    assert (report.reopened, report.grown) == (1, 0)
    again = props(site, gid)
    assert again["status"] == "reopened" and again["remaining_m2"] == pytest.approx(new_part, abs=0.01)
    assert again["history"][-1]["action"] == "reappeared" and props(site, cid)["status"] == "closed"
    assert scan(site.db.factory, RuleSet()).reopened == 0  # once


def pdf_document(text: str = "购房合同 2019") -> bytes:
    """A real one-page PDF (Pillow's writer): what a scanned contract or tax receipt arrives as."""
    import io

    from PIL import Image, ImageDraw

    page = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(page).text((20, 90), text.encode("ascii", "replace").decode(), fill="black")
    out = io.BytesIO()
    page.save(out, "PDF", resolution=72)
    return out.getvalue()


def test_a_pdf_document_is_evidence_for_a_change_of_period(site: Site):
    cid = case_id(site, "A2")
    pdf = pdf_document()
    as_photo = upload(site, "inspector1", cid, kind="panorama", data=pdf, name="contract.pdf")
    assert as_photo.status_code == 415 and "only as kind document" in as_photo.json()["error"]["message"]
    cut = upload(site, "inspector1", cid, kind="document", data=pdf[: len(pdf) // 2], name="contract.pdf")
    assert cut.status_code == 415 and "not a complete PDF" in cut.json()["error"]["message"]
    doc = upload(site, "inspector1", cid, kind="document", data=pdf, name="contract.pdf")
    assert doc.status_code == 201, doc.text
    body = doc.json()
    assert body["media_type"] == "application/pdf" and body["checks"] == []
    original = site.client.get(body["original_url"], headers=site.as_user("county"))
    assert original.content == pdf and original.headers["content-disposition"].startswith("attachment")
    assert site.client.get(body["thumbnail_url"], headers=site.as_user("county")).status_code == 404
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "request_period", period="after_cutoff", reason="合同显示2021年购地建房",
        evidence=[body["id"]])
    act(site, "county", cid, "decide_period", approve=True, reason="合同日期在截止日之后：增量")
    assert props(site, cid)["period"] == "after_cutoff" and props(site, cid)["disposition"] == "demolish"


def test_an_extension_found_to_be_all_stock_has_all_it_occupies_to_rectify(site: Site, tmp_path: Path):
    """An extension's wing shown (a dated receipt) to predate the cutoff: the county approves the change to stock
    after the on-site verdict. The case is now stock to classify as a whole, so all it occupies remains to be
    rectified. Before, a verified case kept the wing's area alone as its remaining area, and the month's
    remaining figure understated it until the case was rectified."""
    cid = case_id(site, "A2")
    imaged_without_its_wing(site, tmp_path, cid)
    case = props(site, cid)
    assert case["period"] == "extended_after_cutoff" and case["remaining_m2"] < case["occupied_m2"]
    act(site, "county", cid, "assign")
    act(site, "inspector1", cid, "verify", verdict="illegal")
    receipt = upload(site, "inspector1", cid, kind="document", data=photo_at(site, cid, 14)).json()["id"]
    act(site, "inspector1", cid, "request_period", period="before_cutoff", reason="2019年完税凭证含扩建部分",
        evidence=[receipt])
    act(site, "county", cid, "decide_period", approve=True, reason="凭证与影像一致")
    decided = props(site, cid)
    assert decided["period"] == "before_cutoff" and decided["status"] == "verified"
    assert decided["remaining_m2"] == pytest.approx(decided["occupied_m2"])


def test_the_scan_does_not_undo_the_countys_decision_on_a_new_case(site: Site):
    """A township officer asks, with a dated contract, that a case still new be stock; the county approves. The
    houses file still says 2021, so the next scan measured an increment and put the case back into zero
    tolerance at once — undoing the county's decision without a word, at every scan. A period the county
    decided is the county's: the scan leaves it (and its measures) until the county decides again."""
    cid = case_id(site, "A1")  # built 2021: an increment, new
    contract = upload(site, "officer1", cid, kind="document", data=photo_at(site, cid, 15)).json()["id"]
    act(site, "officer1", cid, "request_period", period="before_cutoff", reason="2019年购房合同及完税凭证",
        evidence=[contract])
    act(site, "county", cid, "decide_period", approve=True, reason="合同与完税凭证一致，认定为存量")
    decided = props(site, cid)
    assert (decided["period"], decided["disposition"], decided["status"]) == ("before_cutoff", "classify", "new")
    for _ in range(2):
        report = scan(site.db.factory, RuleSet())
        assert report.period_requests == 0
        again = props(site, cid)
        assert (again["period"], again["disposition"]) == ("before_cutoff", "classify")
    assert [e["action"] for e in again["history"]][-1] == "decide_period"  # the scan wrote nothing on it
