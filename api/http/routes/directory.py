"""What pages pick from: the page configuration (labels, palette), the areas and the users in scope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.accounts.roles import Role
from api.accounts.users import users_in_scope
from api.http.config import ui_config
from api.http.deps import SessionDep, SettingsDep
from api.http.identity import CurrentUser
from api.mapview.areas import areas_in_scope

router = APIRouter(prefix="/api", tags=["directory"])


@router.get("/config")
def get_config(settings: SettingsDep, lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> dict[str, Any]:
    """Labels of every code (in `lang`), the palette and the evidence view cone (public: nothing in it is
    data)."""
    return ui_config(settings, lang)


@router.get("/areas")
def get_areas(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Townships and villages in the caller's scope, with their names."""
    return areas_in_scope(session, user)


@router.get("/users")
def get_users(session: SessionDep, user: CurrentUser,
              role: Annotated[Role | None, Query(description="only users of this role")] = None,
              ) -> list[dict[str, Any]]:
    """Active users in the caller's scope (pick lists: whom to assign to). Names and roles only."""
    return [{"username": u.username, "display_name": u.display_name, "role": u.role,
             "township_code": u.township_code} for u in users_in_scope(session, user, role.value if role else None)]

