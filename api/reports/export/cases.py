"""The case table of the export: one row per case of the month, Chinese column names, areas in m² and 亩."""

from __future__ import annotations

import pandas as pd

from api.cases.deadlines import COUNTY_TZ
from api.cases.workflow import CASE_ORIGIN_NAMES, upper_review_text
from api.clock import as_utc
from api.reports.monthly import MonthFigures
from gis.rules import MU_M2

CASE_COLUMNS: dict[str, str] = {
    "code": "案件编号", "township_name": "乡镇", "village_name": "村", "status": "状态", "period": "时段",
    "disposition": "处置", "codes": "八不准", "footprint_m2": "占地面积 (m²)", "farmland_m2": "占用永久基本农田 (m²)",
    "cultivated_m2": "占用耕地 (m²)", "occupied_m2": "违法占用面积 (m²)", "occupied_mu": "违法占用面积 (亩)",
    "remaining_m2": "剩余未整改面积 (m²)", "remaining_mu": "剩余未整改面积 (亩)", "found": "发现日期",
    "filed": "立案日期", "file_number": "立案号", "overdue": "是否逾期", "origin": "来源",
    "lead_codes": "卫片图斑", "upper_review": "上级审核",
}


def case_table(fig: MonthFigures, names: dict[str, str], lead_codes: list[list[str]]) -> pd.DataFrame:
    """One row per case as it stood at the month's end; `lead_codes`: per case, the satellite leads it answered
    then (`api.cases.history.lead_codes_at`), what the county reports each 卫片图斑 with."""
    c = fig.cases
    if c.empty:
        return pd.DataFrame(columns=list(CASE_COLUMNS))
    codes = [",".join(sorted(set(filter(None, f"{a},{b}".split(","))), key=int))
             for a, b in zip(c["rules"].fillna(""), c["field_rules"].fillna(""), strict=True)]
    table = pd.DataFrame({
        "code": c["code"].to_numpy(),
        "township_name": c["township_code"].map(names).fillna("").to_numpy(),
        "village_name": c["village_code"].map(names).fillna("").to_numpy(),
        "status": c["status"].to_numpy(), "period": c["period"].to_numpy(),
        "disposition": c["disposition"].to_numpy(), "codes": codes,
        "footprint_m2": c["footprint_m2"].astype(float).round(2).to_numpy(),
        "farmland_m2": c["farmland_m2"].astype(float).round(2).to_numpy(),
        "cultivated_m2": c["cultivated_m2"].astype(float).round(2).to_numpy(),
        "occupied_m2": c["occupied_m2"].astype(float).round(2).to_numpy(),
        "remaining_m2": c["remaining_m2"].astype(float).round(2).to_numpy(),
        # Found (the scan or lead that created the case) and filed (立案: the county's formal act, with its
        # number; empty until the county files the case) are different dates.
        "found": [v.astimezone(COUNTY_TZ).date().isoformat() for v in c["created_at"]],
        "filed": [as_utc(v).astimezone(COUNTY_TZ).date().isoformat() if v is not None and v == v else ""
                  for v in c["filed_at"]],
        "file_number": c["file_number"].fillna("").to_numpy() if "file_number" in c else "",
        "overdue": ["是" if v else "否" for v in c["overdue"]],
        "origin": [CASE_ORIGIN_NAMES.get(o, o) for o in c["origin"]],
        "lead_codes": ["、".join(codes) for codes in lead_codes],
        # Above the county (city, then province) once the county closed the case.
        "upper_review": [upper_review_text(s, u)
                         for s, u in zip(c["status"], c["upper_review"], strict=True)],
    })
    table["occupied_mu"] = (table["occupied_m2"] / MU_M2).round(4)
    table["remaining_mu"] = (table["remaining_m2"] / MU_M2).round(4)
    return table[list(CASE_COLUMNS)]
