"""Imported only by the worker children (LEDGERBRIDGE_TASK_MODULES), never by pytest: wraps
the engine's runs so each stretch of sync work is written to the spans table (spans.py).
"""

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from ledgerbridge.sync.engine import InvoiceSync
from ledgerbridge.sync.payments import PaymentSync
from tests.sync.processes.spans import SPANS_TABLE


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
