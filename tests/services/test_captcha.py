"""Single-use captcha challenges: ids that describe themselves, answers only the server knows,
one attempt each, spent in a store shared by every worker (SQL here, Redis in test_redis.py)."""

import datetime as dt
import threading

import pytest
from sqlalchemy import create_engine, func, select

from portal.models import SpentChallenge
from portal.services.captcha import (
    CHALLENGE_TTL,
    NEXT_LOOKUPS_PER_CAPTCHA,
    Captcha,
    CaptchaKeys,
    ChallengePurpose,
    SqlSpentChallenges,
)

KEYS = CaptchaKeys("a secret key for the tests")
LOOKUP = ChallengePurpose.LOOKUP


@pytest.fixture
def captcha(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'spent.db'}")
    yield Captcha(KEYS, SqlSpentChallenges(lambda: engine, create_table=True))
    engine.dispose()


def test_the_right_answer_passes_once(captcha):
    challenge = captcha.issue(LOOKUP)
    answer = KEYS.answer(challenge)
    assert len(answer) == 5 and answer.isdigit()
    assert captcha.attempt(LOOKUP, challenge, f"  {answer[:2]} {answer[2:]} ")
    assert not captcha.attempt(LOOKUP, challenge, answer)
    assert captcha.live(challenge) is None


def test_a_wrong_answer_kills_the_challenge(captcha):
    challenge = captcha.issue(LOOKUP)
    assert not captcha.attempt(LOOKUP, challenge, "xyz")
    assert not captcha.attempt(LOOKUP, challenge, KEYS.answer(challenge))


def test_empty_missing_forged_and_unknown_challenges_fail(captcha):
    challenge = captcha.issue(LOOKUP)
    assert not captcha.attempt(LOOKUP, challenge, "   ")
    assert not captcha.attempt(LOOKUP, None, "12345")
    assert not captcha.attempt(LOOKUP, "made-up-id", "12345")
    # An attacker who knows the format but not the key: a later expiry, a new nonce, a bare body.
    fresh = captcha.issue(LOOKUP)
    purpose, expires, nonce, mac = fresh.split(".")
    for forged in (f"{purpose}.{int(expires) + 3600}.{nonce}.{mac}", f"{purpose}.{expires}.AAAA{nonce[4:]}.{mac}",
                   f"{purpose}.{expires}.{nonce}", f"{purpose}.{expires}.{nonce}.", "x" * 500):
        assert not captcha.attempt(LOOKUP, forged, KEYS.answer(forged))
    assert captcha.attempt(LOOKUP, fresh, KEYS.answer(fresh))


def test_an_id_signed_with_another_key_fails(captcha):
    foreign = CaptchaKeys("another secret").issue(LOOKUP)
    assert KEYS.read(foreign) is None
    assert not captcha.attempt(LOOKUP, foreign, KEYS.answer(foreign))


def test_an_expired_challenge_fails(captcha):
    start = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    challenge = KEYS.issue(LOOKUP, now=start)
    ttl = CHALLENGE_TTL[LOOKUP]
    assert KEYS.read(challenge, now=start + ttl - dt.timedelta(seconds=1)) is not None
    assert KEYS.read(challenge, now=start + ttl + dt.timedelta(seconds=1)) is None
    assert not captcha.attempt(LOOKUP, challenge, KEYS.answer(challenge), now=start + ttl + dt.timedelta(seconds=1))


def test_a_challenge_answers_only_the_form_it_was_drawn_for(captcha):
    # A 30-minute complaint challenge must not serve the 5-minute lookup, and the other way round.
    complaint = captcha.issue(ChallengePurpose.COMPLAINT)
    assert not captcha.attempt(LOOKUP, complaint, KEYS.answer(complaint))
    lookup = captcha.issue(LOOKUP)
    assert not captcha.attempt(ChallengePurpose.COMPLAINT, lookup, KEYS.answer(lookup))
    assert CHALLENGE_TTL[ChallengePurpose.COMPLAINT] > CHALLENGE_TTL[LOOKUP]


def test_issuing_writes_nothing_and_the_answer_is_never_stored(captcha, tmp_path):
    challenges = [captcha.issue(LOOKUP) for _ in range(50)]
    engine = create_engine(f"sqlite:///{tmp_path / 'spent.db'}")
    assert not (tmp_path / "spent.db").exists() or _spent_rows(engine) == 0
    captcha.attempt(LOOKUP, challenges[0], "00000")
    assert _spent_rows(engine) == 1
    with engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(select(SpentChallenge)) for v in row)
    assert KEYS.answer(challenges[0]) not in stored.replace(challenges[0], "")
    engine.dispose()
    assert KEYS.answer(challenges[0]) != CaptchaKeys("another secret").answer(challenges[0])


def _spent_rows(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(SpentChallenge))


def test_twenty_threads_with_one_solved_challenge_pass_exactly_once(app):
    """Against the app's own store: the SQLite side file, PostgreSQL, or Redis (TEST_REDIS_URL)."""
    captcha = app.extensions["captcha"]
    challenge = captcha.issue(LOOKUP)
    answer = captcha.keys.answer(challenge)
    barrier = threading.Barrier(20)
    outcomes: list[bool] = []

    def attempt():
        with app.app_context():
            barrier.wait()
            outcomes.append(captcha.attempt(LOOKUP, challenge, answer))

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False] * 19 + [True]


def test_fixed_answer_for_tests_and_benchmarks(captcha):
    keys = CaptchaKeys("x", fixed_answer="42")
    fixed = Captcha(keys, captcha.spent)
    challenge = fixed.issue(LOOKUP)
    assert fixed.attempt(LOOKUP, challenge, "42")


def test_a_next_lookup_pass_is_single_use_bound_to_its_desa_and_its_allowance(captcha):
    first = captcha.next_lookup_pass("32.04.05.2001", NEXT_LOOKUPS_PER_CAPTCHA)
    assert first.left == NEXT_LOOKUPS_PER_CAPTCHA - 1
    assert captcha.redeem_next_lookup(first.id, str(first.left), "32.04.05.2002") is None  # another desa
    assert captcha.redeem_next_lookup(first.id, str(first.left + 1), "32.04.05.2001") is None  # more names
    assert captcha.redeem_next_lookup(first.id, "x", "32.04.05.2001") is None
    assert captcha.redeem_next_lookup(first.id, str(first.left), "32.04.05.2001") == first.left
    assert captcha.redeem_next_lookup(first.id, str(first.left), "32.04.05.2001") is None  # spent
    # A lookup challenge or a desil pass is no next-lookup pass.
    for other in (captcha.issue(LOOKUP), captcha.issue(ChallengePurpose.DESIL, bound_to="32.04.05.2001|1")):
        assert captcha.redeem_next_lookup(other, "1", "32.04.05.2001") is None


def test_one_solved_captcha_hands_on_a_few_next_lookups_and_no_more(captcha):
    allowance, lookups = NEXT_LOOKUPS_PER_CAPTCHA, 1
    while (next_pass := captcha.next_lookup_pass("32.04.05.2001", allowance)) is not None:
        allowance = captcha.redeem_next_lookup(next_pass.id, str(next_pass.left), "32.04.05.2001")
        lookups += 1
    assert lookups == 1 + NEXT_LOOKUPS_PER_CAPTCHA == 4


def test_a_next_lookup_pass_expires_after_ten_minutes():
    keys = CaptchaKeys("a secret key for the tests")
    issued = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    pass_id = keys.issue(ChallengePurpose.NEXT_LOOKUP, bound_to="32.04.05.2001|2", now=issued)
    assert keys.read(pass_id, bound_to="32.04.05.2001|2", now=issued + dt.timedelta(minutes=9)) is not None
    assert keys.read(pass_id, bound_to="32.04.05.2001|2", now=issued + dt.timedelta(minutes=10)) is None
