"""The national 摸排 table (农村乱占耕地建房问题摸排): one row per house of a case, in the order and with the
Chinese headers of the national investigation record, filled from what Redline holds. Columns: `docs/mopai.md`.

Where the data comes from:
- location: the case's township and village (names and codes) and the footprint's centre on CGCS2000/WGS 84;
- builder: the houses layer's `builder_type` (建房主体) and the household register (户主, 户编号, 人口); an ID
  number only where the register carries one (attributes SFZH / ZJHM / TYSHXYDM);
- construction: `built_on` and the period Redline established, `floors`; floor area = footprint × floors (the
  record asks for it and Redline holds no surveyed floor area: marked as estimated in the docs);
- areas as of the month's end: footprint, cultivated land and permanent basic farmland (m² and 亩, projected
  CRS);
- approvals: every approval whose polygon meets the footprint (kind, body, date, approved area); excess area =
  the cultivated land no lawful approval covers (`unapproved_cultivated_m2`);
- violation: the 八不准 codes with their names; disposal: disposition, stock decision, state, 立案号;
- inspector: who recorded the on-site verdict (the first `verify` event); reviewer: who passed the county review.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cases.workflow import DECISION_NAMES, STATUS_NAMES, upper_review_text
from api.db.models import Approval, Case, CaseEvent, House, Household, User
from api.db.repository import in_chunks, read_frame
from api.reports.export.workbook import save_reproducibly
from api.reports.monthly import MonthFigures
from api.reports.xlsx import Book
from gis.codes import WEB_CRS
from gis.crs import transformer
from gis.rules import (
    APPROVAL_KIND_LABELS,
    BUILDER_TYPE_NAMES,
    DISPOSITION_NAMES,
    MU_M2,
    PERIOD_NAMES,
    PROHIBITION_NAMES,
    approval_kind,
    parse_rules,
)

#: The columns, in the national table's order: key → Chinese header.
MOPAI_COLUMNS: dict[str, str] = {
    "seq": "序号", "code": "案件编号", "house": "房屋编号", "township": "乡镇", "township_code": "乡镇代码",
    "village": "村", "village_code": "村代码", "lon": "中心经度", "lat": "中心纬度",
    "builder_type": "建房主体类型", "builder_name": "建房主体姓名（名称）",
    "builder_id": "身份证号（统一社会信用代码）",
    "household": "户编号", "members": "家庭人口", "built_on": "建设日期", "period": "建设时段", "floors": "层数",
    "footprint_m2": "占地面积（m²）", "floor_area_m2": "建筑面积（m²，估算）",
    "cultivated_m2": "占用耕地面积（m²）", "cultivated_mu": "占用耕地面积（亩）",
    "farmland_m2": "占用永久基本农田面积（m²）", "farmland_mu": "占用永久基本农田面积（亩）",
    "approvals": "审批手续（类型、机关、日期）", "approved_m2": "批准面积（m²）", "excess_m2": "超占面积（m²）",
    "prohibitions": "违法类型（八不准）", "disposal": "处置方式", "state": "处置状态", "file_number": "立案号",
    "inspector": "核查人", "reviewer": "审核人",
}
#: Register attributes that carry a builder's ID number, in the order they are looked for.
ID_ATTRIBUTES = ("SFZH", "ZJHM", "TYSHXYDM", "id_number")


def mopai_table(session: Session, fig: MonthFigures, names: dict[str, str]) -> pd.DataFrame:
    """The table for the month's cases (as they stood at its end), in MOPAI_COLUMNS order."""
    cases = fig.cases
    if cases.empty:
        return pd.DataFrame(columns=list(MOPAI_COLUMNS.values()))
    ids = [int(i) for i in cases["id"]]
    house_of = _column_by_id(session, Case.house_id, ids)
    houses = _houses(session, [h for h in house_of.values() if h is not None])
    households = _households(session, [h["household_key"] for h in houses.values() if h["household_key"]])
    unapproved = _column_by_id(session, Case.unapproved_cultivated_m2, ids)
    approvals = _approvals(session, cases)
    inspectors = _first_actor(session, ids, "verify", fig.as_of)
    reviewers = _first_actor(session, ids, "pass_review", fig.as_of)
    centres = shapely.centroid(cases.geometry.to_numpy())
    lon, lat = transformer(cases.crs, WEB_CRS).transform(
        shapely.get_x(centres), shapely.get_y(centres))
    rows = []
    for i, (row, x, y) in enumerate(zip(cases.to_dict("records"), lon, lat, strict=True)):
        house = houses.get(house_of.get(int(row["id"])) or -1, {})
        household = households.get(house.get("household_key") or "", {})
        held = approvals.get(int(row["id"]), [])
        floors = house.get("floors")
        rules = sorted(parse_rules(row["rules"]) | parse_rules(row["field_rules"]))
        rows.append({
            "seq": i + 1, "code": row["code"], "house": house.get("source_key", ""),
            "township": names.get(row["township_code"] or "", ""), "township_code": row["township_code"] or "",
            "village": names.get(row["village_code"] or "", ""), "village_code": row["village_code"] or "",
            "lon": round(float(x), 6), "lat": round(float(y), 6),
            "builder_type": BUILDER_TYPE_NAMES.get(house.get("builder_type") or "", house.get("builder_type") or ""),
            "builder_name": household.get("head_name") or "", "builder_id": household.get("id_number") or "",
            "household": house.get("household_key") or "", "members": household.get("members"),
            "built_on": house["built_on"].isoformat() if house.get("built_on") else "",
            "period": PERIOD_NAMES.get(row["period"], row["period"]), "floors": floors,
            "footprint_m2": round(float(row["footprint_m2"]), 2),
            "floor_area_m2": round(float(row["footprint_m2"]) * floors, 2) if floors else None,
            "cultivated_m2": round(float(row["cultivated_m2"]), 2),
            "cultivated_mu": round(float(row["cultivated_m2"]) / MU_M2, 4),
            "farmland_m2": round(float(row["farmland_m2"]), 2),
            "farmland_mu": round(float(row["farmland_m2"]) / MU_M2, 4),
            "approvals": "；".join(a["text"] for a in held),
            "approved_m2": round(sum(a["area"] for a in held), 2) if held else None,
            "excess_m2": round(float(unapproved.get(int(row["id"])) or 0.0), 2),
            "prohibitions": "；".join(f"{c} {PROHIBITION_NAMES[c]}" for c in rules),
            "disposal": _disposal(row), "state": _state(row),
            "file_number": row["file_number"] or "",
            "inspector": inspectors.get(int(row["id"]), ""), "reviewer": reviewers.get(int(row["id"]), ""),
        })
    return pd.DataFrame(rows, columns=list(MOPAI_COLUMNS)).rename(columns=MOPAI_COLUMNS)


def _state(row: dict[str, Any]) -> str:
    """处置状态: the case's state; a closed one says where it stands above the county (rectified only once the
    review is over)."""
    state = STATUS_NAMES.get(row["status"], row["status"])
    above = upper_review_text(row["status"], row["upper_review"])
    return f"{state}（{above}）" if above else state


def _disposal(row: dict[str, Any]) -> str:
    disposal = DISPOSITION_NAMES.get(row["disposition"], row["disposition"])
    decision = row.get("decision")
    return f"{disposal}：{DECISION_NAMES[decision]}" if decision in DECISION_NAMES else disposal


def _column_by_id(session: Session, column: Any, ids: list[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for chunk in in_chunks(ids):
        out.update({i: v for i, v in session.execute(select(Case.id, column).where(Case.id.in_(chunk)))})
    return out


def _houses(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in in_chunks(ids):
        stmt = select(House.id, House.source_key, House.household_key, House.built_on, House.builder_type,
                      House.floors).where(House.id.in_(chunk))
        out.update({r.id: r._asdict() for r in session.execute(stmt)})
    return out


def _households(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for chunk in in_chunks(sorted(set(keys))):
        stmt = select(Household.source_key, Household.head_name, Household.members, Household.attrs
                      ).where(Household.source_key.in_(chunk))
        for key, head, members, attrs in session.execute(stmt):
            extra = json.loads(attrs) if attrs else {}
            found = next((str(extra[k]) for k in ID_ATTRIBUTES if extra.get(k)), "")
            out[key] = {"head_name": head, "members": members, "id_number": found}
    return out


def _approvals(session: Session, cases: gpd.GeoDataFrame) -> dict[int, list[dict[str, Any]]]:
    """The approvals whose polygons meet each case's footprint: a text for the table and the approved area."""
    layer = read_frame(session, Approval, ["kind", "body", "approved_on", "approved_area_m2", "area_m2"])
    if layer.empty:
        return {}
    left = gpd.GeoDataFrame({"case_id": cases["id"].astype(int).to_numpy()}, geometry=cases.geometry.to_numpy(),
                            crs=cases.crs)
    pairs = gpd.sjoin(left, layer.set_crs(cases.crs, allow_override=True), predicate="intersects")
    out: dict[int, list[dict[str, Any]]] = {}
    for r in pairs.sort_values(["case_id", "approved_on"]).to_dict("records"):
        kind = APPROVAL_KIND_LABELS[approval_kind(r["kind"])]
        date = r["approved_on"].isoformat() if isinstance(r["approved_on"], dt.date) else "日期不详"
        area = r["approved_area_m2"] if r["approved_area_m2"] == r["approved_area_m2"] and r["approved_area_m2"] \
            is not None else r["area_m2"]
        out.setdefault(int(r["case_id"]), []).append(
            {"text": f"{kind}、{r['body'] or '机关不详'}、{date}", "area": float(area or 0.0)})
    return out


def _first_actor(session: Session, ids: list[int], action: str, before: dt.datetime) -> dict[int, str]:
    """Who first took `action` on each case before the month's end (display name, else username)."""
    out: dict[int, str] = {}
    for chunk in in_chunks(ids):
        stmt = (select(CaseEvent.case_id, CaseEvent.actor, User.display_name)
                .outerjoin(User, User.username == CaseEvent.actor)
                .where(CaseEvent.case_id.in_(chunk), CaseEvent.action == action, CaseEvent.at < before)
                .order_by(CaseEvent.id))
        for case_id, actor, display in session.execute(stmt):
            out.setdefault(case_id, display or actor)
    return out


def write_mopai(path: Path, table: pd.DataFrame, names: dict[str, str], stamp: dt.datetime) -> Path:
    """One workbook: the whole scope first, then a sheet per township (its Chinese name and code)."""
    book = Book(path, created=stamp)
    book.sheet("摸排表 全部", list(table.columns), _values(table))
    for code in sorted(table[MOPAI_COLUMNS["township_code"]].unique()):
        part = table[table[MOPAI_COLUMNS["township_code"]] == code].copy()
        part[MOPAI_COLUMNS["seq"]] = range(1, len(part) + 1)
        book.sheet(f"{names.get(code, '')} {code}".strip()[:31], list(table.columns), _values(part))
    return save_reproducibly(book, path, stamp)


def _values(table: pd.DataFrame) -> list[list[object]]:
    return [[None if (isinstance(v, float) and v != v) else v for v in row] for row in table.itertuples(index=False)]
