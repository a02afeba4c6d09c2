"""Server-side, single-use captcha challenges."""

import datetime as dt
import threading

from sqlalchemy import select

from portal.models import CaptchaChallenge
from portal.services.captcha import (
    CHALLENGE_TTL,
    CaptchaKeys,
    attempt_challenge,
    challenge_is_live,
    issue_challenge,
)

KEYS = CaptchaKeys("a secret key for the tests")


def test_the_right_answer_passes_once(session):
    challenge = issue_challenge(session, KEYS)
    answer = KEYS.answer(challenge)
    assert len(answer) == 5 and answer.isdigit()
    assert attempt_challenge(session, KEYS, challenge, f"  {answer[:2]} {answer[2:]} ")
    assert not attempt_challenge(session, KEYS, challenge, answer)
    assert not challenge_is_live(session, challenge)


def test_a_wrong_answer_kills_the_challenge(session):
    challenge = issue_challenge(session, KEYS)
    assert not attempt_challenge(session, KEYS, challenge, "xyz")
    assert not attempt_challenge(session, KEYS, challenge, KEYS.answer(challenge))


def test_empty_missing_and_unknown_challenges_fail(session):
    challenge = issue_challenge(session, KEYS)
    assert not attempt_challenge(session, KEYS, challenge, "   ")
    assert not attempt_challenge(session, KEYS, None, "12345")
    assert not attempt_challenge(session, KEYS, "made-up-id", "12345")


def test_an_expired_challenge_fails(session):
    start = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    challenge = issue_challenge(session, KEYS, now=start)
    late = start + CHALLENGE_TTL + dt.timedelta(seconds=1)
    assert challenge_is_live(session, challenge, now=start + CHALLENGE_TTL - dt.timedelta(seconds=1))
    assert not challenge_is_live(session, challenge, now=late)
    assert not attempt_challenge(session, KEYS, challenge, KEYS.answer(challenge), now=late)


def test_the_answer_is_not_stored(session):
    challenge = issue_challenge(session, KEYS)
    row = session.scalars(select(CaptchaChallenge)).one()
    assert KEYS.answer(challenge).encode() not in row.answer_hash
    assert KEYS.answer(challenge) != CaptchaKeys("another secret").answer(challenge)


def test_twenty_threads_with_one_solved_challenge_pass_exactly_once(app):
    from portal.extensions import db

    with app.app_context():
        challenge = issue_challenge(db.session, KEYS)
    answer = KEYS.answer(challenge)
    barrier = threading.Barrier(20)
    outcomes: list[bool] = []

    def attempt():
        with app.app_context():
            barrier.wait()
            outcomes.append(attempt_challenge(db.session, KEYS, challenge, answer))
            db.session.close()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False] * 19 + [True]


def test_fixed_answer_for_tests_and_benchmarks(session):
    keys = CaptchaKeys("x", fixed_answer="42")
    challenge = issue_challenge(session, keys)
    assert attempt_challenge(session, keys, challenge, "42")
