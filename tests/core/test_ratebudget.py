from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ledgerbridge.core import clock, ratebudget
from ledgerbridge.core.models import RateBudget, RateBudgetSlot
from ledgerbridge.core.ratebudget import (
    RateLimitError,
    Reservation,
    UnknownRateBudgetError,
    Wait,
    WaitReason,
)
from tests.core.contention import run_children

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
MIDNIGHT = datetime(2026, 3, 3, tzinfo=UTC)
NAME = "xero:northwind"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.set_now(T0)


def configure(**overrides: object) -> RateBudget:
    limits: dict[str, object] = {
        "label": "Xero",
        "calls_per_window": 3,
        "window": timedelta(minutes=1),
        "max_concurrent": 2,
        "daily_cap": 5000,
        "slot_timeout": timedelta(minutes=2),
    }
    return ratebudget.configure(NAME, **{**limits, **overrides})  # type: ignore[arg-type]


def take() -> Reservation:
    outcome = ratebudget.reserve(NAME)
    assert isinstance(outcome, Reservation), outcome
    return outcome


def refused() -> Wait:
    outcome = ratebudget.reserve(NAME)
    assert isinstance(outcome, Wait), outcome
    return outcome


def call_now() -> None:
    ratebudget.release(take())


class FakeSleep:
    """Sleeps by moving the frozen clock, and remembers how long it was asked to sleep."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        clock.advance(timedelta(seconds=seconds))


# Window limit


def test_window_allows_its_calls_then_says_when_the_next_can_start() -> None:
    configure()
    for _ in range(3):
        call_now()

    wait = refused()

    assert wait.reason == WaitReason.WINDOW
    assert wait.until == T0 + timedelta(minutes=1)
    assert wait.message == "Xero limit of 3 calls per minute reached; next call by 09:01 UTC"


def test_window_slides_with_time() -> None:
    configure()
    for _ in range(3):
        call_now()
        clock.advance(timedelta(seconds=10))
    assert refused().until == T0 + timedelta(seconds=60)

    clock.set_now(T0 + timedelta(seconds=60))
    call_now()  # the call made at T0 has left the window

    clock.advance(timedelta(seconds=1))
    assert refused().until == T0 + timedelta(seconds=70)  # the call made at T0+10s
    clock.set_now(T0 + timedelta(seconds=70))
    call_now()


def test_window_counts_from_the_end_of_a_call() -> None:
    # The vendor may receive the request as late as the moment the call ends.
    configure(calls_per_window=1)
    reservation = take()
    clock.advance(timedelta(seconds=30))
    ratebudget.release(reservation)

    assert refused().until == T0 + timedelta(seconds=90)


def test_window_slot_of_a_running_call_is_held_at_least_until_its_timeout() -> None:
    configure(calls_per_window=1, max_concurrent=5)
    take()  # never released: the caller died mid-call

    assert refused().until == T0 + timedelta(minutes=2) + timedelta(minutes=1)


# Concurrency


def test_concurrency_cap_refuses_a_third_call_until_one_is_released() -> None:
    configure(calls_per_window=10)
    first, _second = take(), take()

    wait = refused()

    assert wait.reason == WaitReason.CONCURRENCY
    assert wait.may_end_early
    assert wait.message == (
        "Xero allows 2 calls at once and all are running; one frees by 09:02 UTC"
    )
    ratebudget.release(first)
    take()


def test_a_refused_call_uses_up_nothing() -> None:
    configure(calls_per_window=10, max_concurrent=1)
    take()

    for _ in range(3):
        refused()

    budget = RateBudget.objects.get(name=NAME)
    assert budget.day_used == 1
    busy = RateBudgetSlot.objects.filter(budget=budget, kind="window", busy_until__gt=T0)
    assert busy.count() == 1


def test_release_twice_is_harmless() -> None:
    configure(max_concurrent=1)
    reservation = take()
    ratebudget.release(reservation)
    ratebudget.release(reservation)

    take()
    assert refused().reason == WaitReason.CONCURRENCY


def test_slot_of_a_crashed_caller_is_freed_after_the_timeout() -> None:
    configure(calls_per_window=10)
    crashed = [take(), take()]  # both callers died without releasing

    assert refused().until == T0 + timedelta(minutes=2)
    clock.advance(timedelta(minutes=2))
    newcomer = take()

    # A crashed caller that comes back late cannot free the newcomer's slot.
    for reservation in crashed:
        ratebudget.release(reservation)
    take()
    assert refused().reason == WaitReason.CONCURRENCY
    ratebudget.release(newcomer)
    take()


# Daily cap


def test_daily_cap_stops_calls_until_midnight_utc() -> None:
    configure(calls_per_window=100, daily_cap=5)
    for _ in range(5):
        call_now()

    wait = refused()

    assert (wait.reason, wait.until) == (WaitReason.DAILY_CAP, MIDNIGHT)
    assert wait.message == "Xero daily limit of 5 calls reached; resumes at 00:00 UTC"
    clock.set_now(MIDNIGHT - timedelta(microseconds=1))
    refused()
    clock.set_now(MIDNIGHT)
    call_now()
    assert RateBudget.objects.get(name=NAME).day_used == 1


def test_call_raises_a_clear_error_when_the_daily_cap_is_reached() -> None:
    configure(calls_per_window=100, daily_cap=1)
    call_now()
    sleep = FakeSleep()

    with pytest.raises(RateLimitError) as raised, ratebudget.call(NAME, sleep=sleep):
        pytest.fail("the call must not start")

    assert str(raised.value) == "Xero daily limit of 1 calls reached; resumes at 00:00 UTC"
    assert raised.value.resumes_at == MIDNIGHT
    assert sleep.calls == []  # no point waiting hours in-process


# What the vendor says


@pytest.mark.parametrize(
    "retry_after", ["120", "Mon, 02 Mar 2026 09:02:00 GMT"], ids=["seconds", "http-date"]
)
def test_retry_after_blocks_until_then(retry_after: str) -> None:
    configure()

    until = ratebudget.note_response(NAME, 429, {"Retry-After": retry_after})

    assert until == T0 + timedelta(minutes=2)
    wait = refused()
    assert (wait.reason, wait.until) == (WaitReason.VENDOR, until)
    assert (
        wait.message == f"Xero asked us to wait (Retry-After: {retry_after}); resumes at 09:02 UTC"
    )
    clock.advance(timedelta(minutes=2) - timedelta(microseconds=1))
    refused()
    clock.advance(timedelta(microseconds=1))
    call_now()


def test_retry_after_on_503_blocks_and_on_success_is_ignored() -> None:
    configure()

    assert ratebudget.note_response(NAME, 200, {"Retry-After": "60"}) is None
    call_now()
    assert ratebudget.note_response(NAME, 503, {"Retry-After": "60"}) == T0 + timedelta(minutes=1)
    assert refused().reason == WaitReason.VENDOR


def test_a_shorter_retry_after_does_not_lift_a_longer_block() -> None:
    configure()
    ratebudget.note_response(NAME, 429, {"Retry-After": "300"})

    ratebudget.note_response(NAME, 429, {"Retry-After": "10"})

    assert refused().until == T0 + timedelta(minutes=5)


def test_retry_after_is_capped_at_a_day() -> None:
    configure()

    until = ratebudget.note_response(NAME, 429, {"Retry-After": "31536000"})

    assert until == T0 + timedelta(days=1)


def test_a_retry_after_in_the_past_does_not_block() -> None:
    configure()

    assert ratebudget.note_response(NAME, 503, {"Retry-After": "0"}) is None
    assert (
        ratebudget.note_response(NAME, 503, {"Retry-After": "Sun, 01 Mar 2026 09:00:00 GMT"})
        is None
    )
    call_now()


def test_minute_remaining_at_zero_blocks_for_a_window() -> None:
    configure(calls_per_window=60)
    headers = httpx.Headers({"x-minlimit-remaining": "0", "x-daylimit-remaining": "4200"})

    until = ratebudget.note_response(NAME, 200, headers)

    assert until == T0 + timedelta(minutes=1)
    wait = refused()
    assert wait.message == "Xero has no calls left (X-MinLimit-Remaining: 0); resumes at 09:01 UTC"
    clock.advance(timedelta(minutes=1))
    call_now()


def test_minute_remaining_at_zero_adds_no_block_when_our_own_window_is_full() -> None:
    # We made all 3 calls this window; the vendor saying "0 left" tells us nothing new, and
    # the slots free one by one as each call ages out (not all a minute after the last one).
    configure()
    for second in range(3):
        clock.set_now(T0 + timedelta(seconds=20 * second))
        call_now()
    headers = {"X-MinLimit-Remaining": "0"}
    assert ratebudget.note_response(NAME, 200, headers) is None
    clock.set_now(T0 + timedelta(minutes=1, seconds=1))
    call_now()  # the first call's slot is free again; no extra minute of waiting


def test_day_remaining_at_zero_blocks_until_midnight_utc() -> None:
    configure()

    until = ratebudget.note_response(NAME, 200, {"X-DayLimit-Remaining": "0"})

    assert until == MIDNIGHT
    assert refused().message == (
        "Xero has no calls left (X-DayLimit-Remaining: 0); resumes at 00:00 UTC"
    )


def test_remaining_calls_above_zero_change_nothing() -> None:
    configure()

    headers = {"X-Rate-Limit-Remaining": "7", "X-DayLimit-Remaining": "not a number"}
    assert ratebudget.note_response(NAME, 200, headers) is None
    call_now()


@pytest.mark.parametrize(
    ("headers", "until"),
    [
        ({}, T0 + timedelta(minutes=1)),
        ({"Retry-After": "soon"}, T0 + timedelta(minutes=1)),
        ({"X-Rate-Limit-Problem": "day"}, MIDNIGHT),
    ],
    ids=["bare", "unreadable-retry-after", "day-problem"],
)
def test_a_429_without_a_usable_retry_after_still_blocks(
    headers: dict[str, str], until: datetime
) -> None:
    configure()

    assert ratebudget.note_response(NAME, 429, headers) == until
    assert refused().until == until


# The `with budget.call(...)` context manager


def test_call_waits_for_a_window_slot_without_really_sleeping() -> None:
    configure(calls_per_window=1)
    call_now()
    sleep = FakeSleep()

    with ratebudget.call(NAME, sleep=sleep) as reservation:
        assert reservation.taken_at == T0 + timedelta(minutes=1)

    assert sum(sleep.calls) == 60
    assert max(sleep.calls) <= 1  # it polls: a running call may free a slot early


def test_call_waits_out_a_vendor_block_in_one_sleep() -> None:
    configure()
    ratebudget.note_response(NAME, 429, {"Retry-After": "45"})
    sleep = FakeSleep()

    with ratebudget.call(NAME, sleep=sleep):
        pass

    assert sleep.calls == [45.0]


def test_call_releases_its_slot_even_when_the_body_fails() -> None:
    configure(max_concurrent=1)

    with pytest.raises(httpx.ConnectError), ratebudget.call(NAME):
        raise httpx.ConnectError("connection refused")

    take()


def test_call_gives_up_after_max_wait() -> None:
    configure(calls_per_window=10, max_concurrent=1)
    take()  # a call that never finishes
    sleep = FakeSleep()

    with (
        pytest.raises(RateLimitError, match="Xero allows 1 calls at once"),
        ratebudget.call(NAME, sleep=sleep, max_wait=timedelta(seconds=30)),
    ):
        pytest.fail("the call must not start")

    assert sum(sleep.calls) == 30


# Setting budgets up


def test_unknown_budget_is_a_clear_error() -> None:
    with pytest.raises(UnknownRateBudgetError, match="No rate budget named 'xero:nobody'"):
        ratebudget.reserve("xero:nobody")


def test_configure_again_changes_limits_and_slots() -> None:
    configure()
    configure(calls_per_window=5, max_concurrent=1, daily_cap=None)

    budget = RateBudget.objects.get(name=NAME)
    assert (budget.calls_per_window, budget.max_concurrent, budget.daily_cap) == (5, 1, None)
    assert budget.slots.filter(kind="window").count() == 5
    assert budget.slots.filter(kind="concurrent").count() == 1
    for _ in range(5):
        call_now()
    assert refused().reason == WaitReason.WINDOW


@pytest.mark.parametrize(
    "overrides",
    [
        {"calls_per_window": 0},
        {"max_concurrent": 0},
        {"daily_cap": 0},
        {"window": timedelta(seconds=1.5)},
        {"slot_timeout": timedelta(0)},
    ],
)
def test_configure_refuses_impossible_limits(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="xero:northwind"):
        configure(**overrides)


# Many processes, one budget


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_processes_sharing_a_budget_never_exceed_it() -> None:
    clock.set_now(None)  # the children run on real time, so must we
    per_window, concurrent = 5, 2
    ratebudget.configure(
        "contended",
        label="Xero",
        calls_per_window=per_window,
        window=timedelta(seconds=1),
        max_concurrent=concurrent,
    )

    reports = run_children("budget", "contended", count=4, seconds=1.5)

    calls = sorted((start, end) for r in reports for start, end in r["calls"])
    starts = [start for start, _ in calls]
    for first, later in zip(starts, starts[per_window:], strict=False):
        assert later - first > 1_000_000_000, "more calls started within a window than allowed"
    for start, _ in calls:
        running = sum(1 for s, e in calls if s <= start < e)
        assert running <= concurrent
    # The processes really contended, and slots came back after the window.
    assert len(calls) > per_window
    assert sum(r["waits"].get("window", 0) for r in reports) > 0
