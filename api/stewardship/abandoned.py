"""Abandoned cultivated land (抛荒): records, their remedies and re-inspections, photos, and survey imports.

A record lies on a cultivated parcel (三调 0101/0102/0103): the whole parcel when a patroller marks a point on
it, or the part a survey or the desk draws (clipped to the parcel it overlaps most). Areas in m² in the county
CRS (亩 beside them in reports). The contractor comes from the contracted-plots layer where one covers the
record. Every step is an event in the land audit chain (`api.cases.audit.LAND_CHAIN`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from api.accounts.roles import Role, township_of
from api.cases.audit import LAND_CHAIN, append_events
from api.cases.deadlines import COUNTY_TZ
from api.cases.workflow import TransitionRefused
from api.clock import as_utc, as_utc_or_none, utcnow
from api.db.areas import TOWNSHIP_LEVEL, VILLAGE_LEVEL
from api.db.engine import srid_of
from api.db.models import AbandonedRecord, ContractedPlot, Finding, LandEvent, LandParcel, LandPhoto, Patrol, User
from api.db.repository import bbox_clause, read_frame, to_db_geometry
from api.errors import Conflict, InvalidQuery, Message, NotFound, UnsupportedMedia
from api.evidence.store import (
    THUMBNAIL_PX,
    discard,
    make_thumbnail,
    original_path,
    place,
    stage_upload,
    thumbnail_path,
)
from api.evidence.turn import take_evidence_turn
from api.evidence.upload import checked_upload
from api.ingest.layers import village_codes
from api.stewardship.chiefs import GRID_LEVEL, in_area, posts_of
from api.stewardship.grids import grid_codes
from api.stewardship.workflow import (
    CAUSE_NAMES,
    CROP_PHOTO,
    OPEN_LAND,
    RECORD_PHOTO_KINDS,
    SAME_LAND_SHARE,
    LandState,
    LandStatus,
    allowed_land_actions,
    decide_land,
)
from gis.codes import WEB_CRS
from gis.compare import matches
from gis.crs import to_projected, transformer
from gis.dates import DateError, parse_days
from gis.errors import RedlineInputError
from gis.evidence import (
    NEAR_LAND_FILE,
    PHASH_HEX_DIGITS,
    SAME_LAND_FILE,
    EvidencePolicy,
    PhotoFacts,
    check_photo,
    dhash,
    is_near_duplicate,
    passes_distance_check,
    phash_text,
    phashes,
    true_bearing,
)
from gis.fields import FIELD_NAMES, find_field
from gis.photo_meta import read_meta_and_preview
from gis.rules import CULTIVATED_CODES, MU_M2
from gis.sources import read_source

#: What a record shows users and the API.
RECORD_FIELDS = ("id", "code", "origin", "status", "cause", "seen_on", "area_m2", "dlbm", "contractor_key",
                 "remedy", "remedy_detail", "remedy_deadline", "township_code", "village_code", "grid_code",
                 "note", "version")


def land_scope(user: User) -> list[Any]:
    """Township roles see their township's records; the county's roles every record."""
    township = township_of(user.role, user.township_code)
    return [] if township is None else [AbandonedRecord.township_code == township]


#: A finding's township, village and grid code columns, for `in_area`.
FINDING_AREA = {TOWNSHIP_LEVEL: Finding.township_code, VILLAGE_LEVEL: Finding.village_code,
                GRID_LEVEL: Finding.grid_code}


def finding_scope(session: Session, user: User, now: dt.datetime | None = None) -> list[Any]:
    """The patrol findings a user may see: the county's roles every one, township roles their township's, an
    inspector their own and those in the areas they are chief of (a village or grid chief answers for what is
    found there, whoever found it)."""
    if user.role != Role.INSPECTOR:
        township = township_of(user.role, user.township_code)
        return [] if township is None else [Finding.township_code == township]
    areas = [and_(true(), *in_area(FINDING_AREA, area)) for area in posts_of(session, user, now)]
    return [or_(Finding.user_id == user.id, *areas)]


def load_record(session: Session, user: User, record_id: int) -> AbandonedRecord:
    """The record, if it exists and is in the user's scope (NotFound otherwise, as for cases)."""
    record = session.execute(select(AbandonedRecord).where(AbandonedRecord.id == record_id, *land_scope(user))
                             ).scalar_one_or_none()
    if record is None:
        raise NotFound(f"no abandoned-land record {record_id}")
    return record


def cultivated_parcel_at(session: Session, geom: shapely.Geometry) -> tuple[int, str, shapely.Geometry] | None:
    """The cultivated parcel (id, DLBM, geometry) a point lies in, or a drawn area overlaps most."""
    minx, miny, maxx, maxy = shapely.bounds(geom)
    parcels = read_frame(session, LandParcel, ["dlbm"], where=[
        bbox_clause(session, LandParcel, (minx, miny, maxx, maxy)),
        LandParcel.dlbm.in_(sorted(CULTIVATED_CODES))])
    if parcels.empty:
        return None
    shapes = parcels.geometry.to_numpy()
    if shapely.get_type_id(geom) == shapely.GeometryType.POINT:
        hits = np.flatnonzero(shapely.covers(shapes, geom))
        if not len(hits):
            return None
        best = int(hits[0])
    else:
        overlap = shapely.area(shapely.intersection(shapes, geom))
        if overlap.max() <= 0:
            return None
        best = int(np.argmax(overlap))
    return int(parcels["id"].iloc[best]), str(parcels["dlbm"].iloc[best]), shapes[best]


def _contractor(session: Session, geom: shapely.Geometry) -> str | None:
    minx, miny, maxx, maxy = shapely.bounds(geom)
    plots = read_frame(session, ContractedPlot, ["contractor_key"],
                       where=[bbox_clause(session, ContractedPlot, (minx, miny, maxx, maxy))])
    if plots.empty:
        return None
    overlap = shapely.area(shapely.intersection(plots.geometry.to_numpy(), geom))
    return str(plots["contractor_key"].iloc[int(np.argmax(overlap))]) if overlap.max() > 0 else None


def record_abandoned(session: Session, actor: str, geom: shapely.Geometry, *, cause: str, seen_on: dt.date,
                     origin: str, note: str | None = None, source_key: str | None = None,
                     now: dt.datetime | None = None) -> AbandonedRecord:
    """Store a record on the cultivated parcel at `geom` (county CRS): a point takes the whole parcel, an area
    its part on the parcel it overlaps most. Refused (422) off cultivated land or with an unknown cause.

    Land an open record holds already (`SAME_LAND_SHARE` of the smaller of the two, on the same parcel) is that
    record, seen again (an event in its history; none for a survey file's row): before, a second patroller's report
    of the same field opened a second record, and the month's outstanding abandoned area counted the field twice.
    Land whose record was closed (replanted) and is abandoned again gets a new record."""
    now = now or utcnow()
    if cause not in CAUSE_NAMES:
        raise InvalidQuery(Message(f"抛荒原因须为：{'、'.join(f'{n} {c}' for c, n in CAUSE_NAMES.items())}",
                                   f"cause must be one of {', '.join(CAUSE_NAMES)}"))
    found = cultivated_parcel_at(session, geom)
    if found is None:
        raise InvalidQuery(Message("该位置不在耕地（三调 0101/0102/0103）上",
                                   "not on cultivated land (三调 0101–0103)"))
    parcel_id, dlbm, parcel = found
    part = parcel if shapely.get_type_id(geom) == shapely.GeometryType.POINT else shapely.intersection(parcel, geom)
    part = shapely.make_valid(part)
    same = _open_record_on(session, parcel_id, part)
    if same is not None:  # the same land seen again: one record (a survey's row names no one, and adds nothing)
        if origin != "survey":
            append_events(session, [{"record_id": same.id, "actor": actor, "action": "seen_again", "before": {},
                                     "after": {"seen_on": seen_on.isoformat()}, "note": note}], at=now,
                          chain=LAND_CHAIN)
        return same
    village = village_codes(session, np.array([part], dtype=object))[0]
    record = AbandonedRecord(
        code=f"PH-{uuid.uuid4().hex[:12]}", origin=origin, source_key=source_key, parcel_id=parcel_id, dlbm=dlbm,
        area_m2=float(shapely.area(part)), contractor_key=_contractor(session, part), cause=cause, seen_on=seen_on,
        note=note, status=LandStatus.REPORTED.value, village_code=village,
        township_code=village[:9] + "000" if village else None,
        grid_code=grid_codes(session, np.array([part], dtype=object))[0], created_by=actor, created_at=now,
        geom=to_db_geometry(np.array([part], dtype=object), session)[0])
    session.add(record)
    session.flush()
    record.code = f"PH-{record.village_code or '000000000000'}-{record.id:05d}"
    append_events(session, [{"record_id": record.id, "actor": actor, "action": "report", "before": {},
                             "after": _snapshot(record), "note": note}], at=now, chain=LAND_CHAIN)
    return record


def _open_record_on(session: Session, parcel_id: int, part: shapely.Geometry) -> AbandonedRecord | None:
    """The open record on the parcel that holds `part` (`SAME_LAND_SHARE`), if any."""
    held = read_frame(session, AbandonedRecord, ["code"], where=[AbandonedRecord.parcel_id == parcel_id,
                                                                 AbandonedRecord.status.in_(sorted(OPEN_LAND))],
                      order_by="id")
    if held.empty:
        return None
    hits, _ = matches(held.geometry.to_numpy(), np.array([part], dtype=object), SAME_LAND_SHARE)
    return None if not len(hits) else session.get(AbandonedRecord, int(held["id"].iloc[int(hits.min())]))


def _snapshot(record: AbandonedRecord) -> dict[str, Any]:
    return {"status": record.status, "remedy": record.remedy, "remedy_detail": record.remedy_detail,
            "remedy_deadline": record.remedy_deadline.isoformat() if record.remedy_deadline else None,
            "area_m2": round(record.area_m2, 2), "cause": record.cause}


def record_out(session: Session, record: AbandonedRecord, user: User, now: dt.datetime | None = None
               ) -> dict[str, Any]:
    """A record as the API shows it: its fields, whether its remedy is overdue, what the user may do, its
    history and photos."""
    now = now or utcnow()
    out: dict[str, Any] = {k: getattr(record, k) for k in RECORD_FIELDS}
    for k in ("seen_on", "remedy_deadline"):
        out[k] = out[k].isoformat() if out[k] else None
    out["area_mu"] = round(record.area_m2 / MU_M2, 3)
    out["overdue"] = overdue(record, now)
    out["allowed_actions"] = allowed_land_actions(land_state(session, record), user.role)
    events = session.execute(select(LandEvent).where(LandEvent.record_id == record.id).order_by(LandEvent.id)
                             ).scalars()
    out["history"] = [{"at": as_utc(e.at).isoformat(), "actor": e.actor, "action": e.action, "note": e.note,
                       "hash": e.hash} for e in events]
    photos = session.execute(select(LandPhoto).where(LandPhoto.abandoned_id == record.id).order_by(LandPhoto.id)
                             ).scalars()
    out["photos"] = [{"id": p.id, "kind": p.kind, "sha256": p.sha256, "lat": p.lat, "lon": p.lon,
                      "finding_id": p.finding_id,
                      "taken_at": as_utc(p.taken_at).isoformat() if p.taken_at else None,
                      "checks": json.loads(p.checks or "[]")} for p in photos]
    return out


def overdue(record: AbandonedRecord, now: dt.datetime) -> bool:
    """A remedy past its deadline (the deadline day included, Asia/Shanghai) on an open record."""
    return remedy_overdue(record.status, record.remedy_deadline, now)


def remedy_overdue(status: str, deadline: dt.date | None, now: dt.datetime) -> bool:
    """The rule of `overdue`, on a record's status and remedy deadline (for readers holding only those)."""
    return status == LandStatus.REMEDY_DECIDED and deadline is not None and now.astimezone(COUNTY_TZ).date() > deadline


def land_state(session: Session, record: AbandonedRecord) -> LandState:
    """The workflow's view of a record: how many crop photos count for its re-inspection, and why not."""
    if record.status != LandStatus.REMEDY_DECIDED or record.remedy_decided_at is None:
        return LandState(record.status)
    since = as_utc(record.remedy_decided_at)
    good = before = far = 0
    rows = session.execute(select(LandPhoto.taken_at, LandPhoto.checks).where(
        LandPhoto.abandoned_id == record.id, LandPhoto.kind == CROP_PHOTO)).all()
    for taken_at, checks in rows:
        if taken_at is None or as_utc(taken_at) < since:
            before += 1
        elif not passes_distance_check(json.loads(checks) if checks else []):
            far += 1
        else:
            good += 1
    when = since.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
    why = Message(f"复查须有整治决定（{when}，北京时间）之后在地块上拍摄的作物照片：{before} 张拍摄于此前或无时间，"
                  f"{far} 张没有位置或不在地块上",
                  f"re-inspection needs a photo of the crop taken on the parcel after the remedy was decided "
                  f"({when} Asia/Shanghai): {before} taken before it or undated, {far} without a position or off "
                  "the parcel")
    return LandState(record.status, crop_photos=good, crop_refusal=None if good else why)


def act_on_record(factory: sessionmaker[Session], user: User, record_id: int, action: str, payload: dict[str, Any],
                  remedy_days: dict[str, int], *, expected_version: int | None = None,
                  now: dt.datetime | None = None) -> AbandonedRecord:
    """Take `action` on a record as `user` (409 with the reason when not allowed, or when it changed)."""
    now = now or utcnow()
    try:
        with factory.begin() as session:
            record = load_record(session, user, record_id)
            if expected_version is not None and record.version != expected_version:
                raise Conflict(Message(f"记录 {record_id} 在您打开后已被修改：请刷新后重试",
                                       f"record {record_id} changed since you loaded it; reload and try again"))
            try:
                target = decide_land(action, land_state(session, record), user.role, payload)
            except TransitionRefused as exc:
                raise Conflict(exc.message) from exc
            before = _snapshot(record)
            if action == "decide_remedy":
                record.remedy = payload["remedy"]
                record.remedy_detail = str(payload.get("remedy_detail") or "").strip() or None
                days = remedy_days[record.remedy]
                deadline = payload.get("deadline")
                record.remedy_deadline = (dt.date.fromisoformat(str(deadline)) if deadline
                                          else now.astimezone(COUNTY_TZ).date() + dt.timedelta(days=days))
                record.remedy_decided_at = now
            elif action in ("reinspect", "dismiss"):
                record.closed_at = now
            record.status = target
            session.flush()
            append_events(session, [{"record_id": record.id, "actor": user.username, "action": action,
                                     "before": before, "after": _snapshot(record),
                                     "note": payload.get("reason") or payload.get("note")}], at=now, chain=LAND_CHAIN)
            session.expunge(record)
            return record
    except StaleDataError as exc:
        raise Conflict(Message(f"记录 {record_id} 同时被他人修改：请刷新后重试",
                               f"record {record_id} was changed by someone else at the same time")) from exc
    except ValueError as exc:
        raise InvalidQuery(Message(f"期限不是日期：{payload.get('deadline')!r}",
                                   f"deadline is not a date: {payload.get('deadline')!r}")) from exc


@dataclass(frozen=True)
class PhotoSubject:
    """What a land photo shows and what it is checked against: an abandoned-land record (its parcel) or a
    patrol finding (the point the patroller stood at, and the record it became, if any). `since`: a photo taken
    before it is flagged (a record's creation; a finding's patrol start)."""

    abandoned_id: int | None
    finding_id: int | None
    place: shapely.Geometry
    since: dt.datetime


#: How a photo upload finds its subject, in the uploader's scope.
Locate = Callable[[Session, User], PhotoSubject]

#: How long before a finding (without a patrol) a photo of it may have been taken and not be flagged.
FINDING_PHOTO_LEAD = dt.timedelta(hours=12)
#: EXIF times are whole seconds, and a camera's clock may run a little behind the browser's that dated the
#: patrol's start: a photo this much earlier than the start is not called "before".
CLOCK_SLACK = dt.timedelta(minutes=1)


def record_subject(record_id: int) -> Locate:
    """The subject of a photo of record `record_id`, read in the user's scope (NotFound outside it)."""
    def locate(session: Session, user: User) -> PhotoSubject:
        record = load_record(session, user, record_id)
        parcel = read_frame(session, AbandonedRecord, where=[AbandonedRecord.id == record_id]).geometry.iloc[0]
        return PhotoSubject(record_id, None, parcel, as_utc(record.created_at))
    return locate


def finding_subject(finding_uuid: str) -> Locate:
    """The subject of a photo of the patrol finding `finding_uuid`: only its patroller sends its photos. A
    finding that became an abandoned-land record lends the photo to the record too (as what was seen)."""
    def locate(session: Session, user: User) -> PhotoSubject:
        finding = session.execute(select(Finding).where(Finding.client_uuid == finding_uuid,
                                                        Finding.user_id == user.id)).scalar_one_or_none()
        if finding is None:
            raise NotFound(Message(f"没有您的巡田发现 {finding_uuid}：请先发送该发现",
                                   f"no finding {finding_uuid} of yours: send the finding first"))
        srid = srid_of(session)
        x, y = transformer(WEB_CRS, f"EPSG:{srid}").transform(finding.lon, finding.lat)
        started = session.execute(select(Patrol.started_at).where(Patrol.id == finding.patrol_id)
                                  ).scalar_one_or_none() if finding.patrol_id else None
        since = as_utc(started) if started is not None else as_utc(finding.at) - FINDING_PHOTO_LEAD
        return PhotoSubject(finding.abandoned_id, finding.id, shapely.Point(x, y), since - CLOCK_SLACK)
    return locate


def upload_land_photo(factory: sessionmaker[Session], user: User, locate: Locate,
                      client_uuid: str, kind: str, stream: BinaryIO, *, root: Path, max_bytes: int,
                      policy: EvidencePolicy, kinds: Iterable[str] = RECORD_PHOTO_KINDS,
                      now: dt.datetime | None = None) -> LandPhoto:
    """A photo of land — an abandoned parcel (its state, or the crop that closes it) or a patrol finding —
    checked like case photos: EXIF position within the distance limit of the subject, capture time, bearing,
    and the same file on another record or finding. The same UUID and bytes again return the first record."""
    client_uuid = checked_upload(client_uuid, kind, kinds)
    with factory() as session:
        subject = locate(session, user)  # scope first: nothing is stored for a subject out of reach
    staged = stage_upload(stream, root, max_bytes)
    try:
        with factory() as session:
            existing = session.execute(select(LandPhoto).where(LandPhoto.client_uuid == client_uuid)
                                       ).scalar_one_or_none()
        if existing is not None:
            discard(staged.path)
            return _same_land_upload(existing, subject, staged.sha256)
        meta, preview = read_meta_and_preview(staged.path, preview_px=THUMBNAIL_PX, sha256=staged.sha256)
        if meta.error:
            raise UnsupportedMedia(meta.error.replace(str(staged.path), "the upload"))
    except BaseException:
        discard(staged.path)
        raise
    stored = place(staged, root)
    thumbnail = thumbnail_path(root, staged.sha256)
    make_thumbnail(stored, thumbnail, preview)
    # Hashed from the upright thumbnail, as case photos are (`api.evidence.pixels`): a land photo is decoded here,
    # at its upload (a patrol sends a few, not a demolition's dozens).
    phash = dhash(str(thumbnail if thumbnail.exists() else stored))
    now = now or utcnow()
    try:
        with factory.begin() as session:
            take_evidence_turn(session)  # the same file sent for another record at this moment is seen
            subject = locate(session, user)
            bearing = true_bearing(meta.bearing_deg, meta.bearing_ref, meta.lat, meta.lon, meta.taken_at)
            facts = PhotoFacts(lat=meta.lat, lon=meta.lon, bearing_deg=bearing, taken_at=meta.taken_at,
                               sha256=staged.sha256)
            flags = check_photo(facts, subject.place, srid_of(session), case_created=subject.since, now=now,
                                policy=policy)
            if _file_on_another_subject(session, staged.sha256, subject):
                flags.append(SAME_LAND_FILE)
            elif phash is not None and is_near_duplicate(phash, _phashes_elsewhere(session, subject), policy):
                flags.append(NEAR_LAND_FILE)
            photo = LandPhoto(client_uuid=client_uuid, abandoned_id=subject.abandoned_id,
                              finding_id=subject.finding_id, sha256=staged.sha256, kind=kind,
                              media_type=staged.media_type, size_bytes=staged.size,
                              taken_at=as_utc_or_none(meta.taken_at), lat=meta.lat, lon=meta.lon,
                              bearing_deg=meta.bearing_deg, checks=json.dumps(flags, ensure_ascii=False),
                              uploaded_by=user.id, uploaded_at=now,
                              phash=phash_text(phash))
            session.add(photo)
            session.flush()
            session.expunge(photo)
            return photo
    except IntegrityError:  # the same UUID committed concurrently: that one, if it is the same upload
        with factory() as session:
            first = session.execute(select(LandPhoto).where(LandPhoto.client_uuid == client_uuid)).scalar_one()
        return _same_land_upload(first, subject, staged.sha256)


def _elsewhere(subject: PhotoSubject) -> list[Any]:
    """WHERE clauses for the land photos of every other subject: neither of this abandoned-land record nor of this
    finding (a record's photos and those of the finding it came from are one subject's)."""
    clauses = []
    if subject.abandoned_id is not None:
        clauses.append(or_(LandPhoto.abandoned_id.is_(None), LandPhoto.abandoned_id != subject.abandoned_id))
    if subject.finding_id is not None:
        clauses.append(or_(LandPhoto.finding_id.is_(None), LandPhoto.finding_id != subject.finding_id))
    return clauses


def _file_on_another_subject(session: Session, sha256: str, subject: PhotoSubject) -> bool:
    """Whether these very bytes are attached to another land subject (`_elsewhere`). One picture of a planted
    field must not close two parcels unseen; a reviewer decides (two records can share a parcel), so it is a
    flag (`SAME_LAND_FILE`), as the same file on two cases is. An index lookup (`land_photos.sha256`)."""
    return session.execute(select(LandPhoto.id).where(LandPhoto.sha256 == sha256, *_elsewhere(subject)).limit(1)
                           ).first() is not None


def _phashes_elsewhere(session: Session, subject: PhotoSubject) -> np.ndarray:
    """The difference hashes of the land photos of every other subject (`_elsewhere`): the same picture saved
    again, or given another GPS position, must not close a second parcel unseen. A flag for the reviewer
    (`NEAR_LAND_FILE`), as on cases."""
    return phashes(session.execute(select(func.aggregate_strings(LandPhoto.phash, "")).where(
        func.length(LandPhoto.phash) == PHASH_HEX_DIGITS, *_elsewhere(subject))).scalar_one())


def _same_land_upload(existing: LandPhoto, subject: PhotoSubject, sha256: str) -> LandPhoto:
    """The stored record of a retried upload; Conflict when the UUID was used for another photo or subject."""
    same_subject = (existing.finding_id == subject.finding_id if subject.finding_id is not None
                    else existing.abandoned_id == subject.abandoned_id and existing.finding_id is None)
    if not same_subject or existing.sha256 != sha256:
        raise Conflict(Message(f"编号 {existing.client_uuid} 已用于另一张照片",
                               f"client_uuid {existing.client_uuid} was used for another photo"))
    return existing


def land_photo_file(session: Session, user: User, photo_id: int, root: Path, *, thumbnail: bool) -> tuple[Path, str]:
    """The original (or thumbnail) of a land photo the user may see: a record's in their scope, or a finding's
    in theirs (`finding_scope`)."""
    photo = session.get(LandPhoto, photo_id)
    if photo is None:
        raise NotFound(f"no land photo {photo_id}")
    if photo.abandoned_id is not None:
        load_record(session, user, photo.abandoned_id)
    elif session.execute(select(Finding.id).where(Finding.id == photo.finding_id, *finding_scope(session, user))
                         ).first() is None:
        raise NotFound(f"no land photo {photo_id}")
    if thumbnail:
        return thumbnail_path(root, photo.sha256), "image/jpeg"
    return original_path(root, photo.sha256), photo.media_type


def import_abandoned(factory: sessionmaker[Session], path: str | Path, *, actor: str = "survey",
                     layer: str | None = None, src_crs: str | None = None) -> tuple[int, int]:
    """`redline import abandoned PATH`: a survey's findings (points on a parcel, or the abandoned part drawn),
    each with its own id, cause and date seen. One transaction; a row off cultivated land or with a bad value is
    refused naming its row and field; a re-import adds nothing. Returns (rows read, records created)."""
    source = str(path)
    frame = read_source(path, layer=layer, src_crs=src_crs)
    with factory() as session:
        srid = srid_of(session)
    gdf = to_projected(frame, f"EPSG:{srid}", source=source)
    names = FIELD_NAMES["abandoned"]
    cols = {k: find_field(gdf.columns, v) for k, v in names.items()}
    for required in ("id", "cause", "seen_on"):
        if cols[required] is None:
            raise RedlineInputError(f"no field for {required} (tried {', '.join(names[required])})", source=source,
                                    field=required)
    causes = {**{c: c for c in CAUSE_NAMES}, **{n: c for c, n in CAUSE_NAMES.items()}}
    created = 0
    with factory.begin() as session:
        known = set(session.execute(select(AbandonedRecord.source_key).where(AbandonedRecord.source_key.isnot(None))
                                    ).scalars())
        for row in gdf.to_dict("records"):  # a survey file holds tens of rows, each checked on its own
            where = int(row["_row"])
            key = f"survey:{row[cols['id']]}"
            if key in known:
                continue
            cause = causes.get(str(row[cols["cause"]]).strip())
            if cause is None:
                raise RedlineInputError(f"unknown cause {row[cols['cause']]!r}: one of {', '.join(CAUSE_NAMES)} or "
                                        f"{', '.join(CAUSE_NAMES.values())}", source=source, row=where,
                                        field=str(cols["cause"]))
            try:
                seen = parse_days(pd.Series([row[cols["seen_on"]]], dtype=object))[0]
            except DateError as exc:
                raise RedlineInputError(str(exc), source=source, row=where, field=str(cols["seen_on"])) from None
            if np.isnat(seen):
                raise RedlineInputError("the date seen is required", source=source, row=where,
                                        field=str(cols["seen_on"]))
            note = row[cols["note"]] if cols["note"] else None
            try:
                record = record_abandoned(session, actor, row["geometry"], cause=cause, seen_on=seen.astype(dt.date),
                                          origin="survey", note=None if note is None or pd.isna(note) else str(note),
                                          source_key=key)
            except InvalidQuery as exc:
                raise RedlineInputError(exc.message.en, source=source, row=where, field="geometry") from exc
            known.add(key)
            created += int(record.source_key == key)  # else land an open record holds already
    return len(gdf), created


def report_abandoned(factory: sessionmaker[Session], user: User, geom_wgs84: shapely.Geometry, *, cause: str,
                     seen_on: dt.date, note: str | None = None, now: dt.datetime | None = None) -> AbandonedRecord:
    """Record abandoned land from the desk or the field app: a point (the whole parcel under it) or a drawn
    polygon, on WGS 84. Township roles record only in their own township."""
    with factory.begin() as session:
        srid = srid_of(session)
        geom = shapely.transform(geom_wgs84, lambda xy: np.column_stack(
            transformer(WEB_CRS, f"EPSG:{srid}").transform(xy[:, 0], xy[:, 1])))
        record = record_abandoned(session, user.username, geom, cause=cause, seen_on=seen_on, origin="desk"
                                  if user.role != "inspector" else "patrol", note=note, now=now)
        bound = township_of(user.role, user.township_code)
        if bound is not None and record.township_code != bound:
            raise InvalidQuery(Message("该地块不在您的乡镇内", "this parcel is outside your township"))
        session.flush()
        session.expunge(record)
        return record
