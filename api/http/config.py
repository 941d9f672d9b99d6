"""What the pages' scripts need to know, from the one home of each fact: Chinese labels of every code, the
palette, the evidence view cone, the land-class codes. Served at `/api/config` (the field app, which caches
it for offline use) and embedded in each desk page as JSON (no extra request)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.accounts.roles import ROLE_NAMES
from api.cases.audit import SYSTEM_ACTOR_NAMES, SYSTEM_ACTOR_NAMES_EN
from api.cases.deadlines import DEADLINE_NAMES
from api.cases.workflow import (
    ACTION_NAMES,
    CASE_ORIGIN_NAMES,
    DECISION_NAMES,
    KEEPS_THE_HOUSE,
    LEGAL_REASON_NAMES,
    NEVER_KEPT_PERIODS,
    REVIEW_LEVEL_NAMES,
    STATUS_NAMES,
    VERDICT_NAMES,
)
from api.db.areas import TOWNSHIP_LEVEL, VILLAGE_LEVEL
from api.evidence.pixels import PHOTO_STATE_NAMES
from api.evidence.upload import PHOTO_KIND_NAMES
from api.mapview.style import CASE_COLOURS, CLOSED_COLOUR, LAYER_COLOURS, SELECTED_COLOUR, legend
from api.mapview.tiles import DETAIL_ZOOM, LAYER_MIN_ZOOM
from api.reports.monthly import PERIOD_KIND_NAMES, PERIOD_KIND_NAMES_EN
from api.settings import Settings
from api.stewardship.chiefs import COUNTY_LEVEL, GRID_LEVEL, LEVEL_NAMES, LEVEL_NAMES_EN
from api.stewardship.workflow import (
    CAUSE_NAMES,
    FINDING_ACTION_NAMES,
    FINDING_KINDS,
    LAND_ACTION_NAMES,
    LAND_PHOTO_KINDS,
    LAND_STATUS_NAMES,
    OUTCOME_NAMES,
    REMEDY_NAMES,
)
from gis.rules import (
    CULTIVATED_CODES,
    DISPOSITION_NAMES,
    DISPOSITION_NAMES_EN,
    FIELD_ONLY_PROHIBITIONS,
    PERIOD_NAMES,
    PERIOD_NAMES_EN,
    PROHIBITION_NAMES,
    PROHIBITION_NAMES_EN,
    Prohibition,
)


def _english(codes: Iterable[str]) -> dict[str, str]:
    """English labels of codes that are English words already ("notice_served" → "notice served")."""
    return {code: code.replace("_", " ") for code in codes}


def labels(lang: str = "zh") -> dict[str, dict[str, str]]:
    """The label of every code users see, by kind, in Chinese or (lang="en") English."""
    if lang == "en":
        return {"status": _english(STATUS_NAMES), "period": PERIOD_NAMES_EN, "disposition": DISPOSITION_NAMES_EN,
                "verdict": _english(VERDICT_NAMES), "action": _english(ACTION_NAMES),
                "origin": _english(CASE_ORIGIN_NAMES),
                "decision": _english(DECISION_NAMES), "legal_reason": _english(LEGAL_REASON_NAMES),
                "role": _english(str(k) for k in ROLE_NAMES), "photo_kind": _english(PHOTO_KIND_NAMES),
                "deadline": _english(DEADLINE_NAMES), "photo_state": _english(PHOTO_STATE_NAMES),
                "prohibition": {str(k): v for k, v in PROHIBITION_NAMES_EN.items()},
                **{kind: _english(names) for kind, names in _stewardship_labels().items()},
                "chief_level": LEVEL_NAMES_EN, "actor": SYSTEM_ACTOR_NAMES_EN,
                "review_level": _english(REVIEW_LEVEL_NAMES), "report_period": PERIOD_KIND_NAMES_EN}
    return {"status": STATUS_NAMES, "period": PERIOD_NAMES, "disposition": DISPOSITION_NAMES,
            "verdict": VERDICT_NAMES, "action": ACTION_NAMES, "decision": DECISION_NAMES, "origin": CASE_ORIGIN_NAMES,
            "legal_reason": LEGAL_REASON_NAMES, "role": {str(k): v for k, v in ROLE_NAMES.items()},
            "photo_kind": PHOTO_KIND_NAMES, "deadline": DEADLINE_NAMES, "photo_state": PHOTO_STATE_NAMES,
            "prohibition": {str(k): v for k, v in PROHIBITION_NAMES.items()}, **_stewardship_labels(),
            "actor": SYSTEM_ACTOR_NAMES, "review_level": REVIEW_LEVEL_NAMES, "report_period": PERIOD_KIND_NAMES}


def _stewardship_labels() -> dict[str, dict[str, str]]:
    """Labels of the field-chief system and abandoned land (finding kinds, causes, remedies, ...)."""
    return {"finding_kind": FINDING_KINDS, "finding_outcome": OUTCOME_NAMES, "cause": CAUSE_NAMES,
            "remedy": REMEDY_NAMES, "land_status": LAND_STATUS_NAMES, "land_photo_kind": LAND_PHOTO_KINDS,
            "chief_level": LEVEL_NAMES, "land_action": LAND_ACTION_NAMES,
            "finding_action": FINDING_ACTION_NAMES}


def ui_config(settings: Settings, lang: str = "zh") -> dict[str, Any]:
    """The page configuration (JSON-serialisable; nothing secret in it), its words in `lang`."""
    return {
        "lang": lang,
        "labels": labels(lang),
        "colours": {"cases": CASE_COLOURS, "closed": CLOSED_COLOUR, "selected": SELECTED_COLOUR,
                    "layers": LAYER_COLOURS},
        "legend": [{"colour": c, "label": label} for c, label in legend(lang)],
        "map_zooms": {"detail": DETAIL_ZOOM, "layers": LAYER_MIN_ZOOM},
        "evidence": {"field_of_view_deg": settings.evidence_field_of_view_deg,
                     "view_range_m": settings.evidence_view_range_m,
                     "max_distance_m": settings.evidence_max_distance_m},
        "cultivated_codes": sorted(CULTIVATED_CODES),
        # The levels of areas (admin_areas.level) and of the field chiefs' posts.
        "levels": {"county": COUNTY_LEVEL, "township": TOWNSHIP_LEVEL, "village": VILLAGE_LEVEL, "grid": GRID_LEVEL},
        "field_only_prohibitions": sorted(FIELD_ONLY_PROHIBITIONS),
        # A decision the server refuses on permanent basic farmland, or on a house built from the cutoff on, is
        # not offered there.
        "permanent_farmland_prohibition": int(Prohibition.PERMANENT_FARMLAND),
        "periods_never_kept": sorted(NEVER_KEPT_PERIODS),
        "decisions_keeping_the_house": sorted(KEEPS_THE_HOUSE),
        "basemap": {"url": settings.tile_url, "attribution": settings.tile_attribution},
    }
