"""The townships and villages a user may pick from (filters, bulk assignment): names with their codes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.db.areas import TOWNSHIP_LEVEL
from api.db.models import AdminArea, User
from api.db.repository import centre_lat_lon


def areas_in_scope(session: Session, user: User) -> list[dict[str, Any]]:
    """Townships, then villages, ordered by code: {code, name, level, township_code}. A township user gets
    only their township and its villages."""
    stmt = select(AdminArea.code, AdminArea.name, AdminArea.level, AdminArea.township_code)
    township = township_of(user.role, user.township_code)
    if township is not None:
        stmt = stmt.where(AdminArea.township_code == township)
    rows = session.execute(stmt.order_by(AdminArea.level, AdminArea.code)).all()  # township < village
    return [{"code": code, "name": name, "level": level, "township_code": town} for code, name, level, town in rows]


def townships_of(areas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The townships among `areas_in_scope` (the township pickers of the pages)."""
    return [a for a in areas if a["level"] == TOWNSHIP_LEVEL]


def centre_of_areas(session: Session, user: User) -> tuple[float, float] | None:
    """The centre (lat, lon, WGS 84) of the townships the user may see; None before any are imported. A map
    of millions of cases opens here: the cases' own centroid would read every one of them."""
    township = township_of(user.role, user.township_code)
    where = [AdminArea.level == TOWNSHIP_LEVEL] + ([AdminArea.township_code == township] if township else [])
    return centre_lat_lon(session, AdminArea.geom, where)
