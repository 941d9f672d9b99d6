"""The desk's case list as a file (CSV or xlsx): the filtered cases with Chinese column names and labels, the
codes in columns beside them (for sorting and for other systems), areas in m² and 亩, times in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd

from api.cases.deadlines import COUNTY_TZ
from api.cases.workflow import STATUS_NAMES, upper_review_text
from api.reports.xlsx import Book
from gis.rules import DISPOSITION_NAMES, PERIOD_NAMES

#: Most rows one download holds (a county has tens of thousands of cases; a province splits by county).
MAX_DOWNLOAD = 200_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _local(text: str | None) -> str:
    """An ISO instant (UTC) as Asia/Shanghai minutes."""
    if not text:
        return ""
    return dt.datetime.fromisoformat(text).astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")


def case_list_table(frame: pd.DataFrame, area_names: dict[str, str]) -> pd.DataFrame:
    """One row per listed case (as `api.cases.queries.list_cases` returns them)."""
    def named(column: str, names: dict[str, str]) -> list[str]:
        return [names.get(v, v or "") for v in frame[column].fillna("")]

    return pd.DataFrame({
        "案件编号": frame["code"].to_numpy(),
        "乡镇": named("township_code", area_names), "村": named("village_code", area_names),
        "状态": named("status", STATUS_NAMES), "时段": named("period", PERIOD_NAMES),
        "处置": named("disposition", DISPOSITION_NAMES),
        "八不准": [",".join(x for x in (a, b) if x) for a, b in zip(frame["rules"].fillna(""),
                                                                frame["field_rules"].fillna(""), strict=True)],
        "占地面积 (m²)": frame["footprint_m2"].astype(float).round(2).to_numpy(),
        "占用永久基本农田 (m²)": frame["farmland_m2"].astype(float).round(2).to_numpy(),
        "占用永久基本农田 (亩)": frame["farmland_mu"].to_numpy(),
        "剩余未整改 (m²)": frame["remaining_m2"].astype(float).round(2).to_numpy(),
        "下一期限": [_local(v) for v in frame["next_deadline"]],
        "逾期": ["是" if v else "否" for v in frame["overdue"]],
        "巡查员": frame["assignee"].fillna("").to_numpy(),
        "立案号": frame["file_number"].fillna("").to_numpy(),
        "上级审核": [upper_review_text(status, level)
                 for status, level in zip(frame["status"], frame["upper_review"], strict=True)],
        "乡镇代码": frame["township_code"].fillna("").to_numpy(), "村代码": frame["village_code"].fillna("").to_numpy(),
        "状态代码": frame["status"].to_numpy(), "时段代码": frame["period"].to_numpy(),
        "处置代码": frame["disposition"].to_numpy(),
    })


#: What a spreadsheet program reads as the start of a formula in a CSV cell (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def case_list_csv(frame: pd.DataFrame, area_names: dict[str, str]) -> bytes:
    """CSV in UTF-8 with a byte-order mark, which Excel needs to read Chinese correctly.

    A text that would start a formula (a file number or a name typed as "=HYPERLINK(...)") gets a leading
    apostrophe, so a spreadsheet shows it as text instead of running it — the mitigation OWASP gives for CSV
    injection. Codes, labels and numbers never start so and are written as they are."""
    table = case_list_table(frame, area_names)
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            texts = table[column].astype(object)
            risky = texts.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS)).to_numpy(dtype=bool)
            if risky.any():
                table[column] = texts.where(~risky, "'" + texts.astype(str))
    return table.to_csv(index=False).encode("utf-8-sig")


def case_list_xlsx(frame: pd.DataFrame, area_names: dict[str, str]) -> bytes:
    """One sheet, header bold and frozen."""
    table = case_list_table(frame, area_names)
    out = io.BytesIO()
    book = Book(out)
    book.sheet("案件清单", list(table.columns), list(table.itertuples(index=False)))
    book.close()
    return out.getvalue()
