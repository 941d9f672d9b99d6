"""Evidence photos: the untouched original and its thumbnail (in the caller's scope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.evidence.store import PDF
from api.evidence.upload import photo_file
from api.http.deps import RowId, SessionDep, SettingsDep
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
def thumbnail(session: SessionDep, user: CurrentUser, settings: SettingsDep, photo_id: RowId) -> FileResponse:
    """A 320-pixel JPEG derived from the original."""
    path, media = photo_file(session, user, photo_id, settings.photo_dir, thumbnail=True)
    return FileResponse(path, media_type=media)
