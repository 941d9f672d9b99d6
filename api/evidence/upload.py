"""Evidence uploads: a photo (or a document) attached to a case, checked, idempotent by the client's UUID.

The original bytes are placed in the store (`api.evidence.store`) before the database row is committed, so
a crash between the two leaves at worst an orphan file, never a row without its file. A retried upload
(same client UUID) returns the first record instead of creating a duplicate. The upload is answered once the
file is proved whole without decoding its pixels; they are decoded just after (`api.evidence.pixels`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import shapely
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.cases.scope import load_case
from api.clock import as_utc, as_utc_or_none, utcnow
from api.db.engine import srid_of
from api.db.models import Case, Photo, User
from api.errors import Conflict, InvalidQuery, Message, NotFound, UnsupportedMedia
from api.evidence.store import PDF, Staged, discard, original_path, place, stage_upload, thumbnail_path
from api.evidence.turn import take_evidence_turn
from gis.evidence import EvidencePolicy, PhotoFacts, check_photo, true_bearing
from gis.photo_meta import PhotoMeta, read_meta_and_preview

#: Kinds of upload a PDF may be: a scanned contract, tax receipt or certificate — never a site photo.
DOCUMENT_KINDS = frozenset({"document"})
#: What a photo shows; "document": a photographed contract, tax receipt or certificate (evidence for a change
#: of period).
PHOTO_KINDS = frozenset({"panorama", "closeup", "detail", "after_demolition", "document"})
PHOTO_KIND_NAMES: dict[str, str] = {"panorama": "全景", "closeup": "近景", "detail": "细节",
                                    "after_demolition": "拆除后", "document": "证明材料"}


@dataclass(frozen=True)
class BrowserFix:
    """Where the phone's browser said it was (and faced) when the photo was taken."""

    lat: float | None = None
    lon: float | None = None
    heading: float | None = None


def _evidence(session: Session, case_id: int, meta: PhotoMeta, browser: BrowserFix, policy: EvidencePolicy,
              now: dt.datetime) -> list[str]:
    """Run the evidence checks of a new photo that its metadata allows, against its case and the other cases'
    photos (the near-duplicate check needs its pixels: `api.evidence.pixels`)."""
    wkb, created = session.execute(select(func.ST_AsBinary(Case.geom), Case.created_at)
                                   .where(Case.id == case_id)).one()
    # The same file on another case: one lookup in the sha256 index, not every photo of the county read back.
    reused = session.execute(select(Photo.sha256).where(Photo.sha256 == meta.sha256, Photo.case_id != case_id)
                             .limit(1)).scalars().all()
    bearing = true_bearing(meta.bearing_deg, meta.bearing_ref, meta.lat, meta.lon, meta.taken_at)
    facts = PhotoFacts(lat=meta.lat, lon=meta.lon, bearing_deg=bearing, taken_at=meta.taken_at,
                       browser_lat=browser.lat, browser_lon=browser.lon, sha256=meta.sha256)
    return check_photo(facts, shapely.from_wkb(bytes(wkb)), srid_of(session), case_created=as_utc(created), now=now,
                       policy=policy, other_cases_sha256=frozenset(reused))


def photo_file(session: Session, user: User, photo_id: int, root: Path, *, thumbnail: bool,
               check_pixels: Callable[[int], object] | None = None) -> tuple[Path, str]:
    """The original (or thumbnail) file of a photo the user may see, and its media type. `check_pixels`
    decodes a photo whose thumbnail is asked for before the decode that follows its upload has run."""
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"no photo {photo_id}")
    load_case(session, user, photo.case_id)  # scope: NotFound for another township's photo
    if thumbnail:
        path = thumbnail_path(root, photo.sha256)
        if not path.exists() and photo.pixels_checked_at is None and check_pixels is not None:
            check_pixels(photo.id)
        if not path.exists():
            raise NotFound(f"photo {photo_id} has no thumbnail")
        return path, "image/jpeg"
    return original_path(root, photo.sha256), photo.media_type


def canonical_uuid(text: str, field: str = "client_uuid") -> str:
    """A client-made UUID in canonical form (the key that makes a resend a no-op); 422 naming the field."""
    try:
        return str(uuid.UUID(text))
    except ValueError as exc:
        raise InvalidQuery(f"{field} is not a UUID: {text[:64]!r}") from exc


def checked_upload(client_uuid: str, kind: str, kinds: Iterable[str]) -> str:
    """The client's UUID in canonical form, and a kind it may have; 422 naming the field otherwise."""
    canonical = canonical_uuid(client_uuid)
    if kind not in kinds:
        raise InvalidQuery(f"kind must be one of {', '.join(sorted(kinds))}")
    return canonical


def upload_photo(factory: sessionmaker[Session], user: User, case_id: int, client_uuid: str, kind: str,
                 stream: BinaryIO, *, root: Path, max_bytes: int, now: dt.datetime | None = None,
                 browser: BrowserFix | None = None, policy: EvidencePolicy | None = None) -> Photo:
    """Attach a photo (or a document: a PDF, or a photographed contract) to a case; the same client UUID with
    the same bytes again returns the first record.

    The upload is staged and checked (size, content type, sane pixel count, a whole image: a JPEG by its
    markers, other formats by decoding them) before it is placed in the store, so a refused file leaves
    nothing behind. A client UUID already used for different bytes or another case is a 409: a retry must
    resend what it sent. The record comes back with `pixels_checked_at` None while its pixels wait to be
    decoded (`api.evidence.pixels.check_pixels`, which the caller runs next); a PDF has no pixels to wait for.
    """
    client_uuid = checked_upload(client_uuid, kind, PHOTO_KINDS)
    with factory() as session:
        load_case(session, user, case_id)  # scope first: nothing is stored for a case out of reach
    staged = stage_upload(stream, root, max_bytes)
    try:
        with factory() as session:
            existing = session.execute(select(Photo).where(Photo.client_uuid == client_uuid)).scalar_one_or_none()
        if existing is not None:
            discard(staged.path)
            return _same_upload(existing, case_id, staged.sha256)
        document = staged.media_type == PDF
        if document:
            meta = _pdf_meta(staged, kind)
        else:
            meta = read_meta_and_preview(staged.path, sha256=staged.sha256, decode=False)[0]
            if meta.error:
                raise UnsupportedMedia(meta.error.replace(str(staged.path), "the upload"))
    except BaseException:
        discard(staged.path)
        raise
    place(staged, root)
    now = now or utcnow()
    browser = browser or BrowserFix()
    try:
        with factory.begin() as session:
            # A document is evidence of what it says, not of where or when it was photographed.
            flags: list[str] = []
            if not document:
                take_evidence_turn(session)  # the same file sent to another case at this moment is seen
                flags = _evidence(session, case_id, meta, browser, policy or EvidencePolicy(), now)
            photo = Photo(client_uuid=client_uuid, case_id=case_id, sha256=staged.sha256, kind=kind,
                          media_type=staged.media_type, size_bytes=staged.size, taken_at=as_utc_or_none(meta.taken_at),
                          lat=meta.lat, lon=meta.lon, bearing_deg=meta.bearing_deg, altitude_m=meta.altitude_m,
                          bearing_ref=meta.bearing_ref, bearing_source=meta.bearing_source,
                          time_source=meta.time_source, browser_lat=browser.lat, browser_lon=browser.lon,
                          browser_heading=browser.heading, checks=json.dumps(flags, ensure_ascii=False),
                          uploaded_by=user.id, uploaded_at=now, pixels_checked_at=now if document else None)
            session.add(photo)
            session.flush()
            session.expunge(photo)
            return photo
    except IntegrityError:  # the same UUID committed concurrently: that one, if it is the same upload
        with factory() as session:
            first = session.execute(select(Photo).where(Photo.client_uuid == client_uuid)).scalar_one()
        return _same_upload(first, case_id, staged.sha256)


def _pdf_meta(staged: Staged, kind: str) -> PhotoMeta:
    """A PDF is accepted only as a document (a contract, a tax receipt), and only whole (its `%%EOF` at the
    end: a cut transfer is refused like a truncated photo)."""
    if kind not in DOCUMENT_KINDS:
        raise UnsupportedMedia(Message(f"PDF 只能作为证明材料上传，不能作为「{PHOTO_KIND_NAMES.get(kind, kind)}」",
                                       f"a PDF is accepted only as kind document, not {kind}"))
    with staged.path.open("rb") as fh:
        fh.seek(max(0, staged.size - 1024))
        tail = fh.read()
    if b"%%EOF" not in tail:
        raise UnsupportedMedia(Message("PDF 不完整（没有文件结束标记）：请重新上传",
                                       "not a complete PDF (no end-of-file marker): upload it again"))
    return PhotoMeta(str(staged.path), staged.sha256)


def _same_upload(existing: Photo, case_id: int, sha256: str) -> Photo:
    """The stored record of a retried upload; Conflict when the UUID was used for something else."""
    if existing.case_id != case_id:
        raise Conflict(Message(f"照片 {existing.client_uuid} 属于另一个案件",
                               f"photo {existing.client_uuid} belongs to another case"))
    if existing.sha256 != sha256:
        raise Conflict(Message(f"编号 {existing.client_uuid} 已用于另一张照片：新照片须用新编号",
                               f"client_uuid {existing.client_uuid} was already used for a different photo; "
                               "a new photo needs a new UUID"))
    return existing


