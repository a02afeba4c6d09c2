"""Form pages that are the same for every visitor but for a few per-visit values, rendered once.

The lookup form nobody has typed into differs between two visitors only in its captcha id and
CSRF token. It is rendered with marks in their place, kept per language for a short while (the
"data of period …" line may lag an import by that long), and each visit fills in its own values:
a string replacement instead of a template render and two queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

#: Put where the per-visit values go; letters and underscores survive HTML and URL escaping unchanged.
CAPTCHA_MARK = "__portal_captcha_id__"
CSRF_MARK = "__portal_csrf_token__"


class RenderedPages:
    """Rendered HTML with marks, per key, for `ttl` seconds; one per app."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._pages: dict[Hashable, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], str]) -> str:
        now = time.monotonic()
        cached = self._pages.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        html = render()
        with self._lock:
            self._pages[key] = (now + self._ttl, html)
        return html

    @staticmethod
    def fill(html: str, *, captcha_id: str, csrf_token: str | None) -> str:
        html = html.replace(CAPTCHA_MARK, captcha_id)
        return html.replace(CSRF_MARK, csrf_token) if csrf_token is not None else html
