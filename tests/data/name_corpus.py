"""The labelled name pairs (`name_pairs.csv`, written by `scripts/make_name_pairs.py`) and their score.

Used by `tests/services/test_name_corpus.py` (the targets) and `benchmarks/names_bench.py` (the
figures before and after). A matcher answers whether the portal would show the registered person
to someone who typed the other name, with the corpus's registered names as the desa.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portal.services.names import KnownWords, close_keys, phonetic_key

CORPUS = Path(__file__).with_name("name_pairs.csv")
HARD_NEGATIVE = "hard negative"


@dataclass(frozen=True, slots=True)
class Pair:
    category: str
    registered: str
    typed: str
    should_match: bool


@dataclass(frozen=True, slots=True)
class Score:
    recall: float
    precision: float
    matched_negatives: tuple[Pair, ...]
    missed: tuple[Pair, ...]
    per_category: dict[str, tuple[int, int]]  # category -> (pairs matched, pairs)


def load_pairs(path: Path = CORPUS) -> list[Pair]:
    with path.open(encoding="utf-8", newline="") as f:
        return [Pair(r["category"], r["registered"], r["typed"], r["should_match"] == "1")
                for r in csv.DictReader(f)]


Matcher = Callable[[str, str], bool]


def landed_matcher(registered: str, typed: str) -> bool:
    """Before the tolerant pass: the phonetic keys of the whole names are equal."""
    return phonetic_key(registered) == phonetic_key(typed)


def tolerant_matcher(pairs: list[Pair]) -> Matcher:
    """The phonetic key first, then the tolerant pass (its sieve too), with the corpus's names as the desa's."""
    known = KnownWords(sorted({phonetic_key(p.registered) for p in pairs}))

    def matches(registered: str, typed: str) -> bool:
        key, typed_key = phonetic_key(registered), phonetic_key(typed)
        return key == typed_key or close_keys(typed_key, [key], known) == [key]

    return matches


def score(pairs: list[Pair], matcher: Matcher) -> Score:
    """Recall over the should-match pairs, precision over every pair the matcher accepts."""
    hits = [matcher(p.registered, p.typed) for p in pairs]
    true_pos = sum(h and p.should_match for h, p in zip(hits, pairs, strict=True))
    accepted = sum(hits)
    per_category: dict[str, tuple[int, int]] = {}
    for hit, pair in zip(hits, pairs, strict=True):
        matched, total = per_category.get(pair.category, (0, 0))
        per_category[pair.category] = (matched + hit, total + 1)
    return Score(
        recall=true_pos / sum(p.should_match for p in pairs),
        precision=true_pos / accepted if accepted else 1.0,
        matched_negatives=tuple(p for h, p in zip(hits, pairs, strict=True) if h and not p.should_match),
        missed=tuple(p for h, p in zip(hits, pairs, strict=True) if not h and p.should_match),
        per_category=per_category,
    )
