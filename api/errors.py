"""Domain errors and the one table that maps them to HTTP status codes, with a consistent JSON body."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gis.errors import RedlineInputError


class RedlineError(Exception):
    """Base of the API's domain errors."""


class NotFound(RedlineError):
    """The thing asked for does not exist (or is outside the caller's scope)."""


class InvalidQuery(RedlineError):
    """A query parameter is malformed (e.g. a bbox with three numbers)."""


class NotAuthenticated(RedlineError):
    """No valid token (HTTP 401)."""


class Forbidden(RedlineError):
    """The user's role does not allow this (HTTP 403)."""


class Conflict(RedlineError):
    """The case changed under the request, or the action is not allowed in its state (HTTP 409)."""


class UnsupportedMedia(RedlineError):
    """Not a JPEG, PNG or HEIC/HEIF file by content, whatever its name says (HTTP 415)."""


class TooManyAttempts(RedlineError):
    """Login attempts beyond the throttle's budget (HTTP 429)."""


class TooLarge(RedlineError):
    """An upload above the size limit (HTTP 413)."""


STATUS_CODES: dict[type[Exception], int] = {
    UnsupportedMedia: 415,
    TooLarge: 413,
    TooManyAttempts: 429,
    NotFound: 404,
    InvalidQuery: 422,
    NotAuthenticated: 401,
    Forbidden: 403,
    Conflict: 409,
    RedlineInputError: 422,
}


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    """Where and what, for each invalid value — never the value itself (it may be Infinity, which JSON
    cannot carry, or a megabyte of text)."""
    fields = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
              for e in exc.errors()]
    return "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5]), fields[:20]


def install_error_handlers(app: FastAPI) -> None:
    """Render every domain error as {"error": {"type", "message"}} with its status code; request validation
    errors likewise (422, naming each field)."""

    def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, fields = _validation_message(exc)
        return JSONResponse(status_code=422, content={"error": {"type": "ValidationError", "message": message,
                                                                "fields": fields}})

    app.add_exception_handler(RequestValidationError, invalid)
    for exc_type, status in STATUS_CODES.items():
        def handler(_request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse(status_code=status,
                                content={"error": {"type": type(exc).__name__, "message": str(exc)}})
        app.add_exception_handler(exc_type, handler)  # type: ignore[arg-type]
