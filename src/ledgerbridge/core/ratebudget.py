"""Per-connection rate budgets, shared by every process through the database.

A budget (one `RateBudget` row per outside connection) allows `calls_per_window` calls in any
window of `window_seconds`, `max_concurrent` calls at once and `daily_cap` calls per UTC day. It
also obeys what the vendor says: a `Retry-After`, or a "remaining: 0" header passed to
`note_response`, blocks the budget until the vendor will take calls again.

A call takes one free *window slot* and one free *concurrent slot* (`RateBudgetSlot` rows), each
by a conditional UPDATE (`… WHERE id = S AND busy_until <= now`): whoever changed the row holds
it. No `select_for_update`, so SQLite and Postgres behave alike.

- A window slot stays busy for a whole window after its call ends, so N window slots never let
  more than N calls reach the vendor within any window, however the vendor aligns its windows.
- A concurrent slot is busy until its call ends, or until `slot_timeout_seconds` pass if the
  caller died, so a crashed worker cannot hold concurrency for ever.

Usage::

    ratebudget.configure("xero:1f2e…", label="Xero", calls_per_window=60,
                         window=timedelta(minutes=1), max_concurrent=5, daily_cap=5000)
    with ratebudget.call("xero:1f2e…"):
        response = client.get(url)
        ratebudget.note_response("xero:1f2e…", response.status_code, response.headers)

Call these outside any database transaction: inside one, the budget's rows stay locked (Postgres)
and its counts stay invisible to other processes until that transaction ends.
"""

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Min, Q, Value, When

from ledgerbridge.core import clock
from ledgerbridge.core.models import RateBudget, RateBudgetSlot

Kind = RateBudgetSlot.Kind

# New slots are free: busy until a moment long past.
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
# A broken or hostile Retry-After must not stop a connection for more than a day.
MAX_BLOCK = timedelta(days=1)
DEFAULT_MAX_WAIT = timedelta(minutes=5)
# How often `call` looks again while slots are busy: a running call may free one at any moment.
DEFAULT_POLL = timedelta(seconds=1)
# Free slots tried per kind; more than one only matters if someone raced us to the first.
_CANDIDATES = 5

# Headers that report how many calls are left, and which limit they speak for.
_WINDOW, _DAY = "window", "day"
_REMAINING_HEADERS = {
    "x-rate-limit-remaining": ("X-Rate-Limit-Remaining", _WINDOW),
    "x-ratelimit-remaining": ("X-RateLimit-Remaining", _WINDOW),
    "x-minlimit-remaining": ("X-MinLimit-Remaining", _WINDOW),
    "x-appminlimit-remaining": ("X-AppMinLimit-Remaining", _WINDOW),
    "x-daylimit-remaining": ("X-DayLimit-Remaining", _DAY),
}


class WaitReason(StrEnum):
    WINDOW = "window"  # every window slot was used within the last window
    CONCURRENCY = "concurrency"  # max_concurrent calls are running
    DAILY_CAP = "daily_cap"  # daily_cap calls made today (UTC)
    VENDOR = "vendor"  # the vendor said to wait (Retry-After, remaining: 0, a bare 429)


@dataclass(frozen=True)
class Reservation:
    """One call's claim on a budget. Hand it back with `release` when the call is done."""

    name: str
    token: str
    window_slot: int
    concurrent_slot: int
    window: timedelta
    taken_at: datetime


@dataclass(frozen=True)
class Wait:
    """No call may start yet: why, until when at the latest, and what to tell the admin."""

    name: str
    reason: WaitReason
    until: datetime
    message: str

    @property
    def may_end_early(self) -> bool:
        """True if a running call finishing can free a slot before `until`."""
        return self.reason in (WaitReason.WINDOW, WaitReason.CONCURRENCY)


class RateBudgetError(Exception):
    """Base class for rate budget errors; the message is written for the finance admin."""


class UnknownRateBudgetError(RateBudgetError, LookupError):
    pass


class RateLimitError(RateBudgetError):
    """No call could start within the time the caller was willing to wait."""

    def __init__(self, wait: Wait) -> None:
        super().__init__(wait.message)
        self.wait = wait

    @property
    def resumes_at(self) -> datetime:
        return self.wait.until


def configure(
    name: str,
    *,
    label: str,
    calls_per_window: int,
    window: timedelta,
    max_concurrent: int,
    daily_cap: int | None = None,
    slot_timeout: timedelta = timedelta(minutes=5),
) -> RateBudget:
    """Create or update the budget `name` and its slots. Safe to call at every start-up.

    `label` names the vendor in messages ("Xero"). `slot_timeout` must exceed the longest call
    (the HTTP timeout): a call running longer loses its concurrent slot to the next caller.
    """
    window_seconds = window.total_seconds()
    if window_seconds < 1 or window_seconds != int(window_seconds):
        raise ValueError(f"Rate budget {name!r}: the window must be a whole number of seconds")
    if calls_per_window < 1 or max_concurrent < 1 or (daily_cap is not None and daily_cap < 1):
        raise ValueError(f"Rate budget {name!r}: limits must be at least 1 (or no daily cap)")
    if slot_timeout < timedelta(seconds=1):
        raise ValueError(f"Rate budget {name!r}: the slot timeout must be at least a second")
    limits = {
        "label": label,
        "calls_per_window": calls_per_window,
        "window_seconds": int(window_seconds),
        "max_concurrent": max_concurrent,
        "daily_cap": daily_cap,
        "slot_timeout_seconds": int(slot_timeout.total_seconds()),
    }
    with transaction.atomic():
        if not RateBudget.objects.filter(name=name).update(**limits):
            try:
                with transaction.atomic():
                    RateBudget.objects.create(name=name, **limits)
            except IntegrityError:
                # Another process created it between our UPDATE and INSERT; our limits win.
                RateBudget.objects.filter(name=name).update(**limits)
        budget = RateBudget.objects.get(name=name)
        _size_slots(budget, Kind.WINDOW, calls_per_window)
        _size_slots(budget, Kind.CONCURRENT, max_concurrent)
    return budget


def _size_slots(budget: RateBudget, kind: str, count: int) -> None:
    slots = RateBudgetSlot.objects.filter(budget=budget, kind=kind)
    # Dropping a busy slot when a limit shrinks lets at most that many extra calls through once.
    slots.filter(number__gte=count).delete()
    have = set(slots.values_list("number", flat=True))
    RateBudgetSlot.objects.bulk_create(
        [
            RateBudgetSlot(budget=budget, kind=kind, number=n, busy_until=_LONG_AGO)
            for n in range(count)
            if n not in have
        ],
        ignore_conflicts=True,  # a concurrent configure() made them already
    )


def _get(name: str) -> RateBudget:
    budget = RateBudget.objects.filter(name=name).first()
    if budget is None:
        raise UnknownRateBudgetError(
            f"No rate budget named {name!r}; set one up with ratebudget.configure() first"
        )
    return budget


def reserve(name: str) -> Reservation | Wait:
    """Take one call's slots from budget `name` now, or say until when to wait. Never blocks.

    A `Wait` whose `may_end_early` is true gives the latest moment; poll before then.
    """
    now = clock.now()
    today = now.astimezone(UTC).date()
    token = uuid.uuid4().hex
    with transaction.atomic():
        budget = _get(name)
        window = timedelta(seconds=budget.window_seconds)
        # One conditional UPDATE checks the vendor block and the daily cap and counts the call.
        # On Postgres it also holds the budget row, so reservations for one budget go one by one.
        counted = RateBudget.objects.filter(
            Q(blocked_until__isnull=True) | Q(blocked_until__lte=now),
            Q(daily_cap__isnull=True)
            | Q(day__isnull=True)
            | Q(day__lt=today)
            | Q(day_used__lt=F("daily_cap")),
            pk=budget.pk,
        ).update(
            day=today,
            day_used=Case(When(day=today, then=F("day_used") + 1), default=Value(1)),
        )
        if not counted:
            return _refusal(name, now)
        # Until released, assume the request reaches the vendor as late as the timeout allows.
        slot_timeout = timedelta(seconds=budget.slot_timeout_seconds)
        window_slot = _take_slot(budget, Kind.WINDOW, now, now + slot_timeout + window, token)
        if window_slot is None:
            wait = _slots_wait(budget, Kind.WINDOW, now)
            transaction.set_rollback(True)  # undo the daily count
            return wait
        concurrent_slot = _take_slot(budget, Kind.CONCURRENT, now, now + slot_timeout, token)
        if concurrent_slot is None:
            wait = _slots_wait(budget, Kind.CONCURRENT, now)
            transaction.set_rollback(True)  # undo the daily count and the window slot
            return wait
    return Reservation(name, token, window_slot, concurrent_slot, window, now)


def _take_slot(
    budget: RateBudget, kind: str, now: datetime, busy_until: datetime, token: str
) -> int | None:
    # Least recently used first, so window slots rotate and their waits stay short.
    free = list(
        RateBudgetSlot.objects.filter(budget=budget, kind=kind, busy_until__lte=now)
        .order_by("busy_until", "number")
        .values_list("pk", flat=True)[:_CANDIDATES]
    )
    for pk in free:
        # The UPDATE re-checks the slot is free: only the caller whose UPDATE changed it owns it.
        if RateBudgetSlot.objects.filter(pk=pk, busy_until__lte=now).update(
            busy_until=busy_until, token=token
        ):
            return pk
    return None


def _refusal(name: str, now: datetime) -> Wait:
    """Why the budget row refused the call: the vendor's block or the daily cap."""
    budget = _get(name)
    if budget.blocked_until is not None and budget.blocked_until > now:
        message = f"{budget.blocked_reason}; resumes at {_moment(budget.blocked_until, now)}"
        return Wait(name, WaitReason.VENDOR, budget.blocked_until, message)
    if budget.daily_cap is not None and budget.day_used >= budget.daily_cap:
        until = _next_midnight(now)
        message = (
            f"{budget.label} daily limit of {budget.daily_cap} calls reached; "
            f"resumes at {_moment(until, now)}"
        )
        return Wait(name, WaitReason.DAILY_CAP, until, message)
    # Only a configure() raising the limits between our UPDATE and this read gets here.
    return Wait(name, WaitReason.CONCURRENCY, now, f"{budget.label} limits changed; try again")


def _slots_wait(budget: RateBudget, kind: str, now: datetime) -> Wait:
    until = RateBudgetSlot.objects.filter(budget=budget, kind=kind).aggregate(
        until=Min("busy_until")
    )["until"]
    until = max(until or now, now)
    if kind == Kind.WINDOW:
        message = (
            f"{budget.label} limit of {budget.calls_per_window} calls per "
            f"{_duration(budget.window_seconds)} reached; next call by {_moment(until, now)}"
        )
        return Wait(budget.name, WaitReason.WINDOW, until, message)
    message = (
        f"{budget.label} allows {budget.max_concurrent} calls at once and all are running; "
        f"one frees by {_moment(until, now)}"
    )
    return Wait(budget.name, WaitReason.CONCURRENCY, until, message)


def release(reservation: Reservation) -> None:
    """Hand back a reservation's slots. Harmless twice, or after a crashed-slot timeout."""
    now = clock.now()
    with transaction.atomic():
        # The vendor saw the request by now at the latest, so its window ends a window from now.
        # The token check leaves alone a slot that timed out and went to another caller.
        RateBudgetSlot.objects.filter(pk=reservation.window_slot, token=reservation.token).update(
            busy_until=now + reservation.window
        )
        RateBudgetSlot.objects.filter(
            pk=reservation.concurrent_slot, token=reservation.token
        ).update(busy_until=now, token="")


@contextmanager
def call(
    name: str,
    *,
    max_wait: timedelta = DEFAULT_MAX_WAIT,
    sleep: Callable[[float], object] = time.sleep,
    poll: timedelta = DEFAULT_POLL,
) -> Iterator[Reservation]:
    """Hold one call's slots of budget `name` for the `with` body, waiting for them if needed.

    Waits through `sleep(seconds)` (tests pass one that moves `core.clock`). Raises
    `RateLimitError` if no call can start within `max_wait`: at once when the wait is known to be
    longer (daily cap, vendor block), otherwise once `max_wait` has passed.
    """
    deadline = clock.now() + max_wait
    while True:
        outcome = reserve(name)
        if isinstance(outcome, Reservation):
            break
        now = clock.now()
        if outcome.until > deadline and (not outcome.may_end_early or now >= deadline):
            raise RateLimitError(outcome)
        delay = outcome.until - now
        if outcome.may_end_early:
            delay = min(delay, poll, deadline - now)
        sleep(max(delay.total_seconds(), 0.0))
    try:
        yield outcome
    finally:
        release(outcome)


def note_response(name: str, status: int, headers: Mapping[str, str]) -> datetime | None:
    """Obey what a vendor response says about its limits. Returns when calls may resume, if blocked.

    - `Retry-After` (seconds or an HTTP date) on a 429 or 503 blocks until then.
    - A remaining-calls header at 0 blocks a window (minute headers) or until 00:00 UTC (day).
    - A 429 with neither blocks a window, or until 00:00 UTC if `X-Rate-Limit-Problem: day`.
    A block only ever grows: a shorter one never lifts a longer one already in place.
    """
    now = clock.now()
    budget = _get(name)
    window = timedelta(seconds=budget.window_seconds)
    given = {key.lower(): value.strip() for key, value in headers.items()}
    blocks: list[tuple[datetime, str]] = []

    retry_after = given.get("retry-after")
    if status in (429, 503) and retry_after:
        until = parse_retry_after(retry_after, now)
        if until is not None:
            blocks.append((until, f"{budget.label} asked us to wait (Retry-After: {retry_after})"))
    for key, (header, scope) in _REMAINING_HEADERS.items():
        remaining = _int(given.get(key))
        if remaining is None or remaining > 0:
            continue
        if scope == _WINDOW and _own_window_full(budget, now):
            # Our own window slots already hold calls back until the oldest call ages out,
            # which is when the vendor's rolling window frees too; a whole extra window of
            # blocking would only slow us below the limit.
            continue
        until = _next_midnight(now) if scope == _DAY else now + window
        blocks.append((until, f"{budget.label} has no calls left ({header}: {remaining})"))
    if status == 429 and not blocks:
        day = given.get("x-rate-limit-problem", "").lower() == "day"
        until = _next_midnight(now) if day else now + window
        blocks.append((until, f"{budget.label} refused a call as over its limit (HTTP 429)"))

    if not blocks:
        return None
    until, reason = max(blocks)
    until = min(until, now + MAX_BLOCK)
    if until <= now:
        return None
    RateBudget.objects.filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lt=until), pk=budget.pk
    ).update(blocked_until=until, blocked_reason=reason[:300])
    return until


def _own_window_full(budget: RateBudget, now: datetime) -> bool:
    """True when every window slot was used within the last window (we are at the limit)."""
    busy = RateBudgetSlot.objects.filter(
        budget=budget, kind=RateBudgetSlot.Kind.WINDOW, busy_until__gt=now
    ).count()
    return busy >= budget.calls_per_window


def parse_retry_after(value: str, now: datetime) -> datetime | None:
    """The moment a `Retry-After` value (delay in seconds, or an HTTP date) points at."""
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    # HTTP dates are GMT; a date without a zone is read as UTC too.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _next_midnight(now: datetime) -> datetime:
    tomorrow = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)


def _moment(when: datetime, now: datetime) -> str:
    """A resume time as the admin reads it: "00:00 UTC", "14:03:07 UTC", or with its date."""
    when = when.astimezone(UTC)
    if when.microsecond:
        when += timedelta(microseconds=1_000_000 - when.microsecond)  # never say "sooner"
    clock_time = when.strftime("%H:%M" if when.second == 0 else "%H:%M:%S")
    if when - now >= timedelta(days=1):
        return f"{when:%Y-%m-%d} {clock_time} UTC"
    return f"{clock_time} UTC"


def _duration(seconds: int) -> str:
    named = {60: "minute", 3600: "hour", 86400: "day"}
    return named.get(seconds, f"{seconds} seconds")
