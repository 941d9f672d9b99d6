"""The officials' desk: the case list, the township scoreboard and the monthly exports — server-rendered
pages (Jinja2, autoescaped) whose scripts then talk to the same API as everyone else."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from api.accounts.roles import Role, township_of
from api.accounts.users import MIN_PASSWORD_LENGTH
from api.http.deps import SessionDep, SettingsDep
from api.http.identity import PageUser
from api.http.language import Language
from api.http.pages import desk_page
from api.mapview.areas import areas_in_scope, townships_of
from api.stewardship.chiefs import county_code

router = APIRouter(tags=["desk"], include_in_schema=False)


@router.get("/desk/cases", response_class=HTMLResponse)
def cases_page(user: PageUser, session: SessionDep, settings: SettingsDep, lang: Language) -> Response:
    areas = areas_in_scope(session, user)
    return desk_page(user, settings, name="cases", title=("案件清单", "Case list"), current="/desk/cases", lang=lang,
                     template="desk_cases.html", townships=townships_of(areas),
                     page_data={"areas": areas})


@router.get("/desk/scoreboard", response_class=HTMLResponse)
def scoreboard_page(user: PageUser, session: SessionDep, settings: SettingsDep, lang: Language) -> Response:
    return desk_page(user, settings, name="scoreboard", title=("乡镇通报（表扬 / 批评）", "Township scoreboard"),
                     current="/desk/scoreboard", lang=lang,
                     template="desk_scoreboard.html")


@router.get("/desk/exports", response_class=HTMLResponse)
def exports_page(user: PageUser, session: SessionDep, settings: SettingsDep, lang: Language) -> Response:
    areas = areas_in_scope(session, user)
    return desk_page(user, settings, name="exports",
                     title=("红线报表导出（月、季、年）", "Red-line exports (month, quarter, year)"),
                     current="/desk/exports", lang=lang,
                     template="desk_exports.html", county=township_of(user.role, user.township_code) is None,
                     townships=townships_of(areas))


@router.get("/desk/account", response_class=HTMLResponse)
def account_page(user: PageUser, settings: SettingsDep, lang: Language) -> Response:
    return desk_page(user, settings, name="account", title=("我的账号：修改密码", "My account: change the password"),
                     current="/desk/account", lang=lang, template="desk_account.html",
                     min_password_length=MIN_PASSWORD_LENGTH)


@router.get("/desk/chiefs", response_class=HTMLResponse)
def chiefs_page(user: PageUser, session: SessionDep, settings: SettingsDep, lang: Language) -> Response:
    areas = areas_in_scope(session, user)
    return desk_page(user, settings, name="chiefs", title=("田长制：责任区与巡田", "Field chiefs: areas and patrols"),
                     current="/desk/chiefs", lang=lang, template="desk_chiefs.html",
                     admin=user.role == Role.ADMIN, page_data={"areas": areas, "county": county_code(session)})
