"""Due work: small functions the scheduler calls on a fixed rhythm, safely from many processes.

    @due_work("enqueue-due-syncs", every=timedelta(minutes=5))
    def enqueue_due_syncs() -> None: ...

Time is cut into slots aligned to the Unix epoch (every 5 minutes means :00, :05, …). A function
is due when the slot containing now is later than the slot it last ran for, which is kept in a
DueWorkState row. A scheduler runs a due function only if it

1. takes the lease "scheduler:<name>" (so a run still going when the next slot starts is not
   joined by a second one), and
2. claims the slot with a conditional UPDATE of `last_slot` (one row changed = this scheduler
   owns the slot, even if its lease expired in the meantime),

so any number of schedulers run each function once per slot. Missed slots (scheduler down) are
not caught up: the next tick runs the function once. A function that raises is logged and
recorded; its slot counts as used. Due work should be quick — enqueue a task for anything slow.

Register due work in an app's `tasks.py`: the scheduler imports those modules at start.
"""

import logging
import secrets
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import close_old_connections
from django.db.models import F, Q

from ledgerbridge.core import clock, leases
from ledgerbridge.core.heartbeat import this_worker_id
from ledgerbridge.core.models import DueWorkState

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How long one run may hold its lease before another scheduler may start the next slot anyway.
DEFAULT_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class DueWork:
    name: str
    fn: Callable[[], object]
    every: timedelta
    timeout: timedelta = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.every < timedelta(seconds=1):
            raise ValueError(f"Due work {self.name!r}: every must be at least one second")

    def slot_at(self, moment: datetime) -> datetime:
        """The start of the slot that contains `moment`."""
        return EPOCH + ((moment - EPOCH) // self.every) * self.every

    @property
    def lease_name(self) -> str:
        return f"scheduler:{self.name}"


_registry: dict[str, DueWork] = {}
_registry_lock = threading.Lock()


def register(
    name: str, fn: Callable[[], object], every: timedelta, timeout: timedelta = DEFAULT_TIMEOUT
) -> DueWork:
    """Add `fn` to the scheduler under `name` (names are what the database remembers)."""
    work = DueWork(name, fn, every, timeout)
    with _registry_lock:
        existing = _registry.get(name)
        # Re-importing a module re-registers the same function; two functions sharing a name
        # would share one schedule, which is a bug.
        if existing and _qualified(existing.fn) != _qualified(fn):
            raise ValueError(
                f"Due work {name!r} is already registered to {_qualified(existing.fn)}"
            )
        _registry[name] = work
    return work


def due_work[F: Callable[[], object]](
    name: str, *, every: timedelta, timeout: timedelta = DEFAULT_TIMEOUT
) -> Callable[[F], F]:
    """Decorator form of `register`."""

    def decorate(fn: F) -> F:
        register(name, fn, every, timeout)
        return fn

    return decorate


def unregister(name: str) -> None:
    with _registry_lock:
        _registry.pop(name, None)


def registered() -> list[DueWork]:
    with _registry_lock:
        return sorted(_registry.values(), key=lambda work: work.name)


def _qualified(fn: Callable[[], object]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


class Scheduler:
    """Runs registered due work. `run_once` is one tick; `run_forever` ticks until stopped."""

    def __init__(self, works: list[DueWork] | None = None, holder: str | None = None) -> None:
        # None means "whatever is registered at each tick", so late registrations are picked up.
        self._works = works
        # Unique per instance so two schedulers in one process hold leases separately.
        self.holder = holder or f"{this_worker_id()}:{secrets.token_hex(3)}"

    def run_once(self) -> list[str]:
        """Run every function that is due now; returns the names that ran (failed ones too)."""
        ran = []
        for work in self._works if self._works is not None else registered():
            try:
                if self._run_if_due(work):
                    ran.append(work.name)
            except Exception:
                # Bookkeeping failed (database blip); the other functions still get their turn.
                logger.exception("Scheduler could not check due work %s", work.name)
        return ran

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        while not stop.is_set():
            # Long-lived process: drop connections that died or outlived CONN_MAX_AGE.
            close_old_connections()
            self.run_once()
            close_old_connections()
            stop.wait(interval)

    def _run_if_due(self, work: DueWork) -> bool:
        slot = work.slot_at(clock.now())
        if not _is_due(work.name, slot):
            # The common case, answered by one SELECT without touching the lease table.
            return False
        if not leases.acquire(work.lease_name, self.holder, work.timeout):
            return False
        try:
            DueWorkState.objects.get_or_create(name=work.name)
            claimed = DueWorkState.objects.filter(
                Q(last_slot__isnull=True) | Q(last_slot__lt=slot), name=work.name
            ).update(last_slot=slot, last_started_at=clock.now())
            if not claimed:
                return False
            self._run(work, slot)
            return True
        finally:
            leases.release(work.lease_name, self.holder)

    def _run(self, work: DueWork, slot: datetime) -> None:
        logger.info("Running due work %s for slot %s", work.name, slot.isoformat())
        try:
            work.fn()
        except Exception:
            logger.exception("Due work %s failed", work.name, extra={"due_work": work.name})
            outcome, error, failed = "failed", traceback.format_exc(), 1
        else:
            outcome, error, failed = "ok", "", 0
        DueWorkState.objects.filter(name=work.name).update(
            last_finished_at=clock.now(),
            last_outcome=outcome,
            last_error=error,
            run_count=F("run_count") + 1,
            failure_count=F("failure_count") + failed,
        )


def _is_due(name: str, slot: datetime) -> bool:
    last_slot = DueWorkState.objects.filter(name=name).values_list("last_slot", flat=True).first()
    return last_slot is None or last_slot < slot
