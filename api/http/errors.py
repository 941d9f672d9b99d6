"""The one table that maps domain errors to HTTP status codes, each rendered with the same JSON body."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.errors import (
    Conflict,
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
}


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    """Where and what, for each invalid value — never the value itself (it may be Infinity, which JSON
    cannot carry, or a megabyte of text)."""
    fields = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
              for e in exc.errors()]
    return "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5]), fields[:20]


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
            message = exc.message if isinstance(exc, RedlineError) else Message(str(exc), str(exc))
            return JSONResponse(status_code=status, content={"error": {
                "type": type(exc).__name__, "message": str(exc), "message_zh": message.zh,
                "message_en": message.en}})
        app.add_exception_handler(exc_type, handler)  # type: ignore[arg-type]
