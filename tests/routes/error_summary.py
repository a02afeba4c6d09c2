"""Reading the error summary of a page the way a person (or a screen reader) meets it."""

from __future__ import annotations

import html
import re


def summary_links(page: str) -> list[tuple[str, str]]:
    """(target id, message) of each link in the page's error summary; asserts the GOV.UK shape:
    first in <main>, focusable and focused on load, every link pointing at an element of the page,
    and the title prefixed."""
    main = page[page.index('<main id="isi"'):]
    first = re.search(r"<main[^>]*>\s*(<[^>]+>)", main).group(1)
    assert 'class="error-summary"' in first and 'tabindex="-1"' in first and "autofocus" in first
    assert re.search(r"<title>Kesalahan: ", page) or re.search(r"<title>Error: ", page)
    block = main[: main.index("</div>")]
    links = [(target, html.unescape(text)) for target, text in re.findall(r'<a href="#([^"]+)">([^<]+)</a>', block)]
    for target, _ in links:
        assert f'id="{target}"' in page, f"the summary links to #{target}, which the page lacks"
    return links


def has_summary(page: str) -> bool:
    return 'class="error-summary"' in page or page.count("<title>Kesalahan:") > 0
