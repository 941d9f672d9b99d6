"""Reading multipart uploads with a hard cap on the bytes taken from the client.

Starlette's form parser reads the whole body (spooling files to disk) before a route sees it; here the
body is read only after the route's dependencies have authenticated the caller, and the ASGI receive
channel is wrapped so that the parser stops at `limit` bytes whatever the client declared or streams.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, BinaryIO

from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.requests import Request

from api.errors import InvalidQuery, TooLarge


async def capped_form(request: Request, limit: int) -> FormData:
    """The request's multipart form, refusing (413) a body of more than `limit` bytes as it arrives."""
    received = 0

    async def receive() -> Any:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(f"upload larger than {limit // (1 << 20)} MiB")
        return message

    capped = Request(request.scope, receive)
    try:
        return await capped.form(max_files=1, max_fields=16, max_part_size=64 * 1024)
    except TooLarge:
        raise
    except Exception as exc:  # a malformed multipart body: say so, never a 500
        raise InvalidQuery(f"not a readable multipart/form-data body: {exc}") from exc


class PhotoFields(BaseModel):
    """The form fields beside an uploaded photo."""

    client_uuid: str = Field(max_length=64)
    kind: str = Field(default="panorama", max_length=32)
    browser_lat: float | None = Field(default=None, ge=-90, le=90)
    browser_lon: float | None = Field(default=None, ge=-180, le=180)
    browser_heading: float | None = Field(default=None, ge=0, le=360)

    @field_validator("browser_lat", "browser_lon", "browser_heading", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> PhotoFields:  # type: ignore[override]
        """Validate, turning a pydantic error into a 422 that names the field."""
        try:
            fields = super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "form"
            raise InvalidQuery(f"field {where}: {first['msg']}") from exc
        for name in ("browser_lat", "browser_lon", "browser_heading"):
            value = getattr(fields, name)
            if value is not None and not math.isfinite(value):
                raise InvalidQuery(f"field {name}: must be a finite number")
        return fields


#: What a multipart envelope may add to the photo itself (boundaries, headers, the small form fields).
MULTIPART_OVERHEAD = 64 * 1024


@asynccontextmanager
async def photo_upload(request: Request, max_bytes: int) -> AsyncIterator[tuple[BinaryIO, PhotoFields]]:
    """The file and the form fields of a photo upload (a case's, a parcel's). The caller is authenticated and
    the declared size checked before a byte of the body is read; the body is then streamed with a hard cap
    (413); the spooled form is closed when the block ends."""
    limit = max_bytes + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge(f"photo larger than {max_bytes // (1 << 20)} MiB")
    form = await capped_form(request, limit)
    try:
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise InvalidQuery("field file: a photo file is required (multipart/form-data)")
        yield upload.file, PhotoFields.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
    finally:
        await form.close()
