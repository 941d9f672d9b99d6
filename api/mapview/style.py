"""How cases and layers look, wherever they are drawn: the review map (served to its script as page config),
the field app (through `/api/config`) and the monthly report's map. One palette, one legend."""

from __future__ import annotations

from gis.rules import DISPOSITION_NAMES, DISPOSITION_NAMES_EN

#: A violating case by its disposition (ColorBrewer Paired/Set1: distinguishable in print and by most
#: colour-blind readers, with the dash pattern of overdue cases as a second cue).
CASE_COLOURS: dict[str, str] = {"demolish": "#e31a1c", "classify": "#ff7f00", "verify": "#6a3d9a", "none": "#969696"}
#: A closed case (销号), whatever its disposition.
CLOSED_COLOUR = "#33a02c"
#: The searched or selected case's outline.
SELECTED_COLOUR = "#00b8d4"
#: Reference layers.
LAYER_COLOURS: dict[str, str] = {"admin": "#1f78b4", "farmland": "#33a02c", "cultivated": "#b8a000",
                                 "cultivated_fill": "#ffe680", "other_land": "#bbbbbb", "houses": "#555555",
                                 "photo": "#1565c0", "epoch": "#d500f9",
                                 # 田长制: grid cells patrolled this month or not, abandoned land, patrol tracks.
                                 "grid_patrolled": "#2e7d32", "grid_unpatrolled": "#ef6c00",
                                 "abandoned": "#795548", "patrol": "#0277bd"}


def case_colour(disposition: str | None, status: str | None, still_violating: bool = True) -> str:
    """The colour of one case (the same rule as the review map's script, which reads these tables)."""
    if status == "closed":
        return CLOSED_COLOUR
    if not still_violating:
        return CASE_COLOURS["none"]
    return CASE_COLOURS.get(disposition or "", "#000000")


def legend(lang: str = "zh") -> list[tuple[str, str]]:
    """(colour, label) of every kind of case, in the order a legend lists them; Chinese unless `lang` is en."""
    if lang == "en":
        return [(CASE_COLOURS["demolish"], "increment · " + DISPOSITION_NAMES_EN["demolish"]),
                (CASE_COLOURS["classify"], "stock · " + DISPOSITION_NAMES_EN["classify"]),
                (CASE_COLOURS["verify"], DISPOSITION_NAMES_EN["verify"]),
                (CASE_COLOURS["none"], "no longer violating"),
                (CLOSED_COLOUR, "closed (销号)")]
    return [(CASE_COLOURS["demolish"], "增量·" + DISPOSITION_NAMES["demolish"]),
            (CASE_COLOURS["classify"], "存量·" + DISPOSITION_NAMES["classify"]),
            (CASE_COLOURS["verify"], DISPOSITION_NAMES["verify"]),
            (CASE_COLOURS["none"], "已不违法"),
            (CLOSED_COLOUR, "已销号")]
