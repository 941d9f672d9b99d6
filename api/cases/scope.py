"""Which cases a user may see: township roles see their township, the county's roles everything.

Applied in every case query and every write service, so no route can forget it: a township officer or
inspector asking for another township's case gets "not found", exactly as for a case that does not exist.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.db.models import Case, User
from api.errors import NotFound


def scope(user: User) -> list[ColumnElement[bool]]:
    """WHERE clauses limiting cases to what `user` may see."""
    township = township_of(user.role, user.township_code)
    return [] if township is None else [Case.township_code == township]


def load_case(session: Session, user: User, case_id: int) -> Case:
    """The case, if it exists and is in the user's scope; NotFound otherwise (no existence leak)."""
    stmt = select(Case).where(Case.id == case_id, *scope(user))
    case = session.execute(stmt).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case
