"""Evidence photo uploads: sniffed, size-limited, content-addressed, idempotent by the client's UUID.

The original bytes are stored untouched under their SHA-256 before the database row is committed, so a
crash between the two leaves at worst an orphan file, never a row without its file. A retried upload
(same client UUID) returns the first record instead of creating a duplicate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.cases import load_case
from api.clock import as_utc, as_utc_or_none, utcnow
from api.errors import Conflict, InvalidQuery, NotFound, TooLarge, UnsupportedMedia
from api.models import SRID, Case, Photo, User
from api.repository import read_frame
from gis.evidence import EvidencePolicy, PhotoFacts, check_photo, dhash, true_bearing
from gis.photo_meta import PhotoMeta, read_meta

#: What a photo shows; "document": a photographed contract, tax receipt or certificate (evidence for a change
#: of period).
PHOTO_KINDS = frozenset({"panorama", "closeup", "detail", "after_demolition", "document"})


PDF = "application/pdf"
#: Kinds of upload a PDF may be: a scanned contract, tax receipt or certificate — never a site photo.
DOCUMENT_KINDS = frozenset({"document"})


def sniff(head: bytes) -> str | None:
    """The media type from the first bytes: JPEG, PNG, HEIC/HEIF or PDF; None for anything else."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"heif", b"mif1", b"msf1"):
        return "image/heic"
    return None


@dataclass(frozen=True)
class Staged:
    """An upload written to a temporary file beside the store, hashed and sniffed, not yet accepted."""

    sha256: str
    size: int
    media_type: str
    path: Path


def stage_upload(stream: BinaryIO, root: Path, max_bytes: int) -> Staged:
    """Stream an upload to a temporary file under `root`, hashing as it goes; refuse it (and delete the
    temporary file) past `max_bytes` or when its first bytes are not a JPEG, PNG or HEIC."""
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"photo larger than {max_bytes // (1 << 20)} MiB")
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        media = sniff(head)
        if media is None:
            raise UnsupportedMedia("not a JPEG, PNG or HEIC image (checked by content, not by name)")
        return Staged(digest.hexdigest(), size, media, Path(tmp_name))
    except BaseException:
        discard(Path(tmp_name))
        raise


def discard(path: Path) -> None:
    """Remove a staged file (a refused upload leaves nothing behind)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def original_path(root: Path, sha256: str) -> Path:
    """Where an accepted original lives: content-addressed, root/ab/abcdef…."""
    return root / sha256[:2] / sha256


def place(staged: Staged, root: Path) -> Path:
    """Move an accepted upload to its content address (an identical original already there is kept)."""
    final = original_path(root, staged.sha256)
    final.parent.mkdir(exist_ok=True)
    if final.exists():
        discard(staged.path)
    else:
        os.replace(staged.path, final)
    return final


@dataclass(frozen=True)
class BrowserFix:
    """Where the phone's browser said it was (and faced) when the photo was taken."""

    lat: float | None = None
    lon: float | None = None
    heading: float | None = None


def _evidence(session: Session, case_id: int, meta: PhotoMeta, phash: int | None, browser: BrowserFix,
              policy: EvidencePolicy, now: dt.datetime) -> list[str]:
    """Run the evidence checks of a new photo against its case and the other cases' photos."""
    footprint = read_frame(session, Case, where=[Case.id == case_id]).geometry.iloc[0]
    created = as_utc(session.execute(select(Case.created_at).where(Case.id == case_id)).scalar_one())
    others = session.execute(select(Photo.sha256, Photo.phash).where(Photo.case_id != case_id)).all()
    bearing = true_bearing(meta.bearing_deg, meta.bearing_ref, meta.lat, meta.lon, meta.taken_at)
    facts = PhotoFacts(lat=meta.lat, lon=meta.lon, bearing_deg=bearing, taken_at=meta.taken_at,
                       browser_lat=browser.lat, browser_lon=browser.lon, sha256=meta.sha256, phash=phash)
    return check_photo(facts, footprint, SRID, case_created=created, now=now, policy=policy,
                       other_cases_sha256=frozenset(sha for sha, _ in others),
                       other_cases_phash=tuple(int(h, 16) for _, h in others if h))


THUMBNAIL_PX = 320


def thumbnail_path(root: Path, sha256: str) -> Path:
    """Where the derived thumbnail of an original lives (apart from the originals, which are never touched)."""
    return root / "thumbs" / f"{sha256}.jpg"


def make_thumbnail(original: Path, target: Path) -> None:
    """A small JPEG for maps and lists, upright per EXIF orientation; originals stay byte-for-byte."""
    if target.exists():
        return
    from PIL import Image, ImageOps

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Image.open(original) as img:
            thumb = ImageOps.exif_transpose(img).convert("RGB")
            thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            tmp = target.with_suffix(".tmp")
            thumb.save(tmp, "JPEG", quality=80)
            os.replace(tmp, target)
    except OSError:  # an image Pillow cannot decode: the original is kept, the list shows no thumbnail
        return


def photo_file(session: Session, user: User, photo_id: int, root: Path, *, thumbnail: bool) -> tuple[Path, str]:
    """The original (or thumbnail) file of a photo the user may see, and its media type."""
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"no photo {photo_id}")
    load_case(session, user, photo.case_id)  # scope: NotFound for another township's photo
    if thumbnail:
        path = thumbnail_path(root, photo.sha256)
        if not path.exists():
            raise NotFound(f"photo {photo_id} has no thumbnail")
        return path, "image/jpeg"
    return original_path(root, photo.sha256), photo.media_type


def upload_photo(factory: sessionmaker[Session], user: User, case_id: int, client_uuid: str, kind: str,
                 stream: BinaryIO, *, root: Path, max_bytes: int, now: dt.datetime | None = None,
                 browser: BrowserFix | None = None, policy: EvidencePolicy | None = None) -> Photo:
    """Attach a photo (or a document: a PDF, or a photographed contract) to a case; the same client UUID with
    the same bytes again returns the first record.

    The upload is staged and checked (size, content type, a decodable image of sane pixel count) before it
    is placed in the store, so a refused file leaves nothing behind. A client UUID already used for
    different bytes or another case is a 409: a retry must resend what it sent.
    """
    try:
        client_uuid = str(uuid.UUID(client_uuid))
    except ValueError as exc:
        raise InvalidQuery(f"client_uuid is not a UUID: {client_uuid[:64]!r}") from exc
    if kind not in PHOTO_KINDS:
        raise InvalidQuery(f"kind must be one of {', '.join(sorted(PHOTO_KINDS))}")
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
            meta = read_meta(staged.path)
            if meta.error:
                raise UnsupportedMedia(meta.error.replace(str(staged.path), "the upload"))
    except BaseException:
        discard(staged.path)
        raise
    stored = place(staged, root)
    now = now or utcnow()
    browser = browser or BrowserFix()
    phash = None if document else dhash(str(stored))
    if not document:
        make_thumbnail(stored, thumbnail_path(root, staged.sha256))
    try:
        with factory.begin() as session:
            # A document is evidence of what it says, not of where or when it was photographed.
            flags = [] if document else _evidence(session, case_id, meta, phash, browser,
                                                  policy or EvidencePolicy(), now)
            photo = Photo(client_uuid=client_uuid, case_id=case_id, sha256=staged.sha256, kind=kind,
                          media_type=staged.media_type, size_bytes=staged.size, taken_at=as_utc_or_none(meta.taken_at),
                          lat=meta.lat, lon=meta.lon, bearing_deg=meta.bearing_deg, altitude_m=meta.altitude_m,
                          bearing_ref=meta.bearing_ref, bearing_source=meta.bearing_source,
                          time_source=meta.time_source, browser_lat=browser.lat, browser_lon=browser.lon,
                          browser_heading=browser.heading, phash=f"{phash:016x}" if phash is not None else None,
                          checks=json.dumps(flags, ensure_ascii=False), uploaded_by=user.id, uploaded_at=now)
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
        raise UnsupportedMedia(f"a PDF is accepted only as kind document, not {kind}")
    with staged.path.open("rb") as fh:
        fh.seek(max(0, staged.size - 1024))
        tail = fh.read()
    if b"%%EOF" not in tail:
        raise UnsupportedMedia("not a complete PDF (no end-of-file marker): upload it again")
    return PhotoMeta(str(staged.path), staged.sha256)


def _same_upload(existing: Photo, case_id: int, sha256: str) -> Photo:
    """The stored record of a retried upload; Conflict when the UUID was used for something else."""
    if existing.case_id != case_id:
        raise Conflict(f"photo {existing.client_uuid} belongs to another case")
    if existing.sha256 != sha256:
        raise Conflict(f"client_uuid {existing.client_uuid} was already used for a different photo; "
                       "a new photo needs a new UUID")
    return existing


def photo_out(photo: Photo) -> dict[str, object]:
    """A photo as the API shows it to reviewers: what it says, and what the checks found."""
    return {"id": photo.id, "client_uuid": photo.client_uuid, "sha256": photo.sha256, "kind": photo.kind,
            "media_type": photo.media_type, "lat": photo.lat, "lon": photo.lon, "altitude_m": photo.altitude_m,
            "bearing_deg": photo.bearing_deg, "bearing_ref": photo.bearing_ref, "bearing_source": photo.bearing_source,
            "bearing_true_deg": true_bearing(photo.bearing_deg, photo.bearing_ref, photo.lat, photo.lon,
                                             as_utc(photo.taken_at) if photo.taken_at else None),
            "taken_at": as_utc(photo.taken_at).isoformat() if photo.taken_at else None,
            "time_source": photo.time_source, "browser_lat": photo.browser_lat, "browser_lon": photo.browser_lon,
            "checks": json.loads(photo.checks) if photo.checks else [],
            "original_url": f"/api/photos/{photo.id}/original", "thumbnail_url": f"/api/photos/{photo.id}/thumbnail"}
