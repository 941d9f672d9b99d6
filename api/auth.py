"""Users, passwords (argon2) and bearer tokens; the current user as a FastAPI dependency.

Tokens are random (256 bit); only their SHA-256 is stored. The browser pages get the same token in an
HttpOnly cookie, so the map's fetches are authenticated without script access to the token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Annotated, Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import Depends, Request
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from api.clock import as_utc, utcnow
from api.dependencies import SessionDep
from api.errors import NotAuthenticated
from api.models import ApiToken, User
from api.workflow import Role

COOKIE = "redline_token"
TOKEN_LIFETIME = dt.timedelta(hours=12)
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def create_user(session: Session, username: str, password: str, role: str, township_code: str | None = None,
                display_name: str | None = None) -> User:
    """Add a user; township roles must name their township."""
    if role not in {r.value for r in Role}:
        raise ValueError(f"role must be one of {', '.join(r.value for r in Role)}")
    if role in (Role.INSPECTOR, Role.TOWNSHIP_OFFICER) and not township_code:
        raise ValueError(f"a {role} belongs to a township: give its code")
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    user = User(username=username, password_hash=hash_password(password), role=role,
                township_code=township_code, display_name=display_name, active=True)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    return user


def issue_token(session: Session, user: User, now: dt.datetime | None = None) -> str:
    """Create a bearer token for `user` (returned once; stored hashed)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), created_at=now,
                         expires_at=now + TOKEN_LIFETIME))
    session.flush()
    return token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_user(request: Request, session: SessionDep) -> User:
    """The user behind the request's bearer token (or cookie); 401 otherwise."""
    token = presented_token(request)
    if not token:
        raise NotAuthenticated("log in first: POST /api/auth/token")
    row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == _digest(token))).first()
    if row is None:
        raise NotAuthenticated("unknown token")
    token_row, user = row
    if as_utc(token_row.expires_at) < utcnow() or not user.active:
        raise NotAuthenticated("token expired")
    return user  # type: ignore[no-any-return]


def presented_token(request: Request) -> str:
    """The token of the request: the bearer header, else the browser's cookie."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")


def revoke_token(session: Session, token: str) -> bool:
    """Forget one token (log out); True if it existed."""
    result = session.execute(delete(ApiToken).where(ApiToken.token_hash == _digest(token)))
    return bool(cast(CursorResult[Any], result).rowcount)


def disable_user(session: Session, username: str) -> int:
    """Deactivate a user and revoke all their tokens at once (someone leaves, a phone is lost).

    Returns the number of tokens revoked; ValueError for an unknown user.
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise ValueError(f"no user {username!r}")
    user.active = False
    result = session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    return int(cast(CursorResult[Any], result).rowcount)


CurrentUser = Annotated[User, Depends(current_user)]
