"""The case dossier (案件档案): one A4 PDF per case that a county can hand to a court or the province.

What it holds, in order: the case's identity (code, 立案号, township and village, household, builder, floors,
construction date); a location map of the footprint over permanent basic farmland and cultivated land (三调
0101–0103) with a scale bar and a north arrow, and the footprint as each imagery epoch shows it; the areas in
m² and 亩 with the rules met (八不准) and the period; every photo with its thumbnail, position, bearing, capture
time, SHA-256 and evidence-check results; progress reports and comments; and the full history with each event's
audit hash, so the paper can be checked against `redline audit verify`.

Rendered from an autoescaping Jinja2 template (`templates/dossier.html`) by WeasyPrint, with the CJK font the
setup installs (WenQuanYi Zen Hei); the maps are inline SVG in the county CRS (metres), thumbnails embedded
as data URIs: nothing is fetched, no browser is needed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from api.cases.audit import SYSTEM_ACTOR_NAMES
from api.cases.deadlines import COUNTY_TZ
from api.cases.queries import lead_codes
from api.cases.workflow import (
    ACTION_NAMES,
    CASE_ORIGIN_NAMES,
    DECISION_NAMES,
    LEGAL_REASON_NAMES,
    STATUS_NAMES,
    VERDICT_NAMES,
    upper_review_text,
)
from api.clock import as_utc, utcnow
from api.db.areas import check_township
from api.db.models import (
    AdminArea,
    Case,
    CaseEvent,
    Comment,
    Farmland,
    House,
    Household,
    LandParcel,
    Photo,
    ProgressReport,
    User,
)
from api.db.repository import bbox_clause, read_frame
from api.errors import NotFound
from api.evidence.pixels import check_pending
from api.evidence.store import make_thumbnail, original_path, thumbnail_path
from api.evidence.upload import PHOTO_KIND_NAMES
from api.mapview.epochs import epochs_around
from api.mapview.style import CASE_COLOURS, LAYER_COLOURS
from api.reports.drawing import Frame, window_around
from api.reports.monthly import period_bounds
from api.settings import Settings
from gis.rules import (
    BUILDER_TYPE_NAMES,
    CULTIVATED_CODES,
    DISPOSITION_NAMES,
    MU_M2,
    PERIOD_NAMES,
    PROHIBITION_NAMES,
    parse_rules,
)

_TEMPLATES = Environment(loader=PackageLoader("api.reports", "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True))
#: The location map (px) and how much land around the footprint it shows (m).
MAP_WIDTH, MAP_HEIGHT = 640, 420
EPOCH_WIDTH, EPOCH_HEIGHT = 200, 140
MAP_MARGIN_M, MAP_MIN_SIDE_M = 40.0, 160.0
#: Each epoch's drawing: closer in, so a grown or shrunk footprint shows.
EPOCH_MARGIN_M, EPOCH_MIN_SIDE_M = 12.0, 40.0
#: A window of the county CRS: (minx, miny, maxx, maxy) in metres.
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Dossier:
    """A rendered dossier: the file name it is offered under and its bytes."""

    name: str
    pdf: bytes


def case_id_of(session: Session, code: str) -> int:
    """The id of the case with this code; NotFound otherwise."""
    found = session.execute(select(Case.id).where(Case.code == code)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no case {code!r}")
    return int(found)


def _weasyprint_html() -> Any:
    """WeasyPrint's `HTML`, imported where a dossier is printed (it loads Pango).

    Importing WeasyPrint sets Pillow's process-wide `ImageFile.LOAD_TRUNCATED_IMAGES` (so that it draws cut
    images). In this server that switched off, for the rest of the process, the check that proves an uploaded
    picture whole by decoding it: after the first dossier a cut PNG or HEIC was accepted, and a photo's decode
    after its upload (`api.evidence.pixels`) no longer found damaged data. The dossier embeds only thumbnails
    this system made, so the flag goes back to Pillow's default at once."""
    from PIL import ImageFile
    from weasyprint import HTML

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return HTML


def dossier_pdf(factory: sessionmaker[Session], case_id: int, settings: Settings,
                now: dt.datetime | None = None) -> Dossier:
    """The dossier of one case (the caller has checked the user's scope).

    The case's photos still waiting for the decode that follows an upload (`api.evidence.pixels`; seconds after a
    burst) are decoded first: a dossier is filed, so each photo in it carries every check its pixels allow — the
    near-duplicate check, the damaged-data flag — and the thumbnail the decode makes. The dossier is read in a
    session begun after that decode, so it sees its results (a SQLite read keeps the snapshot it began with)."""
    check_pending(factory, settings.photo_dir, settings.evidence_policy, case_id=case_id)
    html_class = _weasyprint_html()
    with factory() as session:
        html = dossier_html(session, case_id, settings, now)
        code = session.execute(select(Case.code).where(Case.id == case_id)).scalar_one()
    return Dossier(f"{code}.pdf", html_class(string=html).write_pdf())


def dossier_html(session: Session, case_id: int, settings: Settings, now: dt.datetime | None = None) -> str:
    """The dossier as HTML (what WeasyPrint prints)."""
    frame = read_frame(session, Case, ["code"], where=[Case.id == case_id])
    if frame.empty:
        raise NotFound(f"no case {case_id}")
    case = session.get(Case, case_id)
    assert case is not None
    footprint = frame.geometry.iloc[0]
    names = dict(session.execute(select(AdminArea.code, AdminArea.name).where(
        AdminArea.code.in_([c for c in (case.township_code, case.village_code) if c]))).all())
    house, household = _house_of(session, case)
    window = window_around(footprint, MAP_MARGIN_M, MAP_MIN_SIDE_M, MAP_WIDTH / MAP_HEIGHT)
    rules = sorted(parse_rules(case.rules) | parse_rules(case.field_rules))
    return _TEMPLATES.get_template("dossier.html").render(
        case=case, house=house, household=household,
        township=names.get(case.township_code or "", case.township_code or "—"),
        village=names.get(case.village_code or "", case.village_code or "—"),
        builder=BUILDER_TYPE_NAMES.get(house.builder_type or "", house.builder_type) if house else None,
        status=STATUS_NAMES.get(case.status, case.status),
        upper_review=upper_review_text(case.status, case.upper_review),  # closed: where it stands above the county
        period=PERIOD_NAMES.get(case.period, case.period),
        disposition=DISPOSITION_NAMES.get(case.disposition, case.disposition),
        verdict=VERDICT_NAMES.get(case.verdict or "", case.verdict),
        legal_reason=LEGAL_REASON_NAMES.get(case.legal_reason or "", case.legal_reason),
        decision=DECISION_NAMES.get(case.decision or "", case.decision),
        origin=CASE_ORIGIN_NAMES.get(case.origin, case.origin), lead_codes=lead_codes(session, case),
        areas=_areas(case), rules=[(r, PROHIBITION_NAMES[r]) for r in rules],
        location=_location_map(session, footprint, window),
        epochs=_epochs(session, footprint, window_around(footprint, EPOCH_MARGIN_M, EPOCH_MIN_SIDE_M,
                                                         EPOCH_WIDTH / EPOCH_HEIGHT)),
        photos=_photos(session, case.id, settings), reports=_reports(session, case.id),
        comments=_comments(session, case.id), history=_history(session, case.id),
        generated=_local(now or utcnow()), colours={"case": CASE_COLOURS["demolish"], **LAYER_COLOURS},
    )


def _local(at: dt.datetime | None) -> str:
    return as_utc(at).astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M") if at else "—"


def _house_of(session: Session, case: Case) -> tuple[House | None, Household | None]:
    house = session.get(House, case.house_id) if case.house_id else None
    household = None
    if house is not None and house.household_key:
        household = session.execute(select(Household).where(Household.source_key == house.household_key)
                                    ).scalar_one_or_none()
    return house, household


def _areas(case: Case) -> list[tuple[str, float, float]]:
    """(name, m², 亩) of each area the case is measured by."""
    rows = [("占地面积", case.footprint_m2), ("占用永久基本农田", case.farmland_m2), ("占用耕地", case.cultivated_m2),
            ("其中无合法审批", case.unapproved_cultivated_m2), ("2020年7月3日起新增", case.after_cutoff_m2),
            ("剩余未整改", case.remaining_m2)]
    return [(name, float(m2), float(m2) / MU_M2) for name, m2 in rows if m2 is not None]


def _location_map(session: Session, footprint: shapely.Geometry, window: Box) -> dict[str, Any]:
    """Farmland, cultivated parcels, other houses and the case's footprint in the window, as SVG paths."""
    frame = Frame(window, MAP_WIDTH, MAP_HEIGHT)
    clip = shapely.box(*window)

    def paths(model: type, where: Iterable[Any] = ()) -> list[str]:
        layer = read_frame(session, model, where=[bbox_clause(session, model, window), *where])  # type: ignore[arg-type]
        shapes = shapely.intersection(layer.geometry.to_numpy(), clip)
        return [frame.path(g) for g in shapes if not shapely.is_empty(g)]

    return {"width": MAP_WIDTH, "height": MAP_HEIGHT, "farmland": paths(Farmland),
            "cultivated": paths(LandParcel, [LandParcel.dlbm.in_(sorted(CULTIVATED_CODES))]),
            "houses": paths(House), "footprint": frame.path(footprint), "scale_bar": frame.scale_bar(),
            "window_m": round(window[2] - window[0])}


def _epochs(session: Session, footprint: shapely.Geometry, window: Box) -> list[dict[str, Any]]:
    """The footprints each imagery epoch shows at the house (oldest first), over the case's outline."""
    frame = Frame(window, EPOCH_WIDTH, EPOCH_HEIGHT)
    return [{"imaged_on": view.imaged_on.isoformat(), "width": EPOCH_WIDTH, "height": EPOCH_HEIGHT,
             "outline": frame.path(footprint), "shapes": [frame.path(g) for g in view.at_house.geometry],
             "area_m2": view.area_m2, "present": view.present} for view in epochs_around(session, footprint, window)]


def _photos(session: Session, case_id: int, settings: Settings) -> list[dict[str, Any]]:
    photos = session.execute(select(Photo).where(Photo.case_id == case_id).order_by(Photo.id)).scalars()
    return [{"id": p.id, "kind": PHOTO_KIND_NAMES.get(p.kind, p.kind), "taken_at": _local(p.taken_at),
             "position": f"{p.lat:.6f}, {p.lon:.6f}" if p.lat is not None and p.lon is not None else "—",
             "bearing": f"{p.bearing_deg:.0f}°{p.bearing_ref or ''}" if p.bearing_deg is not None else "—",
             "sha256": p.sha256, "media_type": p.media_type, "checks": json.loads(p.checks) if p.checks else [],
             "uploaded_at": _local(p.uploaded_at), "thumbnail": _thumbnail(settings.photo_dir, p)}
            for p in photos]


def _thumbnail(root: Path, photo: Photo) -> str | None:
    """The photo's thumbnail as a data URI (made now if it is missing); None for a PDF document."""
    if photo.media_type == "application/pdf":
        return None
    target = thumbnail_path(root, photo.sha256)
    original = original_path(root, photo.sha256)
    if not target.exists() and original.exists():
        make_thumbnail(original, target)
    if not target.exists():
        return None
    return "data:image/jpeg;base64," + base64.b64encode(target.read_bytes()).decode()


def _reports(session: Session, case_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(ProgressReport, User.username).join(User, User.id == ProgressReport.author_id)
                           .where(ProgressReport.case_id == case_id).order_by(ProgressReport.at)).all()
    return [{"at": _local(r.at), "author": name, "text": r.text, "remaining_m2": r.remaining_m2} for r, name in rows]


def _comments(session: Session, case_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(Comment, User.username).join(User, User.id == Comment.author_id)
                           .where(Comment.case_id == case_id).order_by(Comment.id)).all()
    return [{"at": _local(c.at), "author": name, "text": c.text} for c, name in rows]


def _history(session: Session, case_id: int) -> list[dict[str, Any]]:
    events = session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).scalars()
    return [{"id": e.id, "at": _local(e.at), "actor": SYSTEM_ACTOR_NAMES.get(e.actor, e.actor),
             "action": ACTION_NAMES.get(e.action, e.action),
             "code": e.action, "note": e.note, "hash": e.hash, "prev_hash": e.prev_hash} for e in events]


def cases_of_period(session: Session, township: str, period: str) -> list[int]:
    """The cases of a township that something happened to in the period — a month, a quarter or a year
    (`api.reports.monthly.period_bounds`, Asia/Shanghai): found, or any event in the audit chain — the batch a
    township files for its monthly clearance (月清), the quarterly check (季核) or the yearly assessment."""
    start, end = period_bounds(period)
    touched = select(CaseEvent.case_id).where(CaseEvent.at >= start, CaseEvent.at < end)
    stmt = (select(Case.id).where(Case.township_code == township,
                                  or_(Case.id.in_(touched), (Case.created_at >= start) & (Case.created_at < end)))
            .order_by(Case.code))
    return list(session.execute(stmt).scalars())


def dossier_zip(factory: sessionmaker[Session], township: str, period: str, settings: Settings,
                out: Path) -> list[str]:
    """A zip of the dossiers of a township's cases of the period (`cases_of_period`); returns the case codes in
    it."""
    with factory() as session:
        check_township(session, township)
        ids = cases_of_period(session, township, period)
    tmp = out.with_suffix(out.suffix + ".part")
    codes = []
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for case_id in ids:
            dossier = dossier_pdf(factory, case_id, settings)
            archive.writestr(dossier.name, dossier.pdf)
            codes.append(dossier.name.removesuffix(".pdf"))
    tmp.replace(out)
    return codes
