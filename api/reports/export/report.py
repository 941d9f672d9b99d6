"""The export's printable report (HTML, A4 landscape): the township summary, a map of the month's cases over
the township boundaries, a small chart per township, and the field chiefs' section (patrols per chief,
abandoned land per township, a map of grid coverage, abandoned land and patrol tracks) — rendered by an
autoescaping Jinja2 template (`api/reports/templates/monthly_report.html`); the drawings are inline SVG computed
here from the county CRS (metres), with no basemap, so the report prints offline."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from api.cases.deadlines import COUNTY_TZ
from api.mapview.style import CASE_COLOURS, LAYER_COLOURS, case_colour, legend
from api.reports.drawing import Frame
from api.reports.export.workbook import DUTY_COLUMNS, LAND_COLUMNS
from api.reports.monthly import PERIOD_WORDS, SUMMARY_COLUMNS, MonthFigures, period_kind, townships, worded
from api.stewardship.queries import month_land

_TEMPLATES = Environment(loader=PackageLoader("api.reports", "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True))
MAP_WIDTH, MAP_HEIGHT = 760, 520


def _cell(value: object) -> tuple[str, bool]:
    """A summary cell as text, and whether it is a number (right-aligned)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", False
    if isinstance(value, float):
        return f"{value:,.2f}", True
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), True
    return str(value), False


def _case_map(session: Session, layer: gpd.GeoDataFrame, township: str | None) -> dict[str, Any] | None:
    """Township outlines (SVG path data) with their names, and one dot per case, in SVG pixels."""
    towns = townships(session, township)
    shapes = towns.geometry.to_numpy()
    if len(shapes) == 0:
        return None
    frame = Frame(tuple(shapely.total_bounds(shapes)), MAP_WIDTH, MAP_HEIGHT)  # type: ignore[arg-type]
    px, path = frame.px, frame.path

    labels = shapely.point_on_surface(shapes)
    outlines = [{"d": path(g), "name": name, "at": px(c.x, c.y)}
                for g, name, c in zip(shapes, towns["name"], labels, strict=True)]
    dots = []
    if len(layer):
        points = shapely.point_on_surface(layer.geometry.to_numpy())
        dots = [{"at": px(p.x, p.y), "colour": case_colour(d, s)}
                for p, d, s in zip(points, layer["disposition"], layer["status"], strict=True)]
    return {"width": MAP_WIDTH, "height": MAP_HEIGHT, "outlines": outlines, "dots": dots,
            "outline_colour": LAYER_COLOURS["admin"]}


def _land_map(session: Session, month: str, township: str | None) -> dict[str, Any] | None:
    """The 田长制 map of the month: township outlines, grid cells by patrol coverage, abandoned land standing at
    the month's end (open filled, remedied or dismissed outlined) and the month's patrol tracks, in SVG pixels."""
    towns = townships(session, township)
    shapes = towns.geometry.to_numpy()
    if len(shapes) == 0:
        return None
    frame = Frame(tuple(shapely.total_bounds(shapes)), MAP_WIDTH, MAP_HEIGHT)  # type: ignore[arg-type]
    cells, records, tracks = month_land(session, month, township)
    return {"width": MAP_WIDTH, "height": MAP_HEIGHT, "colours": LAYER_COLOURS,
            "outlines": [frame.path(g) for g in shapes],
            "cells": [{"d": frame.path(g), "patrolled": bool(p)}
                      for g, p in zip(cells.geometry, cells["patrolled"], strict=True)],
            # A field is a few pixels at county scale: each record is drawn at least as a dot.
            "records": [{"d": frame.path(g), "at": frame.px(c.x, c.y), "open": bool(o)}
                        for g, c, o in zip(records.geometry, shapely.point_on_surface(records.geometry.to_numpy()),
                                           records["open"], strict=True)],
            "tracks": [frame.polyline(g) for g in tracks.geometry],
            "scale": frame.scale_bar(),
            "counts": {"cells": len(cells), "patrolled": int(cells["patrolled"].sum()), "records": len(records),
                       "open": int(records["open"].sum()), "tracks": len(tracks)}}


def _table(frame: pd.DataFrame, columns: Mapping[str, str], period: str) -> dict[str, Any]:
    """A stewardship table for the template: its headers (in the period's words) and its cells as (text, is a
    number)."""
    return {"headers": [worded(h, period) for h in columns.values()],
            "rows": [[_cell(r[c]) for c in columns] for r in frame.to_dict("records")]}


def _bars(row: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """New, closed and overdue cases of one township as bars (80 px for the largest)."""
    bars = [("新增", int(row["new_cases"]), LAYER_COLOURS["admin"]), ("办结", int(row["closed"]), "#33a02c"),
            ("逾期", int(row["overdue"]), CASE_COLOURS["demolish"])]
    top = max(1, *(v for _n, v, _c in bars))
    return [{"label": label, "value": value, "colour": colour, "x": 20 + i * 65, "height": round(80 * value / top, 1)}
            for i, (label, value, colour) in enumerate(bars)]


def write_report(path: Path, fig: MonthFigures, cases: pd.DataFrame, layer: gpd.GeoDataFrame, session: Session,
                 township: str | None, *, duty: pd.DataFrame, land: pd.DataFrame) -> Path:
    """Write the report of the month (the county's, or one township's) to `path`: cases, then the field chiefs'
    patrols and abandoned land (`duty`, `land`: the workbook's sheets, so paper and workbook agree)."""
    rows = fig.summary.to_dict("records")
    words = PERIOD_WORDS[period_kind(fig.month)]
    html = _TEMPLATES.get_template("monthly_report.html").render(
        title=f"{words.report_zh} {words.report_en} {fig.month}" + (f" — {township}" if township else ""),
        words=words,
        as_of=fig.as_of.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M"),
        case_count=len(cases),
        headers=[worded(h, fig.month) for h in SUMMARY_COLUMNS.values()],
        rows=[[_cell(r[c]) for c in SUMMARY_COLUMNS] for r in rows],
        case_map=_case_map(session, layer, township),
        legend=legend(),
        charts=[{"name": str(r["township_name"]), "bars": _bars(r)} for r in rows[:-1]],
        land_table=_table(land, LAND_COLUMNS, fig.month), duty_table=_table(duty, DUTY_COLUMNS, fig.month),
        land_map=_land_map(session, fig.month, township),
    )
    path.write_text(html, encoding="utf-8")
    return path
