from datetime import UTC, datetime, timedelta

import pytest

from ledgerbridge.core import clock

MOMENT = datetime(2031, 3, 14, 9, 26, 53, tzinfo=UTC)


def test_now_is_aware_utc_and_real_when_not_frozen() -> None:
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_set_now_freezes_the_clock() -> None:
    clock.set_now(MOMENT)
    assert clock.now() == MOMENT
    assert clock.now() == MOMENT


def test_set_now_none_unfreezes() -> None:
    clock.set_now(MOMENT)
    clock.set_now(None)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_set_now_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set_now(datetime(2031, 3, 14, 9, 0))  # naive on purpose


def test_advance_moves_a_frozen_clock() -> None:
    clock.set_now(MOMENT)
    assert clock.advance(timedelta(hours=2)) == MOMENT + timedelta(hours=2)
    assert clock.now() == MOMENT + timedelta(hours=2)


def test_advance_freezes_an_unfrozen_clock_at_real_time_plus_delta() -> None:
    moved = clock.advance(timedelta(days=1))
    assert abs(moved - (datetime.now(UTC) + timedelta(days=1))) < timedelta(seconds=5)
    assert clock.now() == moved  # frozen now: it does not keep ticking


def test_frozen_at_restores_the_real_clock() -> None:
    with clock.frozen_at(MOMENT):
        assert clock.now() == MOMENT
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_frozen_at_restores_an_earlier_frozen_time_even_after_an_error() -> None:
    clock.set_now(MOMENT)
    later = MOMENT + timedelta(days=30)
    with pytest.raises(RuntimeError), clock.frozen_at(later):
        assert clock.now() == later
        raise RuntimeError("boom")
    assert clock.now() == MOMENT


def test_frozen_at_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"), clock.frozen_at(datetime(2031, 1, 1)):
        pass
