"""Every page on a 360-px phone and at 200 % zoom (180 CSS px): nothing wider than the screen,
touch targets of 44 px, and axe-core without a serious or critical violation."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, PHONE_ZOOMED, checked, too_wide
from tests.conftest import DESA_A

PAGES = {
    "cek": "/",
    "cek-desa": f"/?desa={DESA_A}",
    "cari-desa": "/cari-desa?q=cileunyi",
    "aduan": "/aduan/baru?jenis=usul",
    "lacak": "/aduan/lacak",
    "statistik": "/statistik",
    "statistik-kabupaten": "/statistik?kabupaten=32.04",
    "waspada": "/waspada",
    "masuk": "/staf/masuk",
}

#: Of these pages, the ones the README shows (the flows' tests shoot the others).
SCREENSHOTS = {"statistik-kabupaten"}
#: The smallest box a finger hits reliably (WCAG 2.5.5, Android's 48 dp, Apple's 44 pt).
TOUCH = 44


def small_targets(page) -> list[str]:
    """Links in menus, buttons, inputs and selects shorter than 44 px (links inside text are exempt)."""
    return page.evaluate("""(touch) => {
      const small = [];
      const targets = 'nav a, button, select, textarea, .choices a, ' +
                      'input:not([type=hidden]):not([type=checkbox]):not([type=radio])';
      for (const el of document.querySelectorAll(targets)) {
        const box = el.getBoundingClientRect();
        if (box.width && box.height < touch - 0.5) small.push(el.tagName.toLowerCase() + ' ' +
          (el.id || el.name || el.textContent.trim().slice(0, 20)) + ' ' + Math.round(box.height));
      }
      return small;
    }""", TOUCH)


def touching_buttons(page) -> list[str]:
    """Text inputs whose box meets a button's: a thumb aiming for one hits the other."""
    return page.evaluate("""() => {
      const hits = [], gap = 8;
      const inputs = document.querySelectorAll('input[type=text], input[type=search], input:not([type]), select');
      const buttons = [...document.querySelectorAll('button')].filter(b => b.getBoundingClientRect().width);
      for (const input of inputs) {
        const a = input.getBoundingClientRect();
        if (!a.width) continue;
        for (const b of buttons.map(b => [b, b.getBoundingClientRect()])) {
          const [button, r] = b;
          const apartX = r.left >= a.right + gap || r.right <= a.left - gap;
          const apartY = r.top >= a.bottom + gap || r.bottom <= a.top - gap;
          if (!apartX && !apartY) hits.push((input.id || input.name) + ' / ' + button.textContent.trim().slice(0, 20));
        }
      }
      return hits;
    }""")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_every_page_fits_a_phone_and_passes_axe(phone, live_portal, javascript):
    page = phone(javascript=javascript)
    for name, path in PAGES.items():
        page.goto(live_portal(path))
        checked(page, name=name if javascript and name in SCREENSHOTS else None)
        assert small_targets(page) == [], path
        assert touching_buttons(page) == [], path


def test_at_200_percent_zoom_nothing_scrolls_sideways(phone, live_portal):
    page = phone(viewport=PHONE_ZOOMED)
    for path in PAGES.values():
        page.goto(live_portal(path))
        assert too_wide(page) == [], path
    assert PHONE_ZOOMED["width"] * 2 == PHONE["width"]
