"""The name matcher against the labelled corpus (tests/data/name_pairs.csv): the issue's targets."""

from tests.data.name_corpus import load_pairs, score, tolerant_matcher

HARD_NEGATIVES = {"word_missing", "word_added", "different_word", "real_name_one_letter_apart",
                  "short_word_differs", "male_female_ending", "initial_for_a_word", "word_order",
                  "typo_in_short_word", "single_word_variant"}


def test_the_corpus_is_large_and_has_every_kind_of_pair():
    pairs = load_pairs()
    assert len(pairs) >= 2000
    categories = {p.category for p in pairs}
    assert categories >= HARD_NEGATIVES
    assert {"final_y_i", "keyboard_typo", "one_or_two_words", "silent_h", "muhammad"} <= categories


def test_recall_precision_and_no_hard_negative_matched():
    pairs = load_pairs()
    result = score(pairs, tolerant_matcher(pairs))
    assert result.recall >= 0.97, result.missed[:20]
    assert result.precision >= 0.995
    assert [p for p in result.matched_negatives if p.category in HARD_NEGATIVES] == []
