"""Who is asking: the bearer token (or the browser's HttpOnly cookie) of a request, as a FastAPI dependency.

The browser pages get the same token as the API's clients, in an HttpOnly cookie, so the map's fetches are
authenticated without script access to the token.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from api.accounts.users import user_of_token
from api.db.models import User
from api.errors import NotAuthenticated
from api.http.deps import SessionDep

COOKIE = "redline_token"


def current_user(request: Request, session: SessionDep) -> User:
    """The user behind the request's bearer token (or cookie); 401 otherwise."""
    user = user_of_token(session, presented_token(request))
    # Hand the connection back before the route runs: a write service opens its own session, and a
    # request holding two pool connections at once deadlocks the pool under load (50 writers, pool 15).
    # The user is detached first so that reading its attributes never checks a connection out again.
    session.expunge(user)
    session.rollback()
    return user


def reading_user(request: Request, session: SessionDep) -> User:
    """The user behind the request, for a read-only route that uses nothing but the request's own session
    (the map's tiles): the connection the token was checked on stays checked out for the route,
    one pool checkout (and one pre-ping) per request instead of two. A route that writes through its own
    session must use `current_user`, which hands the connection back first."""
    return user_of_token(session, presented_token(request))


class LoginRequired(Exception):
    """A page asked for without a valid login: answered with the login form, which comes back here."""

    def __init__(self, here: str) -> None:
        super().__init__(here)
        self.here = here

    def redirect(self) -> Response:
        return RedirectResponse(f"/login?next={quote(self.here)}", status_code=303)


def page_user(request: Request, session: SessionDep) -> User:
    """For a page: the signed-in user; without one, `LoginRequired` (→ the login form)."""
    try:
        return current_user(request, session)
    except NotAuthenticated as exc:
        raise LoginRequired(request.url.path + ("?" + request.url.query if request.url.query else "")) from exc


def presented_token(request: Request) -> str:
    """The token of the request: the bearer header, else the browser's cookie."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")


CurrentUser = Annotated[User, Depends(current_user)]
ReadingUser = Annotated[User, Depends(reading_user)]
PageUser = Annotated[User, Depends(page_user)]
