"""Administration: the schema (`db upgrade`), users (`user add|list|password|disable|enable`), the audit chain
(`audit verify`)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.base import echo, factory, fail
from api.settings import get_settings


def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the schema (SpatiaLite file by default; REDLINE_DATABASE_URL for PostGIS)."""
    from api.db.engine import check_srid, make_engine
    from api.db.migrate import upgrade

    url = get_settings().resolved_database_url
    engine = make_engine(url)
    check_srid(engine, get_settings().srid)
    upgrade(engine, revision, srid=get_settings().srid)
    echo(f"database at {revision}: {url}")


def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="inspector | township_officer | county_reviewer | admin")],
    township: Annotated[str | None, typer.Option(help="12-digit township code (township roles)")] = None,
    password: Annotated[str | None, typer.Option(help="default: generated and printed once")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Create a user; prints the password when it was generated."""
    import secrets

    from api.accounts.users import create_user

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with factory().begin() as session:
            create_user(session, username, password, role, township, name)
    except ValueError as exc:
        fail(exc)
    echo(f"user {username} ({role}{', ' + township if township else ''}) created"
          + (f"; password: {password}" if generated else ""))


def user_list() -> None:
    """Every user: username, role, township, display name, and whether they are disabled."""
    from api.accounts.roles import ROLE_NAMES, Role
    from api.accounts.users import all_users

    with factory()() as session:
        for user in all_users(session):
            echo(f"{user.username:<20} {user.role:<16} {user.township_code or '—':<12} {ROLE_NAMES[Role(user.role)]} "
                 f"{user.display_name or ''}{'' if user.active else '  已停用 disabled'}".rstrip())


def user_password(
    username: str,
    password: Annotated[str | None, typer.Option(help="default: generated and printed once")] = None,
) -> None:
    """Give a user a new password (forgotten, or the account handed on) and log them out everywhere; prints the
    password when it was generated."""
    import secrets

    from api.accounts.users import set_password

    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with factory().begin() as session:
            revoked = set_password(session, username, password)
    except ValueError as exc:
        fail(exc)
        return
    echo(f"user {username}: new password set, {revoked} token(s) revoked"
         + (f"; password: {password}" if generated else ""))


def user_enable(username: str) -> None:
    """Let a disabled user log in again; their field-chief posts stay ended (name them with `chief assign`)."""
    from api.accounts.users import enable_user

    try:
        with factory().begin() as session:
            enable_user(session, username)
    except ValueError as exc:
        fail(exc)
        return
    echo(f"user {username} enabled; field-chief posts ended on disabling stay ended: `redline chief assign`")


def user_disable(username: str) -> None:
    """Deactivate a user, revoke every token they hold (they are logged out everywhere at once) and end their
    field-chief posts (listed, to be filled)."""
    from api.accounts.users import disable_user
    from api.stewardship.chiefs import LEVEL_NAMES

    try:
        with factory().begin() as session:
            disabled = disable_user(session, username)
    except ValueError as exc:
        fail(exc)
        return
    echo(f"user {username} disabled; {disabled.tokens} token(s) revoked")
    for level, area in disabled.posts:
        echo(f"  {LEVEL_NAMES[level]} {area}: 空缺 vacant — name a successor with `redline chief assign`")


def audit_verify() -> None:
    """Check every audit chain (cases, abandoned land, findings); name the first broken link (exit status 1 if
    any)."""
    from api.cases.audit import CHAINS, verify_chain

    broken = False
    with factory()() as session:
        for label, chain in CHAINS.items():
            report = verify_chain(session, chain)
            if report.ok:
                echo(f"{label} intact: {report.events} events")
                continue
            broken = True
            typer.secho(f"{label} BROKEN at event {report.broken_event_id}: {report.reason}", fg=typer.colors.RED,
                        err=True)
    if broken:
        raise typer.Exit(code=1)
