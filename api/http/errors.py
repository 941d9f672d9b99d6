"""The one table that maps domain errors to HTTP status codes, each rendered with the same JSON body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from api.errors import (
    Conflict,
    DatabaseBusy,
    Forbidden,
    InvalidQuery,
    Message,
    NotAuthenticated,
    NotFound,
    RedlineError,
    TooLarge,
    TooManyAttempts,
    UnsupportedMedia,
)
from api.http.identity import LoginRequired
from gis.errors import RedlineInputError

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
    DatabaseBusy: 503,
}
LOG = logging.getLogger("redline.http")


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    """Where and what, for each invalid value — never the value itself (it may be Infinity, which JSON
    cannot carry, or a megabyte of text)."""
    fields = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
              for e in exc.errors()]
    return "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5]), fields[:20]


def _error(status: int, exc: Exception, headers: dict[str, str] | None = None) -> JSONResponse:
    message = exc.message if isinstance(exc, RedlineError) else Message(str(exc), str(exc))
    return JSONResponse(status_code=status, headers=headers, content={"error": {
        "type": type(exc).__name__, "message": str(exc), "message_zh": message.zh, "message_en": message.en}})


def install_error_handlers(app: FastAPI) -> None:
    """Render every domain error as {"error": {"type", "message", "message_zh", "message_en"}} with its status
    code (`message` says both, Chinese first; the pages show the language the user picked); request
    validation errors likewise (422, naming each field)."""

    def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, fields = _validation_message(exc)
        return JSONResponse(status_code=422, content={"error": {
            "type": "ValidationError", "message": message, "message_zh": f"请求参数无效：{message}",
            "message_en": message, "fields": fields}})

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(LoginRequired, lambda _request, exc: exc.redirect())  # type: ignore[attr-defined]
    for exc_type, status in STATUS_CODES.items():
        def handler(_request: Request, exc: Exception, status: int = status) -> JSONResponse:
            headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, DatabaseBusy) else None
            return _error(status, exc, headers)
        app.add_exception_handler(exc_type, handler)  # type: ignore[arg-type]

    def database_error(request: Request, exc: Exception) -> JSONResponse:
        """SQLite's busy timeout, met when another process (the CLI) held the write lock throughout: the
        same 503 as a write that waited too long in this process. Anything else is a fault of ours."""
        if "database is locked" in str(exc):
            return _error(503, DatabaseBusy(), {"Retry-After": "5"})
        return internal_error(request, exc)

    def internal_error(request: Request, exc: Exception) -> JSONResponse:
        """A fault of ours: logged with its traceback; the user gets a message in JSON, never the trace."""
        LOG.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={"error": {
            "type": "InternalError", "message": "服务器内部错误，已记录（internal error, logged）",
            "message_zh": "服务器内部错误，已记录", "message_en": "internal error, logged"}})

    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, internal_error)
