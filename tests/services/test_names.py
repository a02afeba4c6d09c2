"""Name normalisation, the phonetic key, plausibility and masking."""

import pytest

from portal.services.names import is_close_name, is_plausible_name, mask_name, normalise_name, phonetic_key


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("siti   aminah", "SITI AMINAH"),
        ("Ma'ruf Amin", "MARUF AMIN"),
        ("Ma’ruf  Amin", "MARUF AMIN"),
        ("Désirée", "DESIREE"),
        ("Nur-Hayati", "NUR HAYATI"),
    ],
)
def test_normalise_name(typed, stored):
    assert normalise_name(typed) == stored


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Moch. Djoenaedi", "Muhammad Junaedi"),
        ("M. Rizki", "Mohammad Rizki"),
        ("Muhamad Rizki", "Muhammad Rizki"),
        ("Tjahjo Kumolo", "Cahyo Kumolo"),
        ("Soekarno", "Sukarno"),
        ("Chairul Anwar", "Khairul Anwar"),
        ("Achmad Yani", "Ahmad Yani"),
        ("Jusuf Kalla", "Yusuf Kalla"),
        ("Sjahrir", "Syahrir"),
        ("Annisa Nurul", "Anisa Nurul"),
        ("Dzulkifli", "Zulkifli"),
    ],
)
def test_spelling_variants_share_a_phonetic_key(old, new):
    assert phonetic_key(old) == phonetic_key(new)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Siti Aminah", "Siti"),  # never a prefix
        ("Siti Aminah", "Siti Aminah Lestari"),
        ("Budi Santoso", "Budi Susanto"),
        ("Ani", "Ana"),
        ("Agus Salim", "Salim Agus"),
    ],
)
def test_different_names_do_not_share_a_key(one, other):
    assert phonetic_key(one) != phonetic_key(other)


@pytest.mark.parametrize("name", ["Siti Aminah", "Ma'ruf Amin", "I Gede Ngurah", "Nur-Hayati, S.Pd."])
def test_plausible_names(name):
    assert is_plausible_name(name)


@pytest.mark.parametrize("name", ["", "  ", "A", "Siti 123", "Ani 😀", "<script>", "x" * 101, "@@@@"])
def test_implausible_names(name):
    assert not is_plausible_name(name)


def test_mask_name_keeps_first_letters_only():
    assert mask_name("siti aminah") == "Si** Am****"
    assert mask_name("I Gede") == "I Ge**"


@pytest.mark.parametrize("char", [chr(c) for c in range(32, 127)] + ["\t", "\x00", "é", "’"])
def test_a_name_may_hold_letters_and_the_punctuation_of_names_only(char):
    assert is_plausible_name(f"Siti{char}Aminah") == (char.isalpha() or char in ".,'-`’ ")


@pytest.mark.parametrize(("name", "plausible"), [("A.", False), ("-A-", False), (". A.b", True), ("É a", True)])
def test_a_name_needs_two_letters(name, plausible):
    assert is_plausible_name(name) is plausible


@pytest.mark.parametrize(("registered", "typed", "close"), [
    ("Paris Agustina", "Paris Agustine", True),
    ("Nur Hayati Siregar", "Nurhayati Siregar", True),
    ("Abdul Rahman", "Abd. Rahman", True),
    ("Siti Aminah", "S Aminah", False),  # an initial never stands for a word
    ("Siti Aminah", "Si Aminah", False),  # nor a two-letter word
    ("Ani Lestari", "An Lestari", False),
    ("Sukarni", "Sukarny", False),  # a single typed word never matches tolerantly
    ("Siti Aminah", "Siti", False),
    ("Siti Aminah", "Siti Aminah Lestari", False),
    ("Siti Aminah Lestari", "Siti Aminah", False),
])
def test_close_names(registered, typed, close):
    assert is_close_name(phonetic_key(registered), phonetic_key(typed)) is close
