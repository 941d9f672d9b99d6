"""The townships and villages a user may pick from (filters, bulk assignment): names with their codes."""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.db.models import AdminArea, User
from gis.codes import WEB_CRS
from gis.crs import transformer


def areas_in_scope(session: Session, user: User) -> list[dict[str, Any]]:
    """Townships, then villages, ordered by code: {code, name, level, township_code}. A township user gets
    only their township and its villages."""
    stmt = select(AdminArea.code, AdminArea.name, AdminArea.level, AdminArea.township_code)
    township = township_of(user.role, user.township_code)
    if township is not None:
        stmt = stmt.where(AdminArea.township_code == township)
    rows = session.execute(stmt.order_by(AdminArea.level, AdminArea.code)).all()  # township < village
    return [{"code": code, "name": name, "level": level, "township_code": town} for code, name, level, town in rows]


def centre_of_areas(session: Session, user: User, srid: int) -> tuple[float, float] | None:
    """The centre (lat, lon, WGS 84) of the townships the user may see; None before any are imported. A map
    of millions of cases opens here: the cases' own centroid would read every one of them."""
    stmt = select(func.ST_AsBinary(func.ST_Centroid(func.ST_Collect(AdminArea.geom)))).where(
        AdminArea.level == "township")
    township = township_of(user.role, user.township_code)
    if township is not None:
        stmt = stmt.where(AdminArea.township_code == township)
    wkb = session.execute(stmt).scalar()
    if wkb is None:
        return None
    point = shapely.from_wkb(bytes(wkb))
    lon, lat = transformer(f"EPSG:{srid}", WEB_CRS).transform(point.x, point.y)
    return lat, lon
