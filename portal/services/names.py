"""Name normalisation and the phonetic key used to match a typed name to the registry.

A lookup compares the *whole* name: `normalise_name` folds case, accents, punctuation,
apostrophes and spacing; `phonetic_key` additionally folds the spelling variants that make
the same Indonesian name look different on two documents (old and new spelling, doubled
letters, the many ways of writing Muhammad). Both keys are stored with every registry
record; the phonetic key, which every exact match shares, is indexed together with the desa
code, so a lookup is one index probe, exact matches sorted first.
"""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_NAME_LENGTH = 100

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`´]")
_NOT_LETTER = re.compile(r"[^A-Z]+")
# Characters a name on a KTP may contain besides letters and spaces.
_NAME_PUNCTUATION = set(".,'-`\u2018\u2019\u02bc´ ")
# The same rule for plain ASCII text, the common case, in one C-level match: only letters and
# that punctuation, with at least two letters. (A registry import checks millions of names.)
_ASCII_PUNCTUATION = re.escape("".join(sorted(c for c in _NAME_PUNCTUATION if c.isascii())))
_ASCII_NAME = re.compile(
    f"[{_ASCII_PUNCTUATION}]*[A-Za-z][{_ASCII_PUNCTUATION}]*[A-Za-z][A-Za-z{_ASCII_PUNCTUATION}]*"
)

# Old (Van Ophuijsen / Soewandi) spellings to the current EYD, applied in this order: TJ
# before J, and J→Y last so that old "Jusuf" and new "Yusuf" meet (and DJ→J→Y keeps
# "Djoko" and "Joko" together).
_SPELLING_RULES = (
    ("TJ", "C"),
    ("DJ", "J"),
    ("SJ", "SY"),
    ("NJ", "NY"),
    ("J", "Y"),
    ("OE", "U"),
    ("CH", "KH"),
    ("KH", "H"),
    ("DZ", "Z"),
    ("PH", "F"),
)
_DOUBLED = re.compile(r"([A-Z])\1+")
# After the rules above: every way of writing Muhammad, abbreviated or not.
_MUHAMMAD = frozenset({
    "M", "MD", "MH", "MHD", "MUH", "MOH", "MUHAMAD", "MOHAMAD", "MUHAMED", "MOHAMED",
    "MUHAMMAD", "MOHAMMAD", "MUHAMET", "MOHAMET",
})


def normalise_name(name: str) -> str:
    """Upper-case ASCII words separated by single spaces: `"Siti  Ma'ruf-ah"` → `"SITI MARUFAH"`."""
    if not name.isascii():  # ASCII has no accents to fold
        name = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("", name.upper())
    return " ".join(_NOT_LETTER.sub(" ", text).split())


@functools.lru_cache(maxsize=65536)  # names reuse a small vocabulary; bounded memory
def _phonetic_word(word: str) -> str:
    for old, new in _SPELLING_RULES:
        word = word.replace(old, new)
    word = _DOUBLED.sub(r"\1", word)
    return "MHD" if word in _MUHAMMAD else word


def phonetic_key(name: str) -> str:
    """Key that equal names in old and new spelling share: `"Moch. Djoenaedi"` = `"Muhammad Junaedi"`."""
    return phonetic_key_of_normalised(normalise_name(name))


def phonetic_key_of_normalised(normalised: str) -> str:
    """`phonetic_key` of a name that already went through `normalise_name`."""
    return " ".join(_phonetic_word(word) for word in normalised.split())


def is_plausible_name(name: str) -> bool:
    """True for text that can be a person's name: letters with the punctuation names use."""
    text = unicodedata.normalize("NFKC", name).strip()
    if not text or len(text) > MAX_NAME_LENGTH:
        return False
    if text.isascii():
        return _ASCII_NAME.fullmatch(text) is not None
    letters = 0
    for ch in text:
        if unicodedata.category(ch).startswith("L"):
            letters += 1
        elif ch not in _NAME_PUNCTUATION:
            return False
    return letters >= 2


def mask_name(name: str) -> str:
    """Each word reduced to its first two letters: `"Siti Aminah"` → `"Si** Am****"`."""
    words = normalise_name(name).split()
    return " ".join(w[:2].capitalize() + "*" * (len(w) - 2) if len(w) > 2 else w.capitalize() for w in words)
