"""`redline chief assign|list` and `redline grids generate`: the field-chief system from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.base import echo, factory, fail
from api.settings import get_settings


def chief_assign(
    level: Annotated[str, typer.Option(help="county | township | village | grid")],
    area: Annotated[str, typer.Option(help="the area's code: 6-digit county, 12-digit township or village, grid")],
    user: Annotated[str, typer.Option(help="the username of the new chief")],
) -> None:
    """Name the field chief (田长) of an area; the previous chief of that area and level steps down."""
    from api.errors import InvalidQuery
    from api.stewardship.chiefs import LEVEL_NAMES, assign_chief

    try:
        with factory().begin() as session:
            assign_chief(session, level, area, user, by="cli")
    except InvalidQuery as exc:
        fail(ValueError(str(exc)))
        return
    echo(f"{LEVEL_NAMES[level]} of {area}: {user}")


def chief_list() -> None:
    """The field chiefs in post, by level and area, and the vacant posts: the county's and townships', and a
    village's or grid cell's once someone held it."""
    from api.db.models import User
    from api.stewardship.queries import chief_list as chiefs

    with factory()() as session:
        county = User(username="cli", role="county_reviewer", township_code=None)
        for c in chiefs(session, county):
            echo(f"{c['level_name']:<10} {c['area_code']:<16} {c['area_name']:<16} "
                 f"{'空缺 vacant' if c['vacant'] else c['username']}")


def grids_generate() -> None:
    """Generate the farmland grid for villages that have none (a square lattice of REDLINE_GRID_CELL_M per
    village, cells with at least 2 000 m² of farmland kept); every case learns its grid cell."""
    from api.stewardship.grids import generate_grids

    made = generate_grids(factory(), get_settings().coverage_rules)
    echo(f"grid cells generated: {made}")
