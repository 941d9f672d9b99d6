"""Cases: list with filters (JSON or GeoJSON), one case with its history, transitions, comments, reports."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.cases import queries
from api.cases.deadlines import COUNTY_TZ
from api.cases.filters import CaseFilter
from api.cases.queries import SORTABLE, CaseQuery, case_detail, case_row
from api.cases.scope import load_case
from api.cases.service import add_comment, add_progress_report, assign_many, transition
from api.clock import utcnow
from api.evidence.pixels import check_pending
from api.evidence.upload import PHOTO_KINDS, BrowserFix, upload_photo
from api.http.deps import FactoryDep, MapDataDep, RowId, SessionDep, SettingsDep
from api.http.geojson import feature_collection, feature_collection_response, parse_bbox, parse_web_bbox
from api.http.identity import CurrentUser
from api.http.schemas import photo_out
from api.http.uploads import photo_upload
from api.mapview.areas import areas_in_scope
from api.mapview.epochs import epochs_around
from api.mapview.snapshots import case_features_text, grid_cells, select_cases
from api.reports.case_list import MAX_DOWNLOAD, XLSX, case_list_csv, case_list_xlsx
from api.reports.dossier import EPOCH_MARGIN_M, EPOCH_MIN_SIDE_M, dossier_pdf
from api.reports.drawing import window_around

router = APIRouter(prefix="/api/cases", tags=["cases"])


def _case_query(
    settings: SettingsDep,
    township: Annotated[str | None, Query(max_length=12, description="12-digit township code")] = None,
    village: Annotated[str | None, Query(max_length=12, description="12-digit village code")] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    period: Annotated[str | None, Query(max_length=30)] = None,
    disposition: Annotated[str | None, Query(max_length=20)] = None,
    rule: Annotated[int | None, Query(ge=1, le=8, description="八不准 code")] = None,
    overdue: Annotated[bool | None, Query(description="only cases past a 137 deadline (or only those not)")] = None,
    assignee: Annotated[str | None, Query(max_length=60, description="'me', 'none' (unassigned) or a username")
                        ] = None,
    code: Annotated[str | None, Query(max_length=100, description="a case code (exact)")] = None,
    search: Annotated[str | None, Query(max_length=100, description="a case code, its beginning, the house id, or "
                                                                     "a satellite lead code the case answers "
                                                                     "(surrounding spaces ignored)")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)")] = None,
    sort: Annotated[str, Query(max_length=30, description=f"one of {', '.join(SORTABLE)}; '-' first: descending")
                    ] = "code",
    awaiting: Annotated[str | None, Query(max_length=10, description="closed cases awaiting the review of this "
                                                                       "level above the county: city, province")
                        ] = None,
) -> CaseQuery:
    """The case list's filters as query parameters (the list, its downloads and the desk share them)."""
    return CaseQuery(where=CaseFilter(township, village, status, period, disposition, rule, overdue),
                     assignee=assignee, code=code, search=search, box=parse_bbox(bbox, settings.srid), sort=sort,
                     awaiting=awaiting)


ListQuery = Annotated[CaseQuery, Depends(_case_query)]


@router.get("")
def list_cases(session: SessionDep, user: CurrentUser, settings: SettingsDep, query: ListQuery,
               format: Literal["json", "geojson"] = "json", limit: Annotated[int, Query(ge=1, le=20000)] = 1000,
               offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Cases in the caller's scope matching every filter; `total` counts all matches, `limit`/`offset` page.

    Each case carries its next 137 deadline, whether it is overdue, and its assignee's username.
    """
    total, frame = queries.list_cases(session, user, query, settings.deadline_policy, limit=limit, offset=offset)
    if format == "geojson":
        return feature_collection_response(frame, total=total)  # type: ignore[return-value]
    return {"total": total, "items": frame.drop(columns="geometry").to_dict("records")}


@router.get("/download", response_class=Response,
            responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the filtered list as a file"}})
def download_cases(session: SessionDep, user: CurrentUser, settings: SettingsDep, query: ListQuery,
                   format: Literal["csv", "xlsx"] = "csv") -> Response:
    """Every case of the filtered list (not only one page; at most 200 000) as CSV (UTF-8 with BOM, for
    Excel) or xlsx, Chinese column names and labels, codes beside them."""
    total, frame = queries.list_cases(session, user, query, settings.deadline_policy, limit=MAX_DOWNLOAD, offset=0)
    names = {a["code"]: a["name"] for a in areas_in_scope(session, user)}
    body, media = (case_list_xlsx(frame, names), XLSX) if format == "xlsx" else (case_list_csv(frame, names),
                                                                                "text/csv; charset=utf-8")
    stamp = utcnow().astimezone(COUNTY_TZ).strftime("%Y%m%d-%H%M")
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="redline-cases-{stamp}.{format}"',
        "X-Total-Count": str(total)})


#: How a client makes a resend harmless (`api.cases.resends`).
RESEND_KEY = ("the client's own UUID for this submission: a resend (the answer was lost) is answered as the "
              "first send was and applied once; the UUID reused for anything else is 409")


def _key(client_uuid: uuid.UUID | None) -> str | None:
    return None if client_uuid is None else str(client_uuid)


class BulkAssignIn(BaseModel):
    """Cases to assign at once: to an inspector (a username from the pick list), or to the township itself
    (no inspector: the township takes the case on and picks the inspector later)."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(min_length=1, max_length=1000)]
    assignee: Annotated[str, Field(max_length=150)] | None = None
    client_uuid: uuid.UUID | None = Field(default=None, description=(
        "one UUID for the batch as the desk drew it: each case's step is keyed by it and the case, so a resend "
        "(the answer was lost) assigns no case twice and is answered case by case as the first send was; the "
        "UUID sent again with other cases' assignee is refused for each case it already assigned"))


@router.post("/bulk-assign")
def bulk_assign(factory: FactoryDep, user: CurrentUser, body: BulkAssignIn) -> dict[str, Any]:
    """Assign many cases, each in its own audited transition: one refused case (out of scope, wrong state,
    an inspector of another township) does not stop the others; each result says what happened."""
    results = assign_many(factory, user, body.ids, body.assignee, client_uuid=_key(body.client_uuid))
    return {"assigned": sum(r["ok"] for r in results), "refused": sum(not r["ok"] for r in results),
            "results": results}


async def _map_filter(township: str | None = None, village: str | None = None, status: str | None = None,
                      period: str | None = None, disposition: str | None = None,
                      rule: Annotated[int | None, Query(ge=1, le=8, description="八不准 code")] = None,
                      overdue: Annotated[bool | None, Query(description="past a 137 deadline now")] = None,
                      ) -> CaseFilter:
    """The review map's filters, as query parameters (`async`: it only reads them, off the thread pool)."""
    return CaseFilter(township, village, status, period, disposition, rule, overdue)


MapFilter = Annotated[CaseFilter, Depends(_map_filter)]
#: A map zoom level; fractional (pinch zoom) and beyond the data (past 22) are fine: counts use at most 22.
Zoom = Annotated[float, Query(ge=0, le=30)]
WebBox = Annotated[str, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)")]


@router.get("/clusters")
def case_clusters(session: SessionDep, user: CurrentUser, map_data: MapDataDep, zoom: Zoom, bbox: WebBox,
                  where: MapFilter) -> Any:
    """Case counts on a grid of about 64 screen pixels at `zoom` (for county-wide views: no features sent)."""
    snap = map_data.cases(session)
    idx = select_cases(snap, parse_web_bbox(bbox), where, user, utcnow())
    return _json({"total": len(idx), "cells": grid_cells(snap, idx, zoom)})


@router.get("/features")
def case_features(session: SessionDep, user: CurrentUser, map_data: MapDataDep, zoom: Zoom, bbox: WebBox,
                  where: MapFilter, limit: Annotated[int, Query(ge=1, le=20000)] = 5000) -> Any:
    """The review map's cases in view: a GeoJSON FeatureCollection of at most `limit` cases, or — when more
    match — their grid counts (`cells`, as `/clusters`), so a crowded view shows every case as a count
    rather than an arbitrary `limit` of them. Features carry what styling and filtering need (with
    `overdue` as of now); the popup loads the rest from `/api/cases/{id}`.
    """
    snap = map_data.cases(session)
    now = utcnow()
    idx = select_cases(snap, parse_web_bbox(bbox), where, user, now)
    if len(idx) > limit:
        return _json({"total": len(idx), "cells": grid_cells(snap, idx, zoom), "clustered": True})
    return Response(case_features_text(snap, idx, now, total=len(idx)), media_type="application/json")


def _json(body: dict[str, Any]) -> Response:
    """Plain JSON, encoded once (FastAPI's generic encoder walks thousands of grid cells slowly)."""
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


@router.get("/{case_id}")
def get_case(session: SessionDep, user: CurrentUser, settings: SettingsDep, case_id: RowId) -> dict[str, Any]:
    """One case as a GeoJSON Feature (EPSG:4326): areas in m² and 亩, deadlines, allowed actions, history."""
    detail = case_detail(session, user, case_id, settings.deadline_policy)
    feature: dict[str, Any] = feature_collection(case_row(session, case_id))["features"][0]
    feature["properties"].update(detail.properties)
    feature["properties"].update({"allowed_actions": detail.allowed_actions, "history": detail.history,
                                  "comments": detail.comments, "progress_reports": detail.reports,
                                  "photos": [photo_out(p) for p in detail.photos]})
    return feature


@router.get("/{case_id}/epochs")
def get_case_epochs(session: SessionDep, user: CurrentUser, case_id: RowId) -> dict[str, Any]:
    """The house on every imagery pass (oldest first), for the map's before/after view: per epoch its date,
    whether the house is there and its area (m²), and the footprints around it (GeoJSON, EPSG:4326; `at_house`
    marks those on the house)."""
    load_case(session, user, case_id)
    footprint = case_row(session, case_id).geometry.iloc[0]
    views = epochs_around(session, footprint, window_around(footprint, EPOCH_MARGIN_M, EPOCH_MIN_SIDE_M, 1.0))
    return {"case_id": case_id, "epochs": [
        {"imaged_on": v.imaged_on.isoformat(), "present": v.present, "area_m2": round(v.area_m2, 2),
         "features": feature_collection(v.footprints[["source_key", "at_house", "geometry"]])} for v in views]}


@router.get("/{case_id}/dossier.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "the case dossier (A4, Chinese)"}})
def get_dossier(session: SessionDep, factory: FactoryDep, user: CurrentUser, settings: SettingsDep,
                case_id: RowId) -> Response:
    """The case dossier (案件档案) as a PDF: identity, location map, footprint per imagery epoch, areas and
    rules, every photo with its SHA-256 and checks (photos still waiting for their decode are decoded first),
    reports, and the history with each event's audit hash."""
    load_case(session, user, case_id)  # the same scope as every case query: another township's is "not found"
    dossier = dossier_pdf(factory, case_id, settings)
    return Response(dossier.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{dossier.name}"'})


Text = Annotated[str, Field(max_length=2000)]
Word = Annotated[str, Field(max_length=64)]


class TransitionPayload(BaseModel):
    """What an action may carry; the workflow decides which fields an action needs and what values mean.

    Typed here so that a wrong type (a number for a verdict, a dict for the rules) is a 422 naming the
    field, never an error deep in the workflow.
    """

    model_config = ConfigDict(extra="forbid")

    assignee: Annotated[str, Field(max_length=150)] | None = None
    verdict: Word | None = None
    legal_reason: Word | None = None
    period: Word | None = None
    field_rules: Annotated[list[Annotated[int, Field(ge=1, le=8)]], Field(max_length=8)] = Field(default_factory=list)
    decision: Word | None = None
    reason: Text | None = None
    note: Text | None = None
    file_number: Annotated[str, Field(max_length=50)] | None = None
    evidence: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(max_length=20)] | None = None
    approve: bool | None = None
    #: The review level above the county whose word `upper_pass` / `upper_return` records (city, province).
    level: Word | None = None
    #: The number of that level's document (审核意见文号) the county records its word from.
    document: Annotated[str, Field(max_length=60)] | None = None


class TransitionIn(BaseModel):
    """An action on a case; `version` (from the last read) guards against overwriting a concurrent change."""

    action: Word = Field(examples=["verify"])
    version: Annotated[int, Field(ge=1, le=2**31)] | None = Field(default=None, examples=[3])
    payload: TransitionPayload = Field(default_factory=TransitionPayload,
                                       examples=[{"verdict": "illegal", "field_rules": [3]}])
    client_uuid: uuid.UUID | None = Field(default=None, description=RESEND_KEY)


@router.post("/{case_id}/transitions")
def post_transition(factory: FactoryDep, user: CurrentUser, settings: SettingsDep, case_id: RowId,
                    body: TransitionIn) -> dict[str, Any]:
    """Take a workflow action (assign, verify, serve_notice, ..., submit, pass_review, return); 409 if refused.

    The case's photos whose decode has not run yet are decoded first: the field app sends a step's photos and
    then its action at once, and the re-inspection counts only photos whose pixels were checked."""
    check_pending(factory, settings.photo_dir, settings.evidence_policy, case_id=case_id)
    case = transition(factory, user, case_id, body.action,
                      body.payload.model_dump(exclude_none=True, exclude_unset=True), expected_version=body.version,
                      client_uuid=_key(body.client_uuid))
    return {"id": case.id, "status": case.status, "version": case.version, "remaining_m2": case.remaining_m2}


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000, examples=["户主称房屋为2019年所建，需核对影像"])
    client_uuid: uuid.UUID | None = Field(default=None, description=RESEND_KEY)


@router.post("/{case_id}/comments", status_code=201)
def post_comment(factory: FactoryDep, user: CurrentUser, case_id: RowId, body: CommentIn) -> dict[str, Any]:
    """Comment on a case."""
    comment = add_comment(factory, user, case_id, body.text, _key(body.client_uuid))
    return {"id": comment.id, "at": comment.at.isoformat(), "text": comment.text}


class ReportIn(BaseModel):
    text: str = Field(min_length=1, max_length=5000, examples=["已下达拆除通知，户主正在搬离"])
    #: Finite and at most a square kilometre: `1e999` (Infinity) or NaN would break every JSON reader.
    remaining_m2: float | None = Field(default=None, ge=0, le=1e6, allow_inf_nan=False, examples=[60.0])
    client_uuid: uuid.UUID | None = Field(default=None, description=RESEND_KEY)


@router.post("/{case_id}/progress-reports", status_code=201)
def post_report(factory: FactoryDep, user: CurrentUser, case_id: RowId, body: ReportIn) -> dict[str, Any]:
    """File a staged progress report (137: every 7 days until finished)."""
    report = add_progress_report(factory, user, case_id, body.text, body.remaining_m2,
                                 client_uuid=_key(body.client_uuid))
    return {"id": report.id, "at": report.at.isoformat(), "remaining_m2": report.remaining_m2}


PHOTO_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "client_uuid"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "the original photo file (never re-encoded)"},
        "client_uuid": {"type": "string", "format": "uuid",
                        "description": "the client's own UUID: a retry with the same bytes returns the same record"},
        "kind": {"type": "string", "enum": sorted(PHOTO_KINDS),
                 "default": "panorama"},
        "browser_lat": {"type": "number", "description": "the phone's geolocation at capture"},
        "browser_lon": {"type": "number"},
        "browser_heading": {"type": "number", "description": "compass heading at capture"}}}}}}}


@router.post("/{case_id}/photos", status_code=201, openapi_extra=PHOTO_FORM)
async def post_photo(request: Request, factory: FactoryDep, user: CurrentUser, settings: SettingsDep,
                     case_id: RowId) -> dict[str, Any]:
    """Attach an evidence photo (JPEG, PNG or HEIC by content); idempotent by `client_uuid`.

    The caller is authenticated and the declared size checked before a byte of the body is read; the body
    is then streamed with a hard cap (413), so an anonymous or oversized upload costs nothing. Position,
    bearing and time are read from the photo itself and checked against the case (distance, view cone,
    time, reuse, phone position); doubtful photos are kept and flagged in `checks`. The answer comes once the
    file is stored whole; its pixels are decoded right after, on the server's decoding thread
    (`api.evidence.pixels.PixelQueue`; `pixels_checked` false until then): thumbnail, near-duplicate check, or
    the flag of a damaged picture.
    """
    async with photo_upload(request, settings.photo_max_bytes) as (file, fields):
        photo = await run_in_threadpool(
            upload_photo, factory, user, case_id, fields.client_uuid, fields.kind, file,
            root=settings.photo_dir, max_bytes=settings.photo_max_bytes,
            browser=BrowserFix(fields.browser_lat, fields.browser_lon, fields.browser_heading),
            policy=settings.evidence_policy)
    if photo.pixels_checked_at is None:  # a retry of an upload whose decode has not run yet queues it again
        request.app.state.pixel_queue.submit(photo.id)
    return photo_out(photo)
