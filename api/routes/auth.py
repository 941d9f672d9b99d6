"""Log in (a bearer token, and the same token as an HttpOnly cookie for the browser pages), log out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from api.auth import (
    COOKIE,
    TOKEN_LIFETIME,
    CurrentUser,
    authenticate,
    issue_token,
    presented_token,
    revoke_token,
)
from api.dependencies import SessionDep
from api.errors import NotAuthenticated

router = APIRouter(tags=["auth"])


class Credentials(BaseModel):
    username: str
    password: str

    model_config = {"json_schema_extra": {"examples": [{"username": "county", "password": "a-long-password"}]}}


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    township_code: str | None


def _login(session: SessionDep, username: str, password: str) -> tuple[str, Any]:
    user = authenticate(session, username, password)
    if user is None:
        raise NotAuthenticated("wrong username or password")
    token = issue_token(session, user)
    session.commit()
    return token, user


@router.post("/api/auth/token")
def token(session: SessionDep, body: Credentials, response: Response) -> TokenOut:
    """Exchange a username and password for a bearer token (also set as a cookie)."""
    value, user = _login(session, body.username, body.password)
    _signed_in(response, value)
    return TokenOut(access_token=value, role=user.role, township_code=user.township_code)


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


def _signed_in(response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=int(TOKEN_LIFETIME.total_seconds()))


@router.get("/api/auth/me")
def me(user: CurrentUser) -> dict[str, Any]:
    """Who the token belongs to."""
    return {"username": user.username, "role": user.role, "township_code": user.township_code}


LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Redline 登录</title>
<style>body{font:16px sans-serif;display:flex;justify-content:center;margin-top:12vh}
form{display:flex;flex-direction:column;gap:8px;width:260px}.err{color:#c00}</style></head><body>
<form method="post" action="/login"><h2>Redline 红线 登录 / Log in</h2>{error}
<label>用户名 Username <input name="username" autocomplete="username" required></label>
<label>密码 Password <input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{next}"><button type="submit">登录 Log in</button></form></body></html>"""


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(next: str = "/map", error: str = "") -> HTMLResponse:
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/map"
    message = '<p class="err">用户名或密码错误 Wrong username or password</p>' if error else ""
    return HTMLResponse(LOGIN_PAGE.replace("{error}", message).replace("{next}", safe_next))


@router.post("/login", include_in_schema=False)
def login_form(session: SessionDep, username: Annotated[str, Form()], password: Annotated[str, Form()],
               next: Annotated[str, Form()] = "/map") -> RedirectResponse:
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/map"
    try:
        value, _user = _login(session, username, password)
    except NotAuthenticated:
        return RedirectResponse(f"/login?error=1&next={safe_next}", status_code=303)
    response = RedirectResponse(safe_next, status_code=303)
    _signed_in(response, value)
    return response
