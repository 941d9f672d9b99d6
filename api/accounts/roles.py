"""The roles and who belongs to a township: the one table every layer (workflow, scope, exports, pages) reads.

A role bound to a township (inspector, township officer) sees only its township's cases, reports and
exports; the county's roles (reviewer, admin) see the whole county.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    INSPECTOR = "inspector"
    TOWNSHIP_OFFICER = "township_officer"
    COUNTY_REVIEWER = "county_reviewer"
    ADMIN = "admin"


#: Chinese labels for users (the code is shown beside them).
ROLE_NAMES: dict[Role, str] = {Role.INSPECTOR: "巡查员", Role.TOWNSHIP_OFFICER: "乡镇干部",
                               Role.COUNTY_REVIEWER: "县级审核员", Role.ADMIN: "管理员"}
#: Roles bound to one township: they need a township code and see only that township.
TOWNSHIP_BOUND = frozenset({Role.INSPECTOR, Role.TOWNSHIP_OFFICER})
#: Roles that take the field steps (verify, record demolition, restore, re-inspect, progress reports).
FIELD_ROLES = frozenset({Role.INSPECTOR, Role.TOWNSHIP_OFFICER, Role.ADMIN})
#: Roles that take the township's decisions (notices, classification, rectification, submission).
TOWNSHIP_DECIDERS = frozenset({Role.TOWNSHIP_OFFICER, Role.ADMIN})
#: Roles that take the county's decisions (filing, period changes, passing or returning a case).
COUNTY_ROLES = frozenset({Role.COUNTY_REVIEWER, Role.ADMIN})


def township_of(role: str, township_code: str | None) -> str | None:
    """The township a user is confined to (None: the whole county)."""
    return township_code if role in TOWNSHIP_BOUND else None
