"""Cases: list with filters (JSON or GeoJSON), and one case."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, func, select

from api import models
from api.dependencies import SessionDep
from api.errors import NotFound
from api.geojson import feature_collection, parse_bbox
from api.repository import bbox_clause, read_frame
from gis.rules import MU_M2

router = APIRouter(prefix="/api/cases", tags=["cases"])

CASE_COLUMNS = ["code", "house_id", "township_code", "village_code", "footprint_m2", "farmland_m2", "cultivated_m2",
                "after_cutoff_m2", "farmland_after_cutoff_m2", "unapproved_after_cutoff_m2", "period",
                "disposition", "rules", "date_conflict", "status", "still_violating"]


def _filters(session: SessionDep, township: str | None, village: str | None, status: str | None,
             period: str | None, disposition: str | None, rule: int | None,
             bbox: str | None) -> list[ColumnElement[bool]]:
    c = models.Case
    where: list[ColumnElement[bool]] = []
    for col, value in ((c.township_code, township), (c.village_code, village), (c.status, status),
                       (c.period, period), (c.disposition, disposition)):
        if value:
            where.append(col == value)
    if rule is not None:
        # rules are stored as '1,4,6': match the code as a whole element of the list.
        where.append(func.instr("," + c.rules + ",", f",{rule},") > 0
                     if session.get_bind().dialect.name == "sqlite"
                     else func.strpos("," + c.rules + ",", f",{rule},") > 0)
    box = parse_bbox(bbox)
    if box:
        where.append(bbox_clause(session, models.Case, box))
    return where


@router.get("")
def list_cases(
    session: SessionDep,
    township: str | None = None, village: str | None = None, status: str | None = None,
    period: str | None = None, disposition: str | None = None,
    rule: Annotated[int | None, Query(ge=1, le=8, description="八不准 code")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)")] = None,
    format: Literal["json", "geojson"] = "json",
    limit: Annotated[int, Query(ge=1, le=20000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Cases matching every given filter; `total` counts all matches, `limit`/`offset` page them."""
    where = _filters(session, township, village, status, period, disposition, rule, bbox)
    count = select(func.count()).select_from(models.Case)
    for clause in where:
        count = count.where(clause)
    total = session.execute(count).scalar_one()
    frame = read_frame(session, models.Case, CASE_COLUMNS, where=where, order_by="code", limit=limit,
                       offset=offset)
    frame["farmland_mu"] = (frame["farmland_m2"] / MU_M2).round(3)
    if format == "geojson":
        return feature_collection(frame, total=total)
    records = frame.drop(columns="geometry").to_dict("records")
    return {"total": total, "items": records}


@router.get("/{case_id}")
def get_case(session: SessionDep, case_id: int) -> dict[str, Any]:
    """One case as a GeoJSON Feature (EPSG:4326) with its areas in m² and 亩."""
    frame = read_frame(session, models.Case, CASE_COLUMNS, where=[models.Case.id == case_id])
    if frame.empty:
        raise NotFound(f"no case {case_id}")
    frame["farmland_mu"] = (frame["farmland_m2"] / MU_M2).round(3)
    frame["footprint_mu"] = (frame["footprint_m2"] / MU_M2).round(3)
    return feature_collection(frame)["features"][0]  # type: ignore[no-any-return]
