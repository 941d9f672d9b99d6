"""Domain errors, raised by every layer; `api.http.errors` maps each to its HTTP status code."""

from __future__ import annotations


class RedlineError(Exception):
    """Base of the API's domain errors."""


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
