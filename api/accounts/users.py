"""Users, passwords (argon2), the login throttle and bearer tokens.

Tokens are random (256 bit); only their SHA-256 is stored. How a request presents one (header or cookie)
is the HTTP edge's business: `api.http.identity`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from api.accounts.roles import TOWNSHIP_BOUND, Role, township_of
from api.clock import as_utc, utcnow
from api.db.areas import check_township
from api.db.models import ApiToken, Chief, User
from api.errors import InvalidQuery, Message, NotAuthenticated, TooManyAttempts
from gis.errors import RedlineInputError

TOKEN_LIFETIME = dt.timedelta(hours=12)
#: The shortest password an account may have (characters).
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def create_user(session: Session, username: str, password: str, role: str, township_code: str | None = None,
                display_name: str | None = None) -> User:
    """Add a user; township roles must name a township the county has (by its 12-digit code).

    Every refusal is a `RedlineInputError` naming the field, raised before anything is written (an existing
    username is refused here, not by the database, whose error would echo the new password's hash).
    """
    if not username.strip():
        raise RedlineInputError("a username is required", field="username")
    if role not in {r.value for r in Role}:
        raise RedlineInputError(f"role must be one of {', '.join(r.value for r in Role)}", field="role")
    if role in TOWNSHIP_BOUND and not township_code:
        raise RedlineInputError(f"a {role} belongs to a township: give its code", field="township")
    if township_code is not None:
        _check_township(session, township_code)
    _check_password(password)
    if session.execute(select(User.id).where(User.username == username)).first() is not None:
        raise RedlineInputError(f"user {username!r} exists already", field="username")
    user = User(username=username, password_hash=hash_password(password), role=role,
                township_code=township_code, display_name=display_name, active=True)
    session.add(user)
    session.flush()
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RedlineInputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")


def _user_named(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise RedlineInputError(f"no user {username!r}", field="username")
    return user  # type: ignore[no-any-return]


def set_password(session: Session, username: str, password: str) -> int:
    """Give a user a new password (an admin's reset: forgotten, or handed on) and revoke every token they hold,
    so no session opened with the old one lives on. Returns the tokens revoked. RedlineInputError (naming the
    field) for an unknown user or a short password, before anything is written."""
    _check_password(password)
    user = _user_named(session, username)
    user.password_hash = hash_password(password)
    result = session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    return int(cast(CursorResult[Any], result).rowcount)


def change_own_password(session: Session, user: User, current: str, new: str) -> int:
    """A user's own change of password: the current one must be right (a token alone, on a phone left
    unlocked, does not let anyone take the account over), the new one long enough and different. Every token
    of the user is revoked — this session's too: they log in again with the new password."""
    if not _verify(user.password_hash, current):
        raise InvalidQuery(Message("当前密码不正确", "the current password is wrong"))
    if new == current:
        raise InvalidQuery(Message("新密码不能与当前密码相同", "the new password is the current one"))
    try:
        return set_password(session, user.username, new)
    except RedlineInputError:
        raise InvalidQuery(Message(f"新密码至少 {MIN_PASSWORD_LENGTH} 个字符",
                                   f"a password needs at least {MIN_PASSWORD_LENGTH} characters")) from None


def enable_user(session: Session, username: str) -> None:
    """Let a disabled user log in again (back from leave, a phone found). Their field-chief posts stay ended:
    an admin names them again where they are to answer (`redline chief assign`)."""
    _user_named(session, username).active = True


def users_in_scope(session: Session, user: User, role: str | None = None) -> list[User]:
    """Active users the caller may pick (assign to): in the caller's township for township roles; of one
    role when given. Ordered by township, then username."""
    stmt = select(User).where(User.active.is_(True))
    township = township_of(user.role, user.township_code)
    if township is not None:
        stmt = stmt.where(User.township_code == township)
    if role is not None:
        stmt = stmt.where(User.role == role)
    return list(session.execute(stmt.order_by(User.township_code, User.username)).scalars())


def all_users(session: Session) -> list[User]:
    """Every user, disabled ones too (an admin's list: who may log in, in which role and township)."""
    return list(session.execute(select(User).order_by(User.role, User.township_code, User.username)).scalars())


def _check_township(session: Session, code: str) -> None:
    """A township code is 12 digits ending in 000 (乡镇级); once townships are imported it must be one of them."""
    try:
        check_township(session, code, before_import=True)
    except InvalidQuery as exc:
        raise RedlineInputError(str(exc), field="township") from None


#: At most this many password hashes are computed at once — half the cores, so the rest keep serving:
#: each argon2 verification takes 64 MiB and a core for ~50 ms, and 40 concurrent wrong passwords would
#: otherwise take gigabytes and starve the server.
_HASHING = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))
_dummy_hash: str | None = None


def _verify(password_hash: str, password: str) -> bool:
    with _HASHING:
        try:
            return bool(_hasher.verify(password_hash, password))
        except (VerifyMismatchError, InvalidHashError):
            return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None.

    An unknown or disabled user costs the same argon2 verification as a known one (against a dummy hash),
    so the response time does not tell which usernames exist.
    """
    global _dummy_hash
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        _verify(_dummy_hash, password)
        return None
    return user if _verify(user.password_hash, password) else None


@dataclass(frozen=True)
class ThrottlePolicy:
    """Login attempts allowed per window, per username and per client address."""

    window_s: float = 300.0
    per_user: int = 10
    per_address: int = 30


class LoginThrottle:
    """Counts login attempts per username and per client address in a sliding window (in this process).

    Attempts are counted when they start, so a burst of concurrent guesses is cut off as it arrives, not
    after every one of them has been hashed. A successful login clears the username's count and takes its own
    attempt off the address's count: a county bureau behind one public address logs in dozens of officials
    every morning, and only failures say anything about guessing.
    """

    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        self._lock = threading.Lock()
        self._attempts: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._attempts.setdefault(key, deque())
        while times and times[0] <= now - self.policy.window_s:
            times.popleft()
        return times

    def attempt(self, username: str, address: str) -> float:
        """Record an attempt (returns its time, for `succeeded`); TooManyAttempts if either budget is spent."""
        now = time.monotonic()
        with self._lock:
            by_user, by_address = self._recent("u:" + username, now), self._recent("a:" + address, now)
            if len(by_user) >= self.policy.per_user or len(by_address) >= self.policy.per_address:
                wait = self.policy.window_s - (now - min(by_user[0] if by_user else now,
                                                         by_address[0] if by_address else now))
                raise TooManyAttempts(Message(f"登录尝试过多：请 {max(1, int(wait))} 秒后再试",
                                              f"too many login attempts; try again in {max(1, int(wait))} s"))
            by_user.append(now)
            by_address.append(now)
            if len(self._attempts) > 100_000:  # forget idle keys so the table cannot grow without bound
                for key in [k for k, v in self._attempts.items() if not v]:
                    del self._attempts[key]
            return now

    def succeeded(self, username: str, address: str, at: float) -> None:
        """A login that succeeded: it no longer counts, for the username or for the address."""
        with self._lock:
            self._attempts.pop("u:" + username, None)
            by_address = self._attempts.get("a:" + address)
            if by_address is not None and at in by_address:
                by_address.remove(at)


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


def user_of_token(session: Session, token: str) -> User:
    """The active user a presented token belongs to; NotAuthenticated if it is unknown or expired."""
    if not token:
        raise NotAuthenticated(Message("请先登录", "log in first: POST /api/auth/token"))
    row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == _digest(token))).first()
    if row is None:
        raise NotAuthenticated("unknown token")
    token_row, user = row
    if as_utc(token_row.expires_at) < utcnow() or not user.active:
        raise NotAuthenticated(Message("登录已过期：请重新登录", "token expired"))
    return user  # type: ignore[no-any-return]


def revoke_token(session: Session, token: str) -> bool:
    """Forget one token (log out); True if it existed."""
    result = session.execute(delete(ApiToken).where(ApiToken.token_hash == _digest(token)))
    return bool(cast(CursorResult[Any], result).rowcount)


@dataclass(frozen=True)
class Disabled:
    """What disabling a user ended: their tokens, and their field-chief posts as (level, area code)."""

    tokens: int
    posts: list[tuple[str, str]]


def disable_user(session: Session, username: str, now: dt.datetime | None = None) -> Disabled:
    """Deactivate a user, revoke all their tokens and end their field-chief posts, at once (someone leaves, a
    phone is lost).

    A chief answers for an area (田长制); an account nobody can log in to answers for nothing, so its posts end
    now (kept with `ended_at`: the month's duty report still names who held them) and show as vacant until an
    admin names a successor. ValueError for an unknown user.
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise ValueError(f"no user {username!r}")
    user.active = False
    result = session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    posts = session.execute(select(Chief).where(Chief.user_id == user.id, Chief.ended_at.is_(None))
                            .order_by(Chief.id)).scalars().all()
    for chief in posts:
        chief.ended_at = now or utcnow()
    return Disabled(int(cast(CursorResult[Any], result).rowcount), [(c.level, c.area_code) for c in posts])

