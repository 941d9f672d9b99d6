"""Evidence photos: the untouched original and its thumbnail (in the caller's scope)."""

from __future__ import annotations

import functools

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.evidence.pixels import check_pixels
from api.evidence.store import PDF
from api.evidence.upload import photo_file
from api.http.deps import FactoryDep, RowId, SessionDep, SettingsDep
from api.http.identity import CurrentUser

router = APIRouter(prefix="/api/photos", tags=["photos"])


@router.get("/{photo_id}/original")
def original(session: SessionDep, user: CurrentUser, settings: SettingsDep, photo_id: RowId) -> FileResponse:
    """The photo exactly as uploaded (EXIF intact); a PDF document as a download, never shown inline."""
    path, media = photo_file(session, user, photo_id, settings.photo_dir, thumbnail=False)
    if media == PDF:
        return FileResponse(path, media_type=media, filename=f"document-{photo_id}.pdf",
                            content_disposition_type="attachment")
    return FileResponse(path, media_type=media)


@router.get("/{photo_id}/thumbnail")
def thumbnail(session: SessionDep, factory: FactoryDep, user: CurrentUser, settings: SettingsDep,
              photo_id: RowId) -> FileResponse:
    """A 320-pixel JPEG derived from the original (made now if asked for before the decode after its upload)."""
    path, media = photo_file(session, user, photo_id, settings.photo_dir, thumbnail=True,
                             check_pixels=functools.partial(check_pixels, factory, settings.photo_dir,
                                                            policy=settings.evidence_policy))
    return FileResponse(path, media_type=media)
