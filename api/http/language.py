"""The language a user reads the pages in: Chinese by default, English when they pick it.

The choice is a cookie (`redline_lang`), set by `GET /language?to=en&next=…` from the switch in every page's
navigation bar, so the server renders the page's own words in it and the page's scripts read it from
`<html lang>`. Codes (statuses, periods, 八不准 numbers) stay beside the words in both languages: they are
what the regulation and the exports use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

LANG_COOKIE = "redline_lang"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def language_of(request: Request) -> str:
    """The language the request's user picked (the cookie), else Chinese."""
    chosen = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def translator(lang: str) -> Callable[[str, str], str]:
    """`t(zh, en)` for templates: the word in the page's language."""
    return (lambda _zh, en: en) if lang == "en" else (lambda zh, _en: zh)


Language = Annotated[str, Depends(language_of)]
