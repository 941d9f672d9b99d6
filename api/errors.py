"""Domain errors, raised by every layer; `api.http.errors` maps each to its HTTP status code."""

from __future__ import annotations

from typing import NamedTuple


class Message(NamedTuple):
    """What a refusal says, in Chinese for the officials and inspectors and in English beside it (the pages
    show the one the user picked; logs, the CLI and `str()` show both, Chinese first)."""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh}（{self.en}）"


class RedlineError(Exception):
    """Base of the API's domain errors. Raised with an English text, or with a `Message` in both languages."""

    def __init__(self, message: str | Message) -> None:
        super().__init__(str(message))
        self.message = message if isinstance(message, Message) else Message(message, message)


class NotFound(RedlineError):
    """The thing asked for does not exist (or is outside the caller's scope)."""


class InvalidQuery(RedlineError):
    """A query parameter is malformed (e.g. a bbox with three numbers)."""


class NotAuthenticated(RedlineError):
    """No valid token (HTTP 401)."""


class Forbidden(RedlineError):
    """The user's role does not allow this (HTTP 403)."""


class Conflict(RedlineError):
    """The case changed under the request, or the action is not allowed in its state (HTTP 409)."""


class UnsupportedMedia(RedlineError):
    """Not a JPEG, PNG or HEIC/HEIF file by content, whatever its name says (HTTP 415)."""


class TooManyAttempts(RedlineError):
    """Login attempts beyond the throttle's budget (HTTP 429)."""


class TooLarge(RedlineError):
    """An upload above the size limit (HTTP 413)."""


class DatabaseBusy(RedlineError):
    """The embedded database did not give a write its turn in time (HTTP 503): nothing was written, and the
    same request may be sent again."""

    def __init__(self, waited_s: float | None = None) -> None:
        zh, en = ("", "") if waited_s is None else (f"等待 {waited_s:g} 秒仍未轮到写入，", f"no turn to write within "
                                                                                   f"{waited_s:g} s; ")
        super().__init__(Message(f"数据库繁忙：{zh}未保存任何内容，请稍后重试",
                                 f"the database is busy: {en}nothing was saved, try again shortly"))
        self.retry_after_s = 5
