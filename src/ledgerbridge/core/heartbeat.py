"""Worker heartbeats: a row per worker process, refreshed every 15 s by a background thread.

The health endpoint (core/api.py) reports the age of the newest row, so a dead worker shows up
as "stale" without any process having to notice it died.
"""

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction

from ledgerbridge.core import clock
from ledgerbridge.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

BEAT_EVERY = timedelta(seconds=15)
# Rows of workers gone this long are deleted when a worker starts, so restarts don't pile up.
FORGET_AFTER = timedelta(days=7)


def this_worker_id() -> str:
    """hostname:pid: unique among live processes and readable in the health output."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(worker_id: str, kind: str, started_at: datetime) -> None:
    """Record that `worker_id` is alive now."""
    now = clock.now()
    fields = {"kind": kind, "started_at": started_at, "last_seen": now}
    if WorkerHeartbeat.objects.filter(worker_id=worker_id).update(**fields):
        return
    try:
        with transaction.atomic():
            WorkerHeartbeat.objects.create(worker_id=worker_id, **fields)
    except IntegrityError:
        # Another thread with the same id created the row between our UPDATE and INSERT.
        WorkerHeartbeat.objects.filter(worker_id=worker_id).update(**fields)


def forget_gone_workers() -> int:
    """Delete heartbeats not refreshed for FORGET_AFTER; returns how many."""
    deleted, _ = WorkerHeartbeat.objects.filter(last_seen__lt=clock.now() - FORGET_AFTER).delete()
    return deleted


class Heartbeat:
    """A daemon thread that beats at once and then every `every` until stopped."""

    def __init__(self, kind: str, worker_id: str | None = None, every: timedelta = BEAT_EVERY):
        self.kind = kind
        self.worker_id = worker_id or this_worker_id()
        self.every = every
        self.started_at = clock.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{self.kind}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            forget_gone_workers()
        except Exception:
            logger.exception("Could not delete old worker heartbeats")
        while True:
            try:
                beat(self.worker_id, self.kind, self.started_at)
            except Exception:
                # A database blip must not kill the thread: the next beat may succeed.
                logger.exception("Heartbeat for %s failed", self.worker_id)
            finally:
                # Don't hold a connection between beats: fewer idle connections, and none for a
                # forked Celery pool child to inherit mid-conversation.
                connection.close()
            if self._stop.wait(self.every.total_seconds()):
                return


@contextmanager
def heartbeat(kind: str, worker_id: str | None = None) -> Iterator[Heartbeat]:
    """Keep a heartbeat going for the duration of the `with` block."""
    beating = Heartbeat(kind, worker_id)
    beating.start()
    try:
        yield beating
    finally:
        beating.stop()
