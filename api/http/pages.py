"""Server-rendered pages: Jinja2 templates with autoescaping, and the security headers every response gets.

No page is assembled from strings: a value from the request (a `next=` URL, an error) goes through a
template, which escapes it. The Content-Security-Policy allows scripts from this server only, plus the
exact inline scripts a page was rendered with (by their SHA-256: folium's map page has some), so a script
injected into a page does not run even if escaping were ever missed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.db.models import User
from api.http.config import ui_config
from api.http.language import DEFAULT_LANGUAGE, translator
from api.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
#: The desk's pages, in the order of the navigation bar (the map's panel has the same bar).
NAV = [("/map", "地图", "Map"), ("/desk/cases", "案件", "Cases"), ("/desk/scoreboard", "通报", "Scoreboard"),
       ("/desk/exports", "报表导出", "Exports"), ("/desk/chiefs", "田长", "Field chiefs"),
       ("/field/", "外业 App", "Field app")]
#: The application's name, after each page's own in its title and at the left of the navigation bar.
SITE_NAME = "红线 Redline"
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def page_title(href: str, lang: str) -> str:
    """A page's title as the browser's tab shows it: its name in the navigation bar (`NAV`), in the user's
    language, then the application's."""
    zh, en = next((zh, en) for path, zh, en in NAV if path == href)
    return f"{translator(lang)(zh, en)} · {SITE_NAME}"


def render(name: str, **values: Any) -> str:
    """A template of api/templates, every value escaped."""
    return _env.get_template(name).render(**values)


def content_security_policy(html: str = "", tile_url: str = "") -> str:
    """The CSP of a page: own scripts and the page's own inline scripts (by hash), images from here (and
    the basemap's host when one is configured), no framing, forms posting only here."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html))
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tile_url else parts.netloc
        tiles = f" {parts.scheme}://{host}"
    return (f"default-src 'self'; script-src 'self' {hashes}".rstrip() + "; "
            f"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:{tiles}; connect-src 'self'; "
            "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def page(html: str, *, tile_url: str = "", status_code: int = 200) -> HTMLResponse:
    """An HTML response whose CSP admits exactly its own inline scripts."""
    return HTMLResponse(html, status_code=status_code,
                        headers={"Content-Security-Policy": content_security_policy(html, tile_url)})


def page_context(user: User, settings: Settings, page_data: dict[str, Any] | None = None, *,
                 lang: str = DEFAULT_LANGUAGE, here: str = "/map") -> dict[str, Any]:
    """What every signed-in page shows and gives its scripts: the navigation and the language switch, the
    page config and its labels (in the user's language), the signed-in name and role, and the page's own
    data with who is signed in."""
    config = ui_config(settings, lang)
    t = translator(lang)
    other = "en" if lang == "zh" else "zh"
    return {"nav": [(href, t(zh, en)) for href, zh, en in NAV], "config": config, "labels": config["labels"],
            "lang": lang, "t": t, "site_name": SITE_NAME,
            "switch_language": f"/language?to={other}&next={quote(here, safe='')}",
            "switch_label": "English" if other == "en" else "中文",
            "user_name": user.display_name or user.username,
            "role_name": config["labels"]["role"].get(str(user.role), user.role),
            "page_data": {"user": {"username": user.username, "role": user.role,
                                   "township_code": user.township_code}, **(page_data or {})}}


def desk_page(user: User, settings: Settings, *, name: str, title: tuple[str, str], current: str, template: str,
              lang: str = DEFAULT_LANGUAGE, here: str = "", page_data: dict[str, Any] | None = None,
              **values: Any) -> Response:
    """A desk page for `user`: the navigation, the signed-in name, the page config and its own data, in the
    user's language (`title` is (Chinese, English))."""
    return page(render(template, title=translator(lang)(*title), page_name=name, current=current,
                       **page_context(user, settings, page_data, lang=lang, here=here or current), **values))
