"""User-facing text: the `N_` marker, errors that carry such text, and which language a page is in."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, has_request_context, request

#: The interface languages, each named in its own language (a reader looks for their own
#: language's name, so these are never translated). Bahasa Indonesia is the source language.
LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
DEFAULT_LANGUAGE = "id"
#: The visitor's choice lives only in this cookie: choosing never writes on the server.
LANGUAGE_COOKIE = "bahasa"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


def N_(message: str) -> str:
    """Mark `message` for extraction by pybabel; it is translated later with `gettext(message)`."""
    return message


class UserFacingError(Exception):
    """A refusal whose `message` (marked with `N_`, with `%(name)s` placeholders) is for the user.

    Shown translated: `gettext(error.message, **error.params)`. `str(error)` is the untranslated
    text, for logs.
    """

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def select_language() -> str | None:
    """The page's language: the visitor's cookie if it names one we have, else `Accept-Language`.

    None outside a request (the command line): Flask-Babel then uses the default, Indonesian.
    """
    if not has_request_context():
        return None
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`: the language switch is no open redirect.

    Browsers read `//host`, `/\\host` and `\\\\host` as another site, and drop tabs and newlines
    from a URL before reading it, so all of these are refused rather than cleaned.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\\\t\r\n") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def remember_language(response: Response, code: str, *, secure: bool) -> Response:
    """Set the long-lived language cookie (readable by no script, sent on top-level navigation)."""
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=LANGUAGE_COOKIE_MAX_AGE, path="/",
                        secure=secure, httponly=True, samesite="Lax")
    return response


def vary_by_language(response: Response) -> Response:
    """Pages differ by language, which comes from the cookie or `Accept-Language`: tell caches."""
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response
