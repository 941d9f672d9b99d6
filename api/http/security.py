"""HTTP hardening in one ASGI middleware: security headers on every response, and an Origin check on
state-changing requests that a browser could be tricked into sending (cookie-authenticated POSTs, and the
login form itself).

A bearer token travels in a header that a foreign page cannot set, so requests carrying one need no
Origin check; the HttpOnly cookie is attached by the browser to any request to this host, so a
cookie-authenticated write must come from one of our own pages.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from api.http.identity import COOKIE
from api.http.pages import content_security_policy

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Form endpoints that take no token but must still come from our own pages (login CSRF, forced log-out).
FORM_PATHS = frozenset({"/login", "/logout"})
#: Endpoints that never authenticate by the cookie (a stale cookie sent along changes nothing), and take
#: JSON only, which a foreign page cannot post without a CORS preflight that this server never grants.
NO_COOKIE_AUTH = frozenset({"/api/auth/token"})
DEFAULT_CSP = content_security_policy()


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie_present(scope: Scope) -> bool:
    return f"{COOKIE}=" in _header(scope, b"cookie")


def _own_origin(scope: Scope) -> str:
    host = _header(scope, b"host")
    return f"{scope.get('scheme', 'http')}://{host}"


def needs_origin_check(scope: Scope) -> bool:
    """A browser-sendable write: an unsafe method with the login cookie and no bearer header, or a form path."""
    if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
        return False
    if _header(scope, b"authorization").lower().startswith("bearer "):
        return False
    if scope["path"] in FORM_PATHS:
        return True
    return scope["path"] not in NO_COOKIE_AUTH and _cookie_present(scope)


def origin_ok(scope: Scope) -> bool:
    """The request's Origin (or, failing that, its Referer's origin) is this server's own."""
    origin = _header(scope, b"origin")
    if not origin or origin == "null":
        referer = _header(scope, b"referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin == _own_origin(scope)


class SecurityMiddleware:
    """Adds nosniff, frame denial, a referrer policy and a default CSP (pages set their own, stricter
    with script hashes); refuses cross-origin browser writes with 403."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if needs_origin_check(scope) and not origin_ok(scope):
            body = json.dumps({"error": {"type": "Forbidden", "message": "cross-site request refused: a "
                                         "cookie-authenticated write must come from this site's own pages"}})
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"), *_HEADERS,
                                    (b"content-security-policy", DEFAULT_CSP.encode())]})
            await send({"type": "http.response.body", "body": body.encode()})
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in _HEADERS if h[0] not in present)
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", DEFAULT_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin")]
