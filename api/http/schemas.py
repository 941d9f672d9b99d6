"""How the API shows domain records (the response shapes shared by several routes)."""

from __future__ import annotations

import json

from api.clock import as_utc
from api.db.models import Photo
from gis.evidence import true_bearing


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
            # False for the moment between an upload's answer and the decode of its pixels (thumbnail and
            # near-duplicate check still to come: `api.evidence.pixels`).
            "pixels_checked": photo.pixels_checked_at is not None,
            "original_url": f"/api/photos/{photo.id}/original", "thumbnail_url": f"/api/photos/{photo.id}/thumbnail"}
