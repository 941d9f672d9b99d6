"""The county's townships as its imported boundaries (`admin_areas`) know them: the one home of what a
township code looks like and of the check that a code names one of them.

A report, a dossier zip or a user account for a mistyped township must be refused, not produced: an export
of township 431021101 (a digit short) came out empty, with exit status 0, and an empty 通报 reads as "no
violations".
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import AdminArea
from api.errors import InvalidQuery, Message

#: `admin_areas.level` of a township (乡镇) and of a village (行政村).
TOWNSHIP_LEVEL = "township"
VILLAGE_LEVEL = "village"
#: A township's administrative code: 6 digits of county, 3 of township, and 000 where a village has its own.
TOWNSHIP_CODE = re.compile(r"\d{9}000")


def imported_townships(session: Session) -> list[str]:
    """The codes of the county's imported townships, in order."""
    stmt = select(AdminArea.code).where(AdminArea.level == TOWNSHIP_LEVEL).order_by(AdminArea.code)
    return list(session.execute(stmt).scalars())


def check_township(session: Session, code: str, *, before_import: bool = False) -> str:
    """`code`, if it is one of the county's imported townships; InvalidQuery naming the code otherwise (HTTP
    422, CLI exit 2). `before_import`: accept any well-formed code while no township is imported yet (a user
    account may be made before the boundaries are loaded; a report never is)."""
    if not TOWNSHIP_CODE.fullmatch(code):
        raise InvalidQuery(Message(f"不是乡镇代码（12 位数字，以 000 结尾）：{code!r}",
                                   f"not a township code (12 digits ending in 000): {code!r}"))
    known = imported_townships(session)
    if code in known or (before_import and not known):
        return code
    listed = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
    raise InvalidQuery(Message(f"本县没有乡镇 {code}（已导入：{listed or '无'}）",
                               f"no township {code} in this county (imported: {listed or 'none'})"))
