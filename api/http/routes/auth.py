"""Log in (a bearer token, and the same token as an HttpOnly cookie for the browser pages), log out, change
one's own password."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.accounts.users import (
    MIN_PASSWORD_LENGTH,
    TOKEN_LIFETIME,
    LoginThrottle,
    authenticate,
    change_own_password,
    issue_token,
    revoke_token,
)
from api.errors import Message, NotAuthenticated, TooManyAttempts
from api.http.deps import SessionDep
from api.http.identity import COOKIE, CurrentUser, presented_token
from api.http.language import DEFAULT_LANGUAGE, LANG_COOKIE, LANGUAGES
from api.http.pages import page, render

router = APIRouter(tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)

    model_config = {"json_schema_extra": {"examples": [{"username": "county", "password": "a-long-password"}]}}


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)

    model_config = {"json_schema_extra": {"examples": [{"current_password": "a-long-password",
                                                        "new_password": "another-long-password"}]}}


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    township_code: str | None


def _client_address(request: Request) -> str:
    """Where a request comes from, as the login throttle counts it."""
    return request.client.host if request.client else "?"


def _login(request: Request, session: SessionDep, username: str, password: str) -> tuple[str, Any]:
    throttle: LoginThrottle = request.app.state.login_throttle
    address = _client_address(request)
    attempted = throttle.attempt(username, address)
    user = authenticate(session, username, password)
    if user is None:
        raise NotAuthenticated(Message("用户名或密码错误", "wrong username or password"))
    throttle.succeeded(username, address, attempted)
    token = issue_token(session, user)
    session.commit()
    return token, user


@router.post("/api/auth/token")
def token(request: Request, session: SessionDep, body: Credentials, response: Response) -> TokenOut:
    """Exchange a username and password for a bearer token (also set as a cookie); 429 after too many
    attempts for one username or from one address."""
    value, user = _login(request, session, body.username, body.password)
    _signed_in(request, response, value)
    return TokenOut(access_token=value, role=user.role, township_code=user.township_code)


@router.post("/api/auth/password", status_code=204)
def change_password(request: Request, session: SessionDep, user: CurrentUser, body: PasswordChange) -> Response:
    """Change one's own password: the current one is asked again (a token alone, on a phone left unlocked, does
    not take the account over) and counted by the login throttle. Every token of the user ends, this one too:
    log in again with the new password."""
    throttle: LoginThrottle = request.app.state.login_throttle
    address = _client_address(request)
    attempted = throttle.attempt(user.username, address)
    change_own_password(session, user, body.current_password, body.new_password)
    session.commit()
    throttle.succeeded(user.username, address, attempted)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response


@router.post("/api/auth/logout", status_code=204)
def logout(request: Request, session: SessionDep, _user: CurrentUser) -> Response:
    """Revoke the token this request carries (bearer or cookie) and clear the cookie."""
    return _signed_out(request, session, Response(status_code=204))


@router.post("/logout", include_in_schema=False)
def logout_form(request: Request, session: SessionDep) -> Response:
    """The pages' log-out button: revoke the cookie's token, back to the login form."""
    return _signed_out(request, session, RedirectResponse("/login", status_code=303))


def _signed_out(request: Request, session: SessionDep, response: Response) -> Response:
    token = presented_token(request)
    if token:
        revoke_token(session, token)
        session.commit()
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response


def _signed_in(request: Request, response: Response, token: str) -> None:
    """The token as an HttpOnly, SameSite=Strict cookie for the pages; Secure whenever served over HTTPS."""
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=int(TOKEN_LIFETIME.total_seconds()))


@router.get("/api/auth/me")
def me(user: CurrentUser) -> dict[str, Any]:
    """Who the token belongs to (the pages show the name and offer only what the role may do)."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "township_code": user.township_code}


#: A `next=` target: a path (and query) on this site written with URL characters only — not `//host`,
#: not `/\\host`, no scheme, no quotes or angle brackets.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_\-.~%?&=+,:;]*")


def safe_next(target: str) -> str:
    """Where to go after logging in: a path on this site only, else the map."""
    return target if _LOCAL_PATH.fullmatch(target) else "/map"


@router.get("/language", include_in_schema=False)
def switch_language(request: Request, to: str = DEFAULT_LANGUAGE, next: str = "/map") -> RedirectResponse:
    """The pages' language switch: remember the choice (a year) and go back to the page it was made on."""
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, to if to in LANGUAGES else DEFAULT_LANGUAGE, samesite="lax",
                        secure=request.url.scheme == "https", max_age=365 * 24 * 3600)
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(next: str = "/map", error: str = "", changed: str = "") -> HTMLResponse:
    message = "用户名或密码错误 Wrong username or password" if error == "1" else \
        "尝试过多，请稍后再试 Too many attempts, wait a minute" if error == "throttled" else \
        "密码已修改，请用新密码登录 Password changed: log in with the new one" if changed == "1" else ""
    return page(render("login.html", next=safe_next(next), error=message))


@router.post("/login", include_in_schema=False)
def login_form(request: Request, session: SessionDep, username: Annotated[str, Form(max_length=150)],
               password: Annotated[str, Form(max_length=1024)],
               next: Annotated[str, Form(max_length=2048)] = "/map") -> RedirectResponse:
    target = safe_next(next)
    try:
        value, _user = _login(request, session, username, password)
    except TooManyAttempts:
        return RedirectResponse(f"/login?error=throttled&next={quote(target)}", status_code=303)
    except NotAuthenticated:
        return RedirectResponse(f"/login?error=1&next={quote(target)}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    _signed_in(request, response, value)
    return response
