"""田长制 and abandoned land over HTTP: grids, chiefs and their inbox, patrols and findings (sent by the field app
when it has a network; the same client UUID again returns the same record), abandoned-land records with their
workflow and photos."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.accounts.roles import Role
from api.clock import as_utc
from api.errors import Forbidden, InvalidQuery, Message
from api.evidence.upload import canonical_uuid
from api.http.deps import FactoryDep, RowId, SessionDep, SettingsDep
from api.http.geojson import feature_collection, parse_bbox
from api.http.identity import CurrentUser
from api.http.uploads import photo_upload
from api.reports.monthly import check_report_month
from api.stewardship.abandoned import (
    Locate,
    act_on_record,
    finding_subject,
    land_photo_file,
    record_subject,
    report_abandoned,
    upload_land_photo,
)
from api.stewardship.chiefs import assign_chief
from api.stewardship.duty import inbox
from api.stewardship.handling import finding_state, handle_finding, reopen_finding
from api.stewardship.patrols import record_finding, record_patrol
from api.stewardship.queries import (
    chief_coverage,
    chief_list,
    findings_to_handle,
    grid_layer,
    my_findings,
    patrol_layer,
    record_detail,
    record_layer,
)
from api.stewardship.workflow import FINDING_PHOTO, OUTCOME_NAMES, RECORD_PHOTO_KINDS

router = APIRouter(prefix="/api", tags=["stewardship"])
Text = Annotated[str, Field(max_length=2000)]


@router.get("/grids")
def get_grids(session: SessionDep, user: CurrentUser, settings: SettingsDep,
              bbox: Annotated[str | None, Query(max_length=200, description="minlon,minlat,maxlon,maxlat")] = None
              ) -> dict[str, Any]:
    """Grid cells (GeoJSON, EPSG:4326) with `patrolled`: covered by a patrol this month."""
    box = parse_bbox(bbox, settings.srid) if bbox else None
    return feature_collection(grid_layer(session, user, box))


class ChiefIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: str = Field(max_length=10, examples=["village"])
    area_code: str = Field(max_length=20, examples=["431021101201"])
    username: str = Field(max_length=150, examples=["wang"])


@router.get("/chiefs")
def get_chiefs(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The field chiefs in post (township roles: their township's)."""
    return chief_list(session, user)


@router.get("/chiefs/coverage")
def get_chief_coverage(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Per township: villages with permanent farmland, those with a village chief in post, and the farmland of
    the villages without one (m², 亩), named (township roles: their township's)."""
    return chief_coverage(session, user)


@router.post("/chiefs", status_code=201)
def post_chief(factory: FactoryDep, user: CurrentUser, body: ChiefIn) -> dict[str, Any]:
    """Name the chief of an area (admins only); the previous chief of that area and level steps down."""
    if user.role != Role.ADMIN:
        raise Forbidden(Message("只有管理员可以任命田长", "only an admin names field chiefs"))
    with factory.begin() as session:
        chief = assign_chief(session, body.level, body.area_code, body.username, by=user.username)
        return {"id": chief.id, "level": chief.level, "area_code": chief.area_code, "username": body.username}


@router.get("/chief/inbox")
def get_inbox(session: SessionDep, user: CurrentUser, settings: SettingsDep) -> dict[str, Any]:
    """What each of my chief posts answers for now: open and overdue cases, open abandoned land and overdue
    remedies, patrol findings left to a person, my patrols this month against what the level owes."""
    return {"username": user.username, "posts": inbox(session, user, settings.deadline_policy, settings.patrol_duty)}


class PatrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_uuid: str = Field(max_length=64)
    started_at: dt.datetime
    ended_at: dt.datetime
    #: [lon, lat] or [lon, lat, seconds since start] on WGS 84, in the order walked.
    points: list[Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=2, max_length=4)]] \
        = Field(min_length=2, max_length=20_000)


@router.post("/patrols", status_code=201)
def post_patrol(factory: FactoryDep, user: CurrentUser, settings: SettingsDep, body: PatrolIn) -> dict[str, Any]:
    """A patrol's GPS track; the grid cells it covered are worked out here. Idempotent by `client_uuid`."""
    patrol = record_patrol(factory, user, body.client_uuid, as_utc(body.started_at), as_utc(body.ended_at),
                           body.points, settings.coverage_rules)
    return {"id": patrol.id, "client_uuid": patrol.client_uuid, "length_m": round(patrol.length_m, 1)}


@router.get("/patrols")
def get_patrols(session: SessionDep, user: CurrentUser,
                month: Annotated[str, Query(max_length=7, description="YYYY-MM")]) -> dict[str, Any]:
    """The month's patrol tracks (GeoJSON lines): an inspector's own, a township's, or the county's."""
    return feature_collection(patrol_layer(session, user, check_report_month(month)))


class FindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_uuid: str = Field(max_length=64)
    patrol_uuid: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=20, examples=["abandoned"])
    note: Text | None = None
    cause: str = Field(default="other", max_length=20)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    at: dt.datetime


@router.post("/findings", status_code=201)
def post_finding(factory: FactoryDep, user: CurrentUser, settings: SettingsDep, body: FindingIn) -> dict[str, Any]:
    """A finding on patrol; says what it became (a case, an abandoned-land record, noted). Idempotent."""
    finding = record_finding(factory, user, body.client_uuid, body.kind, body.lat, body.lon, as_utc(body.at),
                             settings.rules, note=body.note, patrol_uuid=body.patrol_uuid, cause=body.cause,
                             compare_rules=settings.compare_rules)
    return {"id": finding.id, "client_uuid": finding.client_uuid, "kind": finding.kind, "outcome": finding.outcome,
            "outcome_name": OUTCOME_NAMES[finding.outcome], "case_id": finding.case_id,
            "abandoned_id": finding.abandoned_id}


@router.get("/findings")
def get_findings(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Patrol findings left to a person — noted for the township, a new building no footprint shows yet, a closed
    case's house built on again — until handled, and those handled in the last 30 days (with what was done), in
    the user's scope (the county's roles: all; township roles: their township's; an inspector: their own and those
    in the areas they are chief of), newest first, each with its handlings and reopenings in order. `may_handle`:
    the user may say it is handled; `may_reopen`: the user (the county) may send a handled one back."""
    return findings_to_handle(session, user)


@router.get("/findings/mine")
def get_my_findings(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The caller's own patrol findings of the last 30 days, whatever became of each (its outcome, its case, its
    handlings and reopenings), newest first: the phone learns what followed a finding it sent."""
    return my_findings(session, user)


class FindingNoteIn(BaseModel):
    """What was done about a finding, or why the county sends it back."""

    model_config = ConfigDict(extra="forbid")
    note: Text = Field(examples=["已责令三日内清除建材，复耕", "复核：现场建材仍在，退回乡镇重办"])


@router.post("/findings/{finding_uuid}/handle")
def post_finding_handled(factory: FactoryDep, user: CurrentUser, body: FindingNoteIn,
                         finding_uuid: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    """Say what was done about a finding left to a person (township or county): it leaves the to-do lists and
    counts, and is listed as handled, with the note and the name, for 30 days. Once while it stands handled (409
    after)."""
    return finding_state(handle_finding(factory, user, finding_uuid, body.note))


@router.post("/findings/{finding_uuid}/reopen")
def post_finding_reopened(factory: FactoryDep, user: CurrentUser, body: FindingNoteIn,
                          finding_uuid: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    """Send a handled finding back (the county, saying why): it is listed and counted again until handled again;
    the handling it undoes stays on the finding's record. 409 if it is not handled; 403 for other roles."""
    finding = reopen_finding(factory, user, finding_uuid, body.note)
    return {**finding_state(finding), "reopened_by": user.username, "reopened_note": body.note.strip()}


@router.get("/abandoned")
def get_abandoned(session: SessionDep, user: CurrentUser,
                  status: Annotated[str | None, Query(max_length=20)] = None) -> dict[str, Any]:
    """Abandoned-land records in scope (GeoJSON), with their state and whether the remedy is overdue."""
    return feature_collection(record_layer(session, user, status))


class AbandonedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    #: Or the abandoned part drawn: a GeoJSON Polygon on WGS 84.
    geometry: dict[str, Any] | None = None
    cause: str = Field(max_length=20, examples=["no_labour"])
    seen_on: dt.date
    note: Text | None = None


@router.post("/abandoned", status_code=201)
def post_abandoned(factory: FactoryDep, user: CurrentUser, body: AbandonedIn) -> dict[str, Any]:
    """Record abandoned land: a point (its whole cultivated parcel) or a drawn part of one."""
    if body.geometry is not None:
        try:
            geom = shapely.geometry.shape(body.geometry)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidQuery("geometry: not a GeoJSON polygon") from exc
        if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
            raise InvalidQuery("geometry: not a valid GeoJSON polygon")
    elif body.lat is not None and body.lon is not None:
        geom = shapely.Point(body.lon, body.lat)
    else:
        raise InvalidQuery("give lat and lon, or a geometry")
    record = report_abandoned(factory, user, geom, cause=body.cause, seen_on=body.seen_on, note=body.note)
    return {"id": record.id, "code": record.code, "area_m2": round(record.area_m2, 2), "status": record.status}


@router.get("/abandoned/{record_id}")
def get_one_abandoned(session: SessionDep, user: CurrentUser, record_id: RowId) -> dict[str, Any]:
    """One record as a GeoJSON Feature: fields, allowed actions, history with audit hashes, photos."""
    detail, frame = record_detail(session, user, record_id)
    feature: dict[str, Any] = feature_collection(frame)["features"][0]
    feature["properties"].update(detail)
    return feature


class LandTransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(max_length=30, examples=["decide_remedy"])
    version: Annotated[int, Field(ge=1, le=2**31)] | None = None
    payload: dict[str, Annotated[str, Field(max_length=2000)]] = Field(
        default_factory=dict, examples=[{"remedy": "transfer", "remedy_detail": "县粮食种植合作社"}])


@router.post("/abandoned/{record_id}/transitions")
def post_land_transition(factory: FactoryDep, user: CurrentUser, settings: SettingsDep, record_id: RowId,
                         body: LandTransitionIn) -> dict[str, Any]:
    """decide_remedy (township), reinspect (field, needs a crop photo), dismiss (county, with a reason)."""
    record = act_on_record(factory, user, record_id, body.action, dict(body.payload), settings.remedy_days,
                           expected_version=body.version)
    return {"id": record.id, "status": record.status, "version": record.version,
            "remedy_deadline": record.remedy_deadline.isoformat() if record.remedy_deadline else None}


@router.post("/abandoned/{record_id}/photos", status_code=201)
async def post_land_photo(request: Request, factory: FactoryDep, user: CurrentUser, settings: SettingsDep,
                          record_id: RowId) -> dict[str, Any]:
    """A photo of the parcel (kind `seen`, `crop` or `other`), checked like case photos; idempotent."""
    return await _land_photo(request, factory, user, settings, record_subject(record_id), RECORD_PHOTO_KINDS)


@router.post("/findings/{finding_uuid}/photos", status_code=201)
async def post_finding_photo(request: Request, factory: FactoryDep, user: CurrentUser, settings: SettingsDep,
                             finding_uuid: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    """A photo of a patrol finding (kind `finding`), sent by its patroller after the finding; checked against
    the point where it was found; shown on the abandoned-land record it became. Idempotent by `client_uuid`."""
    subject = finding_subject(canonical_uuid(finding_uuid, "finding_uuid"))
    return await _land_photo(request, factory, user, settings, subject, {FINDING_PHOTO})


async def _land_photo(request: Request, factory: FactoryDep, user: CurrentUser, settings: SettingsDep,
                      locate: Locate, kinds: Iterable[str]) -> dict[str, Any]:
    async with photo_upload(request, settings.photo_max_bytes) as (file, fields):
        photo = await run_in_threadpool(
            upload_land_photo, factory, user, locate, fields.client_uuid, fields.kind, file,
            root=settings.photo_dir, max_bytes=settings.photo_max_bytes, policy=settings.evidence_policy, kinds=kinds)
    return {"id": photo.id, "kind": photo.kind, "sha256": photo.sha256, "abandoned_id": photo.abandoned_id,
            "checks": json.loads(photo.checks or "[]")}


@router.get("/land-photos/{photo_id}/original")
def land_photo_original(session: SessionDep, user: CurrentUser, settings: SettingsDep, photo_id: RowId
                        ) -> FileResponse:
    """A land photo exactly as uploaded (EXIF intact)."""
    path, media = land_photo_file(session, user, photo_id, settings.photo_dir, thumbnail=False)
    return FileResponse(path, media_type=media)


@router.get("/land-photos/{photo_id}/thumbnail")
def land_photo_thumbnail(session: SessionDep, user: CurrentUser, settings: SettingsDep, photo_id: RowId
                         ) -> FileResponse:
    """A 320-pixel JPEG derived from the original."""
    path, media = land_photo_file(session, user, photo_id, settings.photo_dir, thumbnail=True)
    return FileResponse(path, media_type=media)
