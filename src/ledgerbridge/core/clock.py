"""One injectable clock. All code asks `clock.now()`; tests move time without sleeping."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    frozen = _frozen
    return frozen if frozen is not None else datetime.now(UTC)


def set_now(moment: datetime | None) -> None:
    """Freeze the clock at `moment` (aware), or unfreeze it with None."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("clock.set_now needs a timezone-aware datetime")
    with _lock:
        _frozen = moment


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (freezing it at the real time first if needed)."""
    global _frozen
    with _lock:
        _frozen = (_frozen or datetime.now(UTC)) + delta
        return _frozen


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    previous = _frozen
    set_now(moment)
    try:
        yield
    finally:
        set_now(previous)
