"""The officials' desk: the case list, the township scoreboard and the monthly exports — server-rendered
pages (Jinja2, autoescaped) whose scripts then talk to the same API as everyone else."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.accounts.roles import ROLE_NAMES, Role, township_of
from api.db.models import User
from api.http.config import ui_config
from api.http.deps import SessionDep, SettingsDep
from api.http.identity import signed_in_or_redirect
from api.http.pages import NAV, page, render
from api.mapview.areas import areas_in_scope
from api.settings import Settings

router = APIRouter(tags=["desk"], include_in_schema=False)


def desk_page(user: User, settings: Settings, *, name: str, title: str, current: str, template: str,
              page_data: dict[str, Any] | None = None, **values: Any) -> Response:
    """A desk page for `user`: the navigation, the signed-in name, the page config and its own data."""
    config = ui_config(settings)
    html = render(template, title=title, page_name=name, nav=NAV, current=current, config=config,
                  labels=config["labels"], user_name=user.display_name or user.username,
                  role_name=ROLE_NAMES.get(Role(user.role), user.role),
                  page_data={"user": {"username": user.username, "role": user.role,
                                      "township_code": user.township_code}, **(page_data or {})},
                  **values)
    return page(html)


@router.get("/desk/cases", response_class=HTMLResponse)
def cases_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = signed_in_or_redirect(request, session)
    if isinstance(user, Response):
        return user
    areas = areas_in_scope(session, user)
    return desk_page(user, settings, name="cases", title="案件清单", current="/desk/cases",
                     template="desk_cases.html", townships=[a for a in areas if a["level"] == "township"],
                     page_data={"areas": areas})


@router.get("/desk/scoreboard", response_class=HTMLResponse)
def scoreboard_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = signed_in_or_redirect(request, session)
    if isinstance(user, Response):
        return user
    return desk_page(user, settings, name="scoreboard", title="乡镇通报（表扬 / 批评）", current="/desk/scoreboard",
                     template="desk_scoreboard.html")


@router.get("/desk/exports", response_class=HTMLResponse)
def exports_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = signed_in_or_redirect(request, session)
    if isinstance(user, Response):
        return user
    areas = areas_in_scope(session, user)
    return desk_page(user, settings, name="exports", title="红线月报导出", current="/desk/exports",
                     template="desk_exports.html", county=township_of(user.role, user.township_code) is None,
                     townships=[a for a in areas if a["level"] == "township"])
