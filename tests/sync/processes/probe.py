"""Imported by the worker children (LEDGERBRIDGE_TASK_MODULES): every stretch of sync work a
process does is written down with its wall-clock start and end, so a test can show that no two
runs of one company ever worked at the same time, whichever worker or retry ran them.

A row is inserted when the work starts and closed when it ends; a worker killed mid-run leaves
its row open (`finished` NULL).
"""

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from ledgerbridge.sync.engine import InvoiceSync
from ledgerbridge.sync.payments import PaymentSync

SPANS_TABLE = "tests_sync_work_spans"


def create_spans_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SPANS_TABLE}")
        cursor.execute(
            f"CREATE TABLE {SPANS_TABLE} (company_id INTEGER NOT NULL, run_id INTEGER NOT NULL,"
            " work VARCHAR(20) NOT NULL, pid INTEGER NOT NULL, started DOUBLE PRECISION NOT NULL,"
            " finished DOUBLE PRECISION NULL)"
        )


def drop_spans_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SPANS_TABLE}")


def work_spans() -> list[tuple[int, int, str, int, float, float | None]]:
    """(company, run, work, pid, started, finished) for every stretch of work, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT company_id, run_id, work, pid, started, finished FROM {SPANS_TABLE}"  # noqa: S608
            " ORDER BY started"
        )
        return [(int(c), int(r), str(w), int(p), float(s), f) for c, r, w, p, s, f in cursor]


def _recorded(work: str, run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run)
    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        context = self.ctx
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {SPANS_TABLE} (company_id, run_id, work, pid, started)"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s)",
                [context.company_id, context.run.pk, work, os.getpid(), time.time()],
            )
        try:
            return run(self, *args, **kwargs)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {SPANS_TABLE} SET finished = %s"  # noqa: S608
                    " WHERE run_id = %s AND work = %s AND pid = %s AND finished IS NULL",
                    [time.time(), context.run.pk, work, os.getpid()],
                )

    return recording


if not getattr(InvoiceSync.run, "__wrapped__", None):
    InvoiceSync.run = _recorded("invoices", InvoiceSync.run)  # type: ignore[method-assign]
    PaymentSync.run = _recorded("payments", PaymentSync.run)  # type: ignore[method-assign]


# --- a prototype of the fix for a run losing its company mid-batch ---------------------------
# The engine renews the company lease only between batches, so a batch that takes longer than
# the lease (new customers and items at 8 calls a second, a wait for the QuickBooks batch
# budget) loses it. With LEDGERBRIDGE_TEST_KEEP_LEASE=1 the workers renew a held sync lease from
# a thread every third of its length instead, as the engine could: a killed worker still stops
# renewing at once. Off by default, so the process tests show the engine as it is.

if os.environ.get("LEDGERBRIDGE_TEST_KEEP_LEASE") == "1":
    import threading

    from ledgerbridge.core import leases

    _acquire, _release = leases.acquire, leases.release
    _keepers: dict[tuple[str, str], threading.Event] = {}

    def _keep(name: str, holder: str, ttl: Any, stop: threading.Event) -> None:
        try:
            while not stop.wait(ttl.total_seconds() / 3):
                if not leases.renew(name, holder, ttl):
                    return
        finally:
            connection.close()

    def _acquire_and_keep(name: str, holder: str, ttl: Any) -> bool:
        taken = _acquire(name, holder, ttl)
        if taken and name.endswith(":sync") and (name, holder) not in _keepers:
            stop = _keepers[(name, holder)] = threading.Event()
            threading.Thread(target=_keep, args=(name, holder, ttl, stop), daemon=True).start()
        return taken

    def _release_and_stop(name: str, holder: str) -> bool:
        if stop := _keepers.pop((name, holder), None):
            stop.set()
        return _release(name, holder)

    leases.acquire = _acquire_and_keep
    leases.release = _release_and_stop
