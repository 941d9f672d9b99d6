"""The one table of field names: for each layer, what a delivery may call each field, and the lookup.

Deliveries name fields in English (our own files and the demo), by the 第三次全国国土调查 (三调) and register
abbreviations (`DLBM`, `ZLDWDM`, `PZRQ`, ... — Shapefile names stop at ten bytes), or by GIS defaults
(`fid`, `OBJECTID`). Both the file-to-file check (`gis.files`) and the database imports (`api.ingest`)
read this table; names are matched case-insensitively and the first candidate present wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

#: Per layer: our name of a field → the names a delivery may give it, in order of preference.
FIELD_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "townships": {"code": ("code", "XZQDM", "ZLDWDM", "CJDCQDM", "DM"), "name": ("name", "XZQMC", "ZLDWMC", "MC")},
    "farmland": {"id": ("BSM", "id", "ID", "fid", "FID", "OBJECTID"), "bsm": ("BSM",), "dlbm": ("DLBM",),
                 "zldwdm": ("ZLDWDM",), "tbmj": ("TBMJ",), "jbntmj": ("JBNTMJ", "YJJBNTMJ", "JBNTTBMJ")},
    "dltb": {"id": ("BSM", "id", "ID", "fid", "FID", "OBJECTID"),
             **{c: (c.upper(),) for c in ("bsm", "tbbh", "dlbm", "dlmc", "qsdwdm", "qsdwmc", "zldwdm", "zldwmc",
                                          "tbmj", "kcdlbm", "kcxs", "kcmj", "tbdlmj", "gdlx", "gdpdjb")}},
    "houses": {"house_id": ("id", "house_id", "BSM", "ID", "fid", "FID", "OBJECTID", "gid"),
               "household_id": ("household_id", "HHID", "HH_ID"), "built_on": ("built_on", "JZSJ", "KGSJ"),
               "builder_type": ("builder_type", "JSZLX"), "use": ("use", "YT", "FWYT"), "floors": ("floors", "CS"),
               "village_code": ("village_code", "ZLDWDM"), "township_code": ("township_code",),
               "surveyed_on": ("surveyed_on", "DCRQ", "调查日期")},
    "baseline": {"id": ("id", "BSM", "ID", "fid", "FID", "OBJECTID"), "imaged_on": ("imaged_on", "YXSJ")},
    "households": {"household_id": ("household_id", "id", "HHID"), "head_name": ("head_name", "HZXM"),
                   "village_code": ("village_code", "ZLDWDM"), "members": ("members", "RKS"),
                   "homesteads_elsewhere": ("homesteads_elsewhere",)},
    "approvals": {"approval_id": ("approval_id", "id", "PZWH", "BSM"), "kind": ("kind", "PZLX"),
                  "body": ("body", "PZJG"), "approved_on": ("approved_on", "PZRQ"),
                  "approved_area_m2": ("approved_area_m2", "PZMJ"), "household_id": ("household_id", "HHID")},
    "plots": {"plot_id": ("plot_id", "id", "DKBM", "BSM"), "contractor_id": ("contractor_id", "household_id", "CBFBM"),
              "contract_area_m2": ("contract_area_m2", "HTMJ")},
    "epochs": {"id": ("BSM", "id", "ID", "fid", "FID", "OBJECTID", "gid")},
    "grids": {"code": ("code", "WGBM", "WGDM", "BM"), "name": ("name", "WGMC", "MC"),
              "village_code": ("village_code", "CJDM", "ZLDWDM", "XZQDM")},
    "abandoned": {"id": ("id", "BSM", "DCBH", "ID", "fid", "FID", "OBJECTID"), "cause": ("cause", "PHYY", "YY"),
                  "seen_on": ("seen_on", "DCRQ", "FXRQ"), "note": ("note", "BZ")},
    "leads": {"lead_code": ("lead_code", "JCBH", "TBBH", "code", "BSM"), "batch": ("batch", "PC", "JCPC")},
}


def names(layer: str, *fields: str) -> dict[str, tuple[str, ...]]:
    """The candidate names of some fields of a layer (all of them without `fields`)."""
    table = FIELD_NAMES[layer]
    return {f: table[f] for f in (fields or tuple(table))}


def find_field(columns: Iterable[str], candidates: Iterable[str]) -> str | None:
    """The first candidate present among `columns` (any case), as the source spells it; None if absent."""
    by_lower = {str(c).lower(): str(c) for c in columns}
    return next((by_lower[n.lower()] for n in candidates if n.lower() in by_lower), None)


def renamed(frame: pd.DataFrame, wanted: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """`frame` with the first matching source column of each wanted field renamed to our name."""
    renames = {}
    for target, candidates in wanted.items():
        hit = find_field(frame.columns, candidates)
        if hit is not None and hit != target:
            renames[hit] = target
    return frame.rename(columns=renames)
