"""Field chiefs (田长制): who answers for which area — the county, a township, a village or a grid cell.

One chief per area and level at a time: naming a new one ends the previous one (kept, with `ended_at`, so the
month's duty is reported for whoever held the post). A township-bound user (an inspector or a township officer)
may be a chief only inside their own township. A chief sees what lies in their area: its open cases, their
overdue 137 deadlines, its open abandoned-land records and their own patrols due (`inbox`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.clock import utcnow
from api.db.areas import TOWNSHIP_LEVEL, VILLAGE_LEVEL
from api.db.models import AdminArea, Chief, Grid, User
from api.errors import InvalidQuery, Message, NotFound

#: The levels of the chiefs' posts: the county, a township and a village (their `admin_areas` levels), a grid cell.
COUNTY_LEVEL = "county"
GRID_LEVEL = "grid"
LEVELS = (COUNTY_LEVEL, TOWNSHIP_LEVEL, VILLAGE_LEVEL, GRID_LEVEL)
LEVEL_NAMES: dict[str, str] = {COUNTY_LEVEL: "县级田长", TOWNSHIP_LEVEL: "乡级田长", VILLAGE_LEVEL: "村级田长",
                               GRID_LEVEL: "网格员（田管员）"}
LEVEL_NAMES_EN: dict[str, str] = {COUNTY_LEVEL: "county chief", TOWNSHIP_LEVEL: "township chief",
                                  VILLAGE_LEVEL: "village chief", GRID_LEVEL: "grid patroller"}


@dataclass(frozen=True)
class Area:
    """An area a chief answers for: its level, code, name and the township it lies in (None: the county)."""

    level: str
    code: str
    name: str
    township_code: str | None


def county_code(session: Session) -> str:
    """The county's 6-digit code (the prefix every township code shares)."""
    code = session.execute(select(func.min(AdminArea.code)).where(AdminArea.level == TOWNSHIP_LEVEL)).scalar()
    if code is None:
        raise InvalidQuery(Message("尚未导入乡镇界线", "no townships imported yet"))
    return str(code)[:6]


def find_area(session: Session, level: str, code: str) -> Area:
    """The area of `level` with `code`; InvalidQuery naming the level and code when there is none."""
    if level not in LEVELS:
        raise InvalidQuery(Message(f"级别须为：{'、'.join(f'{LEVEL_NAMES[v]} {v}' for v in LEVELS)}",
                                   f"level must be one of {', '.join(LEVELS)}"))
    if level == COUNTY_LEVEL:
        if code != county_code(session):
            raise InvalidQuery(Message(f"本县代码为 {county_code(session)}，不是 {code!r}",
                                       f"the county's code is {county_code(session)}, not {code!r}"))
        return Area(level, code, "全县", None)
    if level == GRID_LEVEL:
        grid = session.execute(select(Grid.code, Grid.name, Grid.township_code).where(Grid.code == code)).first()
        if grid is None:
            raise InvalidQuery(Message(f"没有网格 {code!r}", f"no grid cell {code!r}"))
        return Area(level, grid.code, grid.name, grid.township_code)
    row = session.execute(select(AdminArea.code, AdminArea.name, AdminArea.township_code)
                          .where(AdminArea.code == code, AdminArea.level == level)).first()
    if row is None:
        raise InvalidQuery(Message(f"没有{'乡镇' if level == TOWNSHIP_LEVEL else '村'} {code!r}",
                                   f"no {level} {code!r}"))
    return Area(level, row.code, row.name, row.township_code)


def assign_chief(session: Session, level: str, area_code: str, username: str, by: str,
                 now: dt.datetime | None = None) -> Chief:
    """Name `username` the chief of an area (ending the previous chief of that area and level)."""
    now = now or utcnow()
    area = find_area(session, level, area_code)
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        raise InvalidQuery(Message(f"没有在职用户 {username!r}", f"no active user {username!r}"))
    bound = township_of(user.role, user.township_code)
    if bound is not None and area.township_code != bound:
        raise InvalidQuery(Message(f"{username} 属于乡镇 {bound}，不能担任其他区域的田长",
                                   f"{username} works in township {bound} and cannot be a chief elsewhere"))
    for previous in session.execute(select(Chief).where(Chief.level == level, Chief.area_code == area.code,
                                                        Chief.ended_at.is_(None))).scalars():
        previous.ended_at = now
    chief = Chief(user_id=user.id, level=level, area_code=area.code, assigned_at=now, assigned_by=by)
    session.add(chief)
    session.flush()
    return chief


def posts_of(session: Session, user: User, at: dt.datetime | None = None) -> list[Area]:
    """The areas `user` is chief of (now, or at `at`)."""
    at = at or utcnow()
    rows = session.execute(select(Chief.level, Chief.area_code).where(
        Chief.user_id == user.id, Chief.assigned_at <= at,
        (Chief.ended_at.is_(None)) | (Chief.ended_at > at)).order_by(Chief.id)).all()
    return [find_area(session, level, code) for level, code in rows]


def in_area(column_of: dict[str, Any], area: Area) -> list[ColumnElement[bool]]:
    """WHERE clauses for rows in the area, given the row's township, village and grid code columns."""
    if area.level == COUNTY_LEVEL:
        return []
    column = column_of[area.level]
    if column is None:
        raise NotFound(f"nothing of this kind is located by {area.level}")
    return [column == area.code]
