"""Name normalisation and the phonetic key used to match a typed name to the registry.

A lookup compares the *whole* name: `normalise_name` folds case, accents, punctuation,
apostrophes and spacing; `phonetic_key` additionally folds the spelling variants that make
the same Indonesian name look different on two documents (old and new spelling, doubled
letters, the many ways of writing Muhammad). Both keys are stored with every registry
record; the phonetic key, which every exact match shares, is indexed together with the desa
code, so a lookup is one index probe, exact matches sorted first.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

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


# --- The tolerant pass -------------------------------------------------------------------------
# Used only when no phonetic key equals the typed one: a name that differs by one ordinary
# variation (a final Y written I, a dropped H, a doubled or dropped letter, one typo, one word
# written as two) still finds the person, and a different name that shares most letters does not.

# Variations too loose for the indexed phonetic key (they would merge names that are different
# often enough to matter in an exact match) but that only spelling separates, applied in this order.
_COARSE_RULES = (("DH", "D"), ("TH", "T"), ("SY", "S"), ("V", "F"), ("P", "F"), ("Q", "K"), ("AE", "AI"))
# -IYAH/-IAH after a consonant (Lutfiyah/Lutfiah), not in "Kaiya".
_IYA = re.compile(r"(?<=[^AIUEO])IYA")
# An H after a vowel and before a consonant or at the end is often not written (Rahmat/Ramat,
# Aminah/Amina); an H that starts a word or a syllable is kept (Hadi is not Adi).
_SILENT_H = re.compile(r"(?<=[AIUEO])H(?=[^AIUEO]|$)")
_FINAL_I = re.compile(r"(?:Y|IE|EY)$")
_FINAL_Z = re.compile(r"Z$")  # Dimas/Dimaz, Hafiz/Hafis
# Javanese writes the final vowel of a longer name either way (Prasetya/Prasetyo, Santosa/Santoso);
# in short names it is another name (Eka/Eko) and -o/-i the sex (Yanto/Yanti).
_FINAL_O = re.compile(r"(?<=[A-Z]{4})O$")
# Arabic-origin forms written short.
_COARSE_WORDS = {"ABD": "ABDUL", "NURUL": "NUR"}
# Muhammad mistyped is still Muhammad ("Muhamad" is already one of its phonetic spellings).
_MUHAMMAD_TYPED = ("MUHAMAD", "MOHAMAD")
_VOWELS = frozenset("AIUEO")
# A distance of one is one letter typed, dropped, doubled, swapped with its neighbour or replaced.
_TYPO_DISTANCE = {5: 1, 9: 2}  # from this many letters on (shorter words must agree exactly)
_SHORTEST_WORD = 3  # an initial or a two-letter word never stands for a longer word


@functools.lru_cache(maxsize=65536)
def coarse_word(phonetic_word: str) -> str:
    """A word of a phonetic key with the spelling variations of the tolerant pass folded."""
    if any(OSA.distance(phonetic_word, m, score_cutoff=1) <= 1 for m in _MUHAMMAD_TYPED):
        return "MHD"
    word = _COARSE_WORDS.get(phonetic_word, phonetic_word)
    for old, new in _COARSE_RULES:
        word = word.replace(old, new)
    word = _FINAL_O.sub("A", _FINAL_I.sub("I", _FINAL_Z.sub("S", _SILENT_H.sub("", _IYA.sub("IA", word)))))
    return _DOUBLED.sub(r"\1", word)


def _allowed_distance(length: int) -> int:
    return max((d for n, d in _TYPO_DISTANCE.items() if length >= n), default=0)


@dataclass(frozen=True, slots=True)
class _Word:
    phonetic: str
    coarse: str

    @classmethod
    def of(cls, phonetic: str) -> _Word:
        return cls(phonetic, coarse_word(phonetic))

    def __add__(self, other: _Word) -> _Word:
        return _Word.of(_DOUBLED.sub(r"\1", self.phonetic + other.phonetic))


def _words_agree(registered: _Word, typed: _Word, known: Container[str]) -> bool:
    """Whether a typed word can be the registered one written another way or mistyped."""
    if registered.coarse == typed.coarse:
        return True
    # A short word that differs is a different name (Ani/Ana, Eka/Eko, Rina/Rini).
    allowed = _allowed_distance(len(registered.phonetic))
    if allowed == 0 or len(typed.phonetic) < _SHORTEST_WORD:
        return False
    # The final vowel carries the name: changing it (Yanto/Yanti, Susanto/Susanti) or adding
    # one (Jamali/Jamalia) makes another name; only -A/-E are one name written two ways
    # (Agustina/Agustine).
    ends = {registered.coarse[-1], typed.coarse[-1]}
    if len(ends) == 2 and ends <= _VOWELS and ends != {"A", "E"}:
        return False
    shorter, longer = sorted((registered.coarse, typed.coarse), key=len)
    if longer[:-1] == shorter and longer[-1] in _VOWELS:
        return False
    # A typo and a variation may overlap (Rahamt: the H is no longer silent): the nearer form counts.
    if min(OSA.distance(registered.coarse, typed.coarse, score_cutoff=allowed),
           OSA.distance(registered.phonetic, typed.phonetic, score_cutoff=allowed)) > allowed:
        return False
    # Two different names that both exist (Wahyudi/Wahyuni, Rahmat/Rahman) are not a typo.
    return typed.phonetic not in known


@functools.cache
def common_name_words() -> frozenset[str]:
    """Phonetic words of common Indonesian given and family names (Faker's `id_ID` lists)."""
    from faker.providers.person.id_ID import Provider  # loaded on the first tolerant pass only

    lists = (Provider.first_names_male, Provider.first_names_female, Provider.last_names)
    return frozenset(_phonetic_word(normalise_name(name)) for names in lists for name in names)


class KnownWords:
    """Words of real names: the common ones and those of a set of phonetic keys (a desa's).

    The keys are searched as one joined text rather than split into words: a desa holds
    thousands of names and a lookup asks about one or two words.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._text = " " + " ".join(keys) + " "

    def __contains__(self, word: object) -> bool:
        return word in common_name_words() or f" {word} " in self._text


class DesaNames:
    """One desa's distinct phonetic keys, arranged once for every tolerant pass in it.

    Keys are sorted by length: a key further in length from the typed one than the sieve's
    distance cannot pass it, so only one slice of lengths is compared.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(sorted(keys, key=len))
        self._lengths = [len(key) for key in self._keys]
        self.known = KnownWords(self._keys)

    def close_keys(self, typed_key: str) -> list[str]:
        """The keys of this desa that `is_close_name` accepts for `typed_key`."""
        reach = _sieve_distance(typed_key)
        start = bisect.bisect_left(self._lengths, len(typed_key) - reach)
        end = bisect.bisect_right(self._lengths, len(typed_key) + reach)
        return close_keys(typed_key, self._keys[start:end], self.known)


def _align(registered: tuple[_Word, ...], typed: tuple[_Word, ...], known: Container[str]) -> bool:
    """Every word of both names paired off in order, one to one or one to two written together."""

    @functools.cache
    def rest_agrees(i: int, j: int) -> bool:
        if i == len(registered) or j == len(typed):
            return i == len(registered) and j == len(typed)
        if _words_agree(registered[i], typed[j], known) and rest_agrees(i + 1, j + 1):
            return True
        # "Nur Hayati" registered, "Nurhayati" typed, or the other way round.
        if (i + 1 < len(registered) and (registered[i] + registered[i + 1]).coarse == typed[j].coarse
                and rest_agrees(i + 2, j + 1)):
            return True
        return (j + 1 < len(typed) and registered[i].coarse == (typed[j] + typed[j + 1]).coarse
                and rest_agrees(i + 1, j + 2))

    return rest_agrees(0, 0)


def is_close_name(registered_key: str, typed_key: str, known: Container[str] = frozenset()) -> bool:
    """Whether a typed name (phonetic key) is the registered one (phonetic key) spelt differently.

    Every word must agree, in order, within a small distance that depends on its length, and the
    whole name must be as long as the typed one: never a prefix, never a word more or less. A
    single typed word never matches. `known` holds the phonetic words of real names (a
    `KnownWords`: the common names and the desa's): a typed word that is one of them is a
    different name, not a typo.
    """
    typed_words = typed_key.split()
    if len(typed_words) < 2:
        return False
    registered = tuple(map(_Word.of, registered_key.split()))
    typed = tuple(map(_Word.of, typed_words))
    # Never a shorter name: the registered letters, in their longer form, reach the typed ones.
    if (sum(max(len(w.coarse), len(w.phonetic)) for w in registered)
            < sum(min(len(w.coarse), len(w.phonetic)) for w in typed) - 1):
        return False
    return _align(registered, typed, known)


def _sieve_distance(typed_key: str) -> int:
    # The words' typo distances plus the few letters one spelling variation changes (ABD/ABDUL
    # is two), so that few keys reach the word-by-word test.
    return sum(_allowed_distance(len(w)) for w in typed_key.split()) + 2


def close_keys(typed_key: str, keys: Sequence[str], known: Container[str]) -> list[str]:
    """The phonetic keys among `keys` that `is_close_name` accepts for `typed_key`.

    A C-level sieve on the whole key first (rapidfuzz), then the word-by-word test on the few
    keys that pass it; `known` as for `is_close_name`.
    """
    if " " not in typed_key:
        return []
    near = process.extract(typed_key, keys, scorer=OSA.distance, score_cutoff=_sieve_distance(typed_key),
                           limit=None)
    return [key for key, _, _ in near if key != typed_key and is_close_name(key, typed_key, known)]
