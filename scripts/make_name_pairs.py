"""Write tests/data/name_pairs.csv: registered name, typed name, should it match, and why.

Run `python scripts/make_name_pairs.py` from the repository root; the output is deterministic.

Registered names are built from Indonesian given and family names (Faker's `id_ID` lists and a
list of names that carry the variations below). Each category applies one variation the way
residents write names: the positives are one person written another way (old and new
spelling, a final Y for I, a silent H, one typo on a phone keyboard, one word written as
two ...); the hard negatives are different people whose names share most letters (a word
missing or added, a different word, short words that differ, a male ending for a female one,
two real names one letter apart) and the portal's own rules (a single typed word, an initial
for a word, never matches tolerantly).

A generated variant that happens to be another real name in the corpus is dropped rather than
labelled: whether "Rini" typed for "Rina" is a typo or the neighbour cannot be told, and the
portal treats it as the neighbour. The labels were corrected by reading
samples of every category (see the README, Cek status), and `SAME_NAME` the words it relabelled.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faker.providers.person.id_ID import Provider  # noqa: E402
from rapidfuzz.distance import OSA  # noqa: E402

from portal.services.names import coarse_word, phonetic_key  # noqa: E402

OUT = ROOT / "tests" / "data" / "name_pairs.csv"

# Names that carry the variations, so that every category has enough registered names to vary.
VARIED = [
    "Siti", "Sri", "Nur", "Nurul", "Muhammad", "Abdul", "Ahmad", "Akhmad", "Khadijah", "Khairul", "Fitri",
    "Fitria", "Rahmat", "Rahmawati", "Aminah", "Fatimah", "Halimah", "Syarif", "Syamsul", "Aisyah",
    "Syafitri", "Dhani", "Ramadhan", "Fathur", "Fathurrahman", "Thalib", "Nyoman", "Sunyoto", "Nyai",
    "Lutfiyah", "Nuriyah", "Mariyah", "Zakiyah", "Rukiyah", "Zainal", "Zaenab", "Hendri", "Yani", "Yuli",
    "Novi", "Arif", "Yusuf", "Vina", "Vivi", "Nurhayati", "Nurjanah", "Nurlela", "Wahyudi", "Wahyuni",
    "Yanti", "Yanto", "Susanti", "Susanto", "Santoso", "Budi", "Ani", "Ana", "Eka", "Eko", "Rina", "Rini",
    "Dewi", "Dewa", "Agus", "Slamet", "Sutrisno", "Suparmi", "Suparni", "Hidayat", "Hidayah", "Rahman",
    "Marlina", "Kurniawan", "Setiawan", "Rohmah", "Mahmud", "Ridwan", "Sukarni", "Paris", "Agustina",
    "Hartono", "Hartini", "Suryani", "Suryadi", "Mulyani", "Mulyadi", "Lestari", "Permata", "Purnama",
    "Taufik", "Hafiz", "Dahlan", "Mukhlis", "Sholeh", "Soleh", "Rohani", "Fauzi", "Fauziah", "Fadhil",
    "Ikhsan", "Ikhwan",
]
FIRST = sorted(set(Provider.first_names_male) | set(Provider.first_names_female) | set(VARIED))
LAST = sorted(set(Provider.last_names) | set(VARIED))
KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
VOWELS = set("aiueo")
# Read by hand, every pair of words that a negative category swapped and that turned out to be
# one name written two ways (so the pair is relabelled should-match): S/Z, I/Y, SY/S, KH/K, a
# silent H, Javanese -a/-o, V/F, and a J typed for the I beside it.
SAME_NAME = {frozenset(pair) for pair in (
    ("Dimas", "Dimaz"), ("Kusumo", "Kusuma"), ("Mariadi", "Maryadi"), ("Prasetya", "Prasetyo"),
    ("Safitri", "Syafitri"), ("Soleh", "Sholeh"), ("Syamsul", "Samsul"), ("Zulaika", "Zulaikha"),
    ("Nugroho", "Nugraha"), ("Novi", "Nofi"), ("Ulva", "Ulfa"),
)}


def hand_checked(registered: list[str], typed: list[str], label: int) -> int:
    """The generated label, unless the only changed word is one name written two ways."""
    if len(registered) == len(typed):
        changed = [frozenset((r, t)) for r, t in zip(registered, typed, strict=True) if r != t]
        if len(changed) == 1 and changed[0] in SAME_NAME:
            return 1
        # A J typed for the final I beside it ("Tarj" for "Tari") is no other name.
        if any(r != t and r.endswith("i") and t == r[:-1] + "j" for r, t in zip(registered, typed, strict=True)):
            return 1
    return label


def neighbours(letter: str) -> str:
    for r, row in enumerate(KEYBOARD):
        if letter in row:
            c = row.index(letter)
            near = row[max(c - 1, 0):c] + row[c + 1:c + 2]
            for other in (r - 1, r + 1):
                if 0 <= other < len(KEYBOARD):
                    near += KEYBOARD[other][max(c - 1, 0):c + 1]
            return near
    return ""


Variation = Callable[[list[str], random.Random], list[str] | None]


def on_word(change: Callable[[str, random.Random], str | None]) -> Variation:
    """A variation of one word of the name (the first word it applies to, from a random start)."""
    def vary(words: list[str], rng: random.Random) -> list[str] | None:
        start = rng.randrange(len(words))
        for i in list(range(start, len(words))) + list(range(start)):
            changed = change(words[i].lower(), rng)
            if changed and changed != words[i].lower():
                return [*words[:i], changed.capitalize(), *words[i + 1:]]
        return None
    return vary


def swap(pairs: list[tuple[str, str]], *, end: bool = False) -> Callable[[str, random.Random], str | None]:
    def change(word: str, rng: random.Random) -> str | None:
        for old, new in rng.sample(pairs, len(pairs)):
            if end and word.endswith(old):
                return word[: -len(old)] + new
            if not end and old in word:
                return word.replace(old, new, 1)
        return None
    return change


def silent_h(word: str, rng: random.Random) -> str | None:
    for i, ch in enumerate(word):
        if ch == "h" and i and word[i - 1] in VOWELS and (i + 1 == len(word) or word[i + 1] not in VOWELS):
            return word[:i] + word[i + 1:]
    if word[-1] == "a" and len(word) >= 5:
        return word + "h"
    return None


def doubled(word: str, rng: random.Random) -> str | None:
    spots = [i for i in range(1, len(word)) if word[i] not in VOWELS and word[i] != word[i - 1]]
    if not spots:
        return None
    i = rng.choice(spots)
    return word[:i] + word[i] + word[i:]


def dropped(word: str, rng: random.Random) -> str | None:
    if len(word) < 6:
        return None
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1:]


def typo(word: str, rng: random.Random) -> str | None:
    if len(word) < 5:
        return None
    i = rng.randrange(len(word))
    kind = rng.choice(["replace", "replace", "insert", "transpose"])
    if kind == "transpose" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    near = neighbours(word[i])
    if not near:
        return None
    letter = rng.choice(near)
    if kind == "insert":
        return word[:i + 1] + letter + word[i + 1:]
    return word[:i] + letter + word[i + 1:]


def typo_short(word: str, rng: random.Random) -> str | None:
    if len(word) not in (3, 4):
        return None
    i = rng.randrange(1, len(word))
    near = neighbours(word[i])
    return word[:i] + rng.choice(near) + word[i + 1:] if near else None


def muhammad(words: list[str], rng: random.Random) -> list[str] | None:
    if words[0] != "Muhammad":
        return None
    return [rng.choice(["M.", "Moh.", "Muh.", "Mochammad", "Mohamad", "Muhamad", "Mhd.", "Mohammad"]), *words[1:]]


def arabic(words: list[str], rng: random.Random) -> list[str] | None:
    forms = {"Abdul": ["Abd.", "Abd"], "Nurul": ["Nur"]}
    for i, w in enumerate(words):
        if w in forms:
            return [*words[:i], rng.choice(forms[w]), *words[i + 1:]]
    return None


def split_or_join(words: list[str], rng: random.Random) -> list[str] | None:
    for i, w in enumerate(words):
        for head in ("Nur", "Sri", "Siti", "Abdul", "Dwi", "Tri"):
            if w.startswith(head) and len(w) > len(head) + 2:
                return [*words[:i], head, w[len(head):].capitalize(), *words[i + 1:]]
    if len(words) >= 3 and words[0] in ("Nur", "Sri", "Siti", "Dwi", "Tri", "Abdul"):
        return [words[0] + words[1].lower(), *words[2:]]
    return None


def spaced(words: list[str], rng: random.Random) -> list[str] | None:
    return [rng.choice([w.upper(), w.lower(), w + ".", w]) for w in words] + [""] * rng.randrange(2)


POSITIVE: dict[str, Variation] = {
    "case_spacing": spaced,
    "final_y_i": on_word(swap([("i", "y"), ("y", "i")], end=True)),
    "final_ie_i": on_word(swap([("i", "ie"), ("ie", "i")], end=True)),
    "dh_d": on_word(swap([("dh", "d"), ("da", "dha"), ("di", "dhi")])),
    "th_t": on_word(swap([("th", "t"), ("ta", "tha"), ("tu", "thu")])),
    "f_p_v": on_word(swap([("f", "p"), ("p", "f"), ("v", "f"), ("f", "v"), ("v", "p")])),
    "ny_nj": on_word(swap([("ny", "nj")])),
    "sy_sj": on_word(swap([("sy", "sj")])),
    "kh_ch_h": on_word(swap([("kh", "ch"), ("kh", "h"), ("ch", "kh")])),
    "silent_h": on_word(silent_h),
    "doubled_letter": on_word(doubled),
    "dropped_letter": on_word(dropped),
    "iah_iyah": on_word(swap([("iyah", "iah"), ("iah", "iyah"), ("iya", "ia")])),
    "arabic_forms": arabic,
    "muhammad": muhammad,
    "one_or_two_words": split_or_join,
    "old_spelling": on_word(swap([("u", "oe"), ("j", "dj"), ("c", "tj"), ("y", "j")])),
    "keyboard_typo": on_word(typo),
}


def word_missing(words: list[str], rng: random.Random) -> list[str] | None:
    i = rng.randrange(len(words))
    return [*words[:i], *words[i + 1:]] or None


def word_added(words: list[str], rng: random.Random) -> list[str] | None:
    extra = rng.choice(LAST)
    return [*words, extra] if rng.random() < 0.7 else [extra, *words]


def replacing(pick: Callable[[str, random.Random], str | None]) -> Variation:
    def vary(words: list[str], rng: random.Random) -> list[str] | None:
        for i in rng.sample(range(len(words)), len(words)):
            other = pick(words[i], rng)
            if other:
                return [*words[:i], other, *words[i + 1:]]
        return None
    return vary


VOCABULARY = sorted(set(FIRST) | set(LAST))


def _coarse(word: str) -> str:
    return coarse_word(phonetic_key(word))


def near_name(low: int, high: int, short: bool = False) -> Callable[[str, random.Random], str | None]:
    """A different real name at an edit distance in [low, high] (short: both of 3-4 letters)."""
    def pick(word: str, rng: random.Random) -> str | None:
        if short != (len(word) <= 4):
            return None
        options = [o for o in VOCABULARY if _coarse(o) != _coarse(word) and (len(o) <= 4) == short
                   and low <= OSA.distance(_coarse(o), _coarse(word)) <= high]
        return rng.choice(options) if options else None
    return pick


def gender_ending(word: str, rng: random.Random) -> str | None:
    if len(word) < 5 or word[-1].lower() not in "aio":
        return None
    # -o/-i and -a/-i mark the sex (Yanto/Yanti, Dewa/Dewi); Javanese -a/-o is one name (Prasetya/o).
    return word[:-1] + ("i" if word[-1] in "ao" else rng.choice("ao"))


def initial(words: list[str], rng: random.Random) -> list[str] | None:
    i = rng.randrange(len(words))
    if words[i] == "Muhammad":
        return None
    return [*words[:i], words[i][0] + rng.choice([".", ""]), *words[i + 1:]]


def word_order(words: list[str], rng: random.Random) -> list[str] | None:
    return [words[1], words[0], *words[2:]] if words[0] != words[1] else None


NEGATIVE: dict[str, Variation] = {
    "word_missing": word_missing,
    "word_added": word_added,
    "different_word": replacing(near_name(2, 3)),
    "real_name_one_letter_apart": replacing(near_name(1, 1)),
    "short_word_differs": replacing(near_name(1, 2, short=True)),
    "male_female_ending": on_word(gender_ending),
    "initial_for_a_word": initial,
    "word_order": word_order,
    # A typo in a word of three or four letters cannot be told from another short name (Ani/Ana):
    # the issue counts short words that differ as different names, so these are labelled so too.
    "typo_in_short_word": on_word(typo_short),
}
# The portal's rule rather than a different person: a single typed word never matches tolerantly.
SINGLE_WORD: dict[str, Variation] = {
    "single_word_variant": on_word(lambda w, rng: typo(w, rng) or swap([("i", "y"), ("a", "ah")], end=True)(w, rng)),
}
PER_CATEGORY = {"keyboard_typo": 300, "case_spacing": 60, "single_word_variant": 60, "typo_short_word": 60}
DEFAULT_PER_CATEGORY = 110


def registered_names(rng: random.Random, count: int) -> list[list[str]]:
    names = []
    for _ in range(count):
        size = rng.choice([2, 2, 2, 3, 3])
        first = rng.choice(VARIED) if rng.random() < 0.5 else rng.choice(FIRST)
        words = [first, *(rng.choice(LAST if rng.random() < 0.6 else FIRST) for _ in range(size - 1))]
        names.append(words)
    return names


def main() -> None:
    rng = random.Random(12)  # noqa: S311 - a reproducible corpus, not a secret
    population = registered_names(rng, 4000)
    # Enough names that start with Muhammad, Abdul or Nurul (or hold one) for their categories.
    population += [[rng.choice(["Muhammad", "Abdul", "Nurul"]), *rng.sample(LAST, rng.choice([1, 2]))]
                   for _ in range(300)]
    rng.shuffle(population)
    mononyms = [[rng.choice(VARIED)] for _ in range(400)]
    known = {phonetic_key(w) for w in VOCABULARY}
    rows: list[tuple[str, str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    categories = [(name, vary, 1) for name, vary in POSITIVE.items()]
    categories += [(name, vary, 0) for name, vary in NEGATIVE.items()]
    categories += [(name, vary, 0) for name, vary in SINGLE_WORD.items()]
    for category, vary, label in categories:
        wanted = PER_CATEGORY.get(category, DEFAULT_PER_CATEGORY)
        made = 0
        pool = mononyms if category in SINGLE_WORD else population
        for words in rng.sample(pool, len(pool)):
            if made == wanted:
                break
            typed_words = vary(list(words), rng)
            if not typed_words:
                continue
            registered, typed = " ".join(words), " ".join(typed_words)
            # A positive whose changed word became another real name is ambiguous: drop it.
            if label and len(words) == len(typed_words) and any(
                    phonetic_key(t) in known and phonetic_key(t) != phonetic_key(r)
                    for r, t in zip(words, typed_words, strict=True)):
                continue
            if (registered, typed) in seen or typed.strip() == "":
                continue
            seen.add((registered, typed))
            rows.append((category, registered, typed, hand_checked(words, typed_words, label)))
            made += 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["category", "registered", "typed", "should_match"])
        writer.writerows(rows)
    print(f"{len(rows)} pairs -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
