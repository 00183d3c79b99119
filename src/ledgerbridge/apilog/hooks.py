"""`hook_for(account, company, label)`: the `log_hook` that stores a connection's calls.

The hook runs inside every vendor call, so it must be cheap and must never break the call it
reports: it builds unsaved rows in memory (no query) and writes them with one `bulk_create`
every `batch_size` calls or once `max_delay` seconds have passed since the oldest waiting row.
The last rows are never left behind: every hook a thread made is flushed when that thread's
task or web request finishes (`flush_pending`, connected to Django's `task_finished` and
`request_finished` in apps.py), and a finaliser writes whatever a dropped hook still holds,
also at interpreter exit.
"""

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.connectors.http import ApiCall, LogHook
from ledgerbridge.core import clock

if TYPE_CHECKING:
    from ledgerbridge.accounts.models import Account, PsaCredential
    from ledgerbridge.companies.models import Company

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 50
DEFAULT_MAX_DELAY = 1.0  # seconds
_PATH_LIMIT = ApiCallRecord._meta.get_field("path").max_length or 1000


class ApiCallRecorder:
    """A `LogHook` writing `ApiCallRecord`s for one connection of one account, in batches."""

    def __init__(
        self,
        *,
        account_id: int,
        company_id: int | None,
        connection: str,
        detailed: bool,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_delay: float = DEFAULT_MAX_DELAY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_id = account_id
        self.company_id = company_id
        self.connection = connection[:200]
        self.detailed = detailed
        self.batch_size = max(1, batch_size)
        self.max_delay = max_delay
        self._monotonic = monotonic
        self._pending: list[ApiCallRecord] = []
        self._lock = threading.Lock()
        self._oldest_at: float | None = None
        # Holds the list and the lock, not the recorder, so it can run once the recorder is gone.
        self._finalizer = weakref.finalize(self, _write, self._pending, self._lock)
        _thread_recorders().append(weakref.ref(self))

    def __call__(self, call: ApiCall) -> None:
        record = ApiCallRecord(
            account_id=self.account_id,
            company_id=self.company_id,
            connection=self.connection,
            vendor=call.vendor[:40],
            method=call.method[:10],
            path=call.path[:_PATH_LIMIT],
            query=call.query,
            status=call.status,
            duration_ms=max(0, round(call.duration_ms)),
            attempt=call.attempt,
            outcome=call.outcome[:20],
            detailed=self.detailed,
            request_body=call.request_body or "",
            response_body=call.response_body or "",
            response_headers=dict(call.response_headers) if call.response_headers else None,
            created_at=clock.now(),
        )
        now = self._monotonic()
        with self._lock:
            self._pending.append(record)
            if self._oldest_at is None:
                self._oldest_at = now
            due = len(self._pending) >= self.batch_size or now - self._oldest_at >= self.max_delay
        if due:
            self.flush()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write the waiting rows now; returns how many were written."""
        written = _write(self._pending, self._lock)
        with self._lock:
            if not self._pending:
                self._oldest_at = None
        return written

    def close(self) -> None:
        self.flush()


_local = threading.local()


def _thread_recorders() -> list[weakref.ref[ApiCallRecorder]]:
    recorders: list[weakref.ref[ApiCallRecorder]] | None = getattr(_local, "recorders", None)
    if recorders is None:
        recorders = _local.recorders = []
    return recorders


def flush_pending(**_signal: object) -> int:
    """Write what every live hook made in this thread still holds; returns how many rows."""
    recorders = _thread_recorders()
    written = 0
    for ref in list(recorders):
        recorder = ref()
        if recorder is None:
            recorders.remove(ref)
        else:
            written += recorder.flush()
    return written


def _write(pending: list[ApiCallRecord], lock: threading.Lock) -> int:
    with lock:
        rows = pending[:]
        pending.clear()
    if not rows:
        return 0
    try:
        ApiCallRecord.objects.bulk_create(rows)
    except Exception:
        # The log must never fail the sync it describes; the loss is reported, not raised.
        logger.warning("Could not store %d API log entries", len(rows), exc_info=True)
        return 0
    return len(rows)


def hook_for(
    account: "Account",
    company: "Company | None",
    label: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_delay: float = DEFAULT_MAX_DELAY,
) -> ApiCallRecorder:
    """The log hook for one connection; bodies are kept if the account's detailed logging is on."""
    return ApiCallRecorder(
        account_id=account.pk,
        company_id=company.pk if company is not None else None,
        connection=label,
        detailed=account.detailed_api_logging,
        batch_size=batch_size,
        max_delay=max_delay,
    )


# --- labels and the keyword arguments the connector factories take ----------------------------


def ledger_label(company: "Company") -> str:
    connection = company.ledger_connection()
    return str(connection) if connection is not None else f"Ledger: {company.name}"


def psa_label(credential: "PsaCredential") -> str:
    return f"{credential.get_psa_display()}: {credential.label}"


class ConnectionLogging(TypedDict):
    """`ledger_for(...)`/`source_for(...)` keyword arguments that turn the call log on."""

    log_hook: LogHook
    detailed_logging: bool


def ledger_logging(company: "Company") -> ConnectionLogging:
    account = company.account
    return {
        "log_hook": hook_for(account, company, ledger_label(company)),
        "detailed_logging": account.detailed_api_logging,
    }


def psa_logging(company: "Company", credential: "PsaCredential") -> ConnectionLogging:
    account = company.account
    return {
        "log_hook": hook_for(account, company, psa_label(credential)),
        "detailed_logging": account.detailed_api_logging,
    }
