"""Every state change of runs and records. Views, the API and tasks call these, nothing else.

A run executes under the company's lease (`company:<id>:sync`), so one run per company is
in flight at a time on any number of workers; a worker that dies stops renewing, the lease
expires, and the next run resumes where it stopped (the write log makes that safe).
"""

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from django import db
from django.conf import settings
from django.db import transaction
from django.db.models import F

from ledgerbridge.accounts.models import User
from ledgerbridge.companies.models import Company
from ledgerbridge.connectors.base import ConnectorError
from ledgerbridge.core import audit, clock, leases
from ledgerbridge.sync.engine import InvoiceSync, RunCancelledError, RunStoppedError, SyncContext
from ledgerbridge.sync.models import RecordType, SyncRecord, SyncRun
from ledgerbridge.sync.payments import PaymentSync
from ledgerbridge.sync.policy import ErrorClass
from ledgerbridge.sync.stragglers import acknowledge_stragglers

logger = logging.getLogger(__name__)


def lease_ttl() -> timedelta:
    return timedelta(seconds=settings.SYNC_LEASE_SECONDS)


type ContextBuilder = Callable[[Company, SyncRun], SyncContext]


class SyncBusyError(Exception):
    """Another run holds this company's lease."""


class RecordActionError(ValueError):
    """A record action that does not apply to the record as it is (said for the admin)."""


def lease_name(company_id: int) -> str:
    return f"company:{company_id}:sync"


def request_run(
    company: Company,
    *,
    trigger: str,
    record_types: Sequence[str] = (RecordType.INVOICE, RecordType.PAYMENT),
    user: User | None = None,
    only_psa_ids: Iterable[str] = (),
    enqueue: bool = True,
    not_before: datetime | None = None,
    retry_attempt: int = 0,
) -> SyncRun:
    """Queue a run and hand it to a worker (after the transaction commits); a run with
    `not_before` waits for the scheduler to hand it over then."""
    run = SyncRun.objects.create(
        company=company,
        trigger=trigger,
        record_types=[str(t) for t in record_types],
        only_psa_ids=list(only_psa_ids),
        requested_by=user,
        not_before=not_before,
        retry_attempt=retry_attempt,
    )
    if enqueue and not_before is None:
        from ledgerbridge.sync.tasks import execute_sync_run

        transaction.on_commit(lambda: execute_sync_run.enqueue(run.pk))
    return run


def execute_run(run_id: int, *, build_context: ContextBuilder | None = None) -> SyncRun:
    """Do the run's work under the company lease. Raises `SyncBusyError` if another holds it."""
    run = SyncRun.objects.select_related("company").get(pk=run_id)
    if run.finished or (run.not_before is not None and run.not_before > clock.now()):
        return run
    company = run.company
    holder = f"run:{run.pk}:{uuid.uuid4().hex[:8]}"
    if not leases.acquire(lease_name(company.pk), holder, lease_ttl()):
        raise SyncBusyError(f"Another sync of {company.name} is running.")
    keeper = _LeaseKeeper(lease_name(company.pk), holder)
    try:
        # Read again under the lease: another worker may have run it meanwhile.
        run.refresh_from_db()
        if run.finished or run.status == SyncRun.Status.RUNNING:
            return run
        if run.cancel_requested:
            _finish(run, SyncRun.Status.CANCELLED)
            return run
        _mark(run, status=SyncRun.Status.RUNNING, started_at=clock.now())
        keeper.start()
        return _do_run(run, build_context or _default_builder(), keeper)
    except Exception as error:
        # A bug or a database failure: the run says so instead of staying "running".
        if not SyncRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists():
            _finish(run, SyncRun.Status.FAILED, error=f"The sync stopped unexpectedly: {error}")
        raise
    finally:
        keeper.stop()
        leases.release(lease_name(company.pk), holder)


class _LeaseKeeper:
    """Renews the company lease every third of its length, from its own thread, for as long as
    the run lives: a single slow batch (a vendor's rate limit) must not let the lease lapse and
    a second worker start the same company."""

    def __init__(self, name: str, holder: str) -> None:
        self.name, self.holder = name, holder
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease {name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _keep(self) -> None:
        try:
            while not self._stop.wait(lease_ttl().total_seconds() / 3):
                if not leases.renew(self.name, self.holder, lease_ttl()):
                    self.lost.set()
                    return
        finally:
            db.connections.close_all()

    def check(self) -> None:
        """Raise if the lease was lost (called between batches)."""
        if self.lost.is_set():
            raise RunStoppedError("This run lost its hold on the company to another worker.")


def _do_run(run: SyncRun, builder: ContextBuilder, keeper: _LeaseKeeper) -> SyncRun:
    company = run.company
    try:
        context = builder(company, run)
    except RunStoppedError as stopped:
        _finish(run, SyncRun.Status.FAILED, error=str(stopped))
        return run

    keep_lease = keeper.check

    try:
        for record_type in run.record_types:
            if record_type == RecordType.INVOICE:
                InvoiceSync(context, on_progress=keep_lease).run(run.only_psa_ids)
                if not run.only_psa_ids:
                    acknowledge_stragglers(context)
            elif record_type == RecordType.PAYMENT and not run.only_psa_ids:
                PaymentSync(context).run()
            keep_lease()
    except RunCancelledError:
        _finish(run, SyncRun.Status.CANCELLED, counts=context.counts)
        return run
    except RunStoppedError as stopped:
        _finish(run, SyncRun.Status.FAILED, error=str(stopped), counts=context.counts)
        if keeper.lost.is_set():
            # Another worker holds the company now; make sure the work is not dropped.
            request_run(company, trigger=SyncRun.Trigger.RETRY, record_types=run.record_types)
        return run
    except ConnectorError as error:
        # The PSA or ledger failed as a whole (listing invoices, reading lock dates): say
        # so on the run; passing faults are tried again after a pause.
        _finish(
            run,
            SyncRun.Status.FAILED,
            error=f"{error.message} {error.hint}".strip(),
            counts=context.counts,
        )
        if error.retryable:
            _retry_later(run, only_psa_ids=list(run.only_psa_ids))
        return run
    failed = context.counts.get("failed", 0) + context.counts.get("uncertain", 0)
    status = SyncRun.Status.PARTIAL if failed else SyncRun.Status.SUCCEEDED
    _finish(run, status, counts=context.counts)
    passing = list(
        SyncRecord.objects.filter(
            last_run=run, state=SyncRecord.State.FAILED, error_class=ErrorClass.TRANSIENT
        ).values_list("psa_id", flat=True)
    )
    if passing:
        _retry_later(run, only_psa_ids=passing, record_types=[RecordType.INVOICE])
    return run


# Pauses before retrying records that failed for a passing reason (the vendor was down, over
# its limit); after the last one they wait for the next scheduled or manual run.
RETRY_BACKOFF = (timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))


def _retry_later(
    run: SyncRun, *, only_psa_ids: list[str], record_types: Sequence[str] | None = None
) -> SyncRun | None:
    if run.retry_attempt >= len(RETRY_BACKOFF) or run.cancel_requested:
        return None
    return request_run(
        run.company,
        trigger=SyncRun.Trigger.RETRY,
        record_types=record_types or list(run.record_types),
        only_psa_ids=only_psa_ids,
        not_before=clock.now() + RETRY_BACKOFF[run.retry_attempt],
        retry_attempt=run.retry_attempt + 1,
    )


def _default_builder() -> ContextBuilder:
    from ledgerbridge.sync.context import build_context

    return build_context


def _mark(run: SyncRun, **changes: object) -> None:
    for name, value in changes.items():
        setattr(run, name, value)
    SyncRun.objects.filter(pk=run.pk).update(**changes)


def _finish(
    run: SyncRun, status: str, *, error: str = "", counts: dict[str, int] | None = None
) -> None:
    changes: dict[str, object] = {"status": status, "finished_at": clock.now(), "error": error}
    if counts is not None:
        changes["counts"] = dict(counts)
    _mark(run, **changes)
    logger.info("sync run %s for company %s: %s", run.pk, run.company_id, status)


def cancel_run(run: SyncRun, *, user: User | None = None) -> SyncRun:
    """Ask a run to stop after its current batch (a queued run never starts)."""
    if run.finished:
        return run
    _mark(run, cancel_requested=True)
    audit.record("sync.run_cancelled", actor=user, target=run, account=run.company.account)
    return run


# --- record actions ------------------------------------------------------------------------


# States of a record whose document the ledger holds.
IN_LEDGER = (SyncRecord.State.POSTED, SyncRecord.State.ACKNOWLEDGED, SyncRecord.State.CHANGED)


def retry_record(record: SyncRecord, *, user: User | None = None) -> SyncRun:
    if record.state not in (SyncRecord.State.FAILED, SyncRecord.State.PENDING):
        raise RecordActionError(
            f"{record} is {record.get_state_display()}; only failed records are retried."
        )
    record.error_class = record.error_message = record.error_hint = ""
    record.state = SyncRecord.State.PENDING
    _save(record)
    return request_run(
        record.company,
        trigger=SyncRun.Trigger.RETRY,
        record_types=[record.record_type],
        user=user,
        only_psa_ids=[record.psa_id],
    )


def exclude_record(record: SyncRecord, *, user: User | None = None, reason: str = "") -> None:
    if record.state in IN_LEDGER:
        raise RecordActionError(f"{record} is already in the ledger; it cannot be excluded.")
    if record.state == SyncRecord.State.POSTING:
        raise RecordActionError(f"{record} is being posted; wait for the run to finish.")
    record.state = SyncRecord.State.EXCLUDED
    record.manual_note = reason or "Excluded by hand."
    _save(record)
    audit.record("sync.record_excluded", actor=user, target=record, account=record.company.account)


def include_record(record: SyncRecord, *, user: User | None = None) -> None:
    if record.state != SyncRecord.State.EXCLUDED:
        raise RecordActionError(f"{record} is not excluded.")
    record.state = SyncRecord.State.PENDING
    record.manual_note = ""
    _save(record)
    audit.record("sync.record_included", actor=user, target=record, account=record.company.account)


def mark_posted(
    record: SyncRecord, *, ledger_number: str, user: User | None = None, note: str = ""
) -> None:
    """For a document keyed into the ledger by hand: LedgerBridge will not post it again.

    Also for a record that changed in the PSA after posting (or whose update the ledger
    refused): the ledger's document counts as corrected by hand, so the PSA's invoice as it is
    now is what the ledger holds, and only a later change is flagged again.
    """
    if record.state in (SyncRecord.State.POSTED, SyncRecord.State.ACKNOWLEDGED):
        raise RecordActionError(f"{record} is already posted.")
    if record.state == SyncRecord.State.POSTING:
        raise RecordActionError(f"{record} is being posted; wait for the run to finish.")
    if not ledger_number.strip():
        raise RecordActionError("Give the ledger's number for the document keyed by hand.")
    record.fingerprint = ""  # the next run takes the PSA's invoice as it is as the ledger's
    record.state = SyncRecord.State.POSTED
    record.ledger_number = ledger_number.strip()
    record.error_class = record.error_message = record.error_hint = ""
    who = user.email if user else "someone"
    record.manual_note = note or f"Marked as posted by {who}: keyed by hand in the ledger."
    record.posted_at = clock.now()
    _save(record)
    audit.record(
        "sync.record_marked_posted",
        actor=user,
        target=record,
        account=record.company.account,
        details={"ledger_number": record.ledger_number},
    )


def repost_record(record: SyncRecord, *, user: User | None = None) -> SyncRun:
    """Update the ledger's document of a record that changed in the PSA after it was posted.

    The record's version goes up, so its next write has a key of its own (the update, never a
    second create), and a run for just this record is queued; the engine, seeing a record in
    the ledger with a new version, updates that document in place.
    """
    if record.state != SyncRecord.State.CHANGED or not record.ledger_id:
        raise RecordActionError(
            f"{record} has not changed in the PSA since it was posted; only a changed record "
            "is re-posted."
        )
    with transaction.atomic():
        # Conditional, so two clicks (or a run finishing meanwhile) re-post it once.
        claimed = SyncRecord.objects.filter(
            pk=record.pk, state=SyncRecord.State.CHANGED, version=record.version
        ).update(
            state=SyncRecord.State.PENDING,
            version=F("version") + 1,
            error_class="",
            error_message="",
            error_hint="",
            updated_at=clock.now(),
        )
        if not claimed:
            raise RecordActionError(f"{record} changed meanwhile; reload it and try again.")
        record.refresh_from_db()
        audit.record(
            "sync.record_reposted",
            actor=user,
            target=record,
            account=record.company.account,
            details={
                "version": record.version,
                "ledger_id": record.ledger_id,
                "ledger_number": record.ledger_number,
            },
        )
        return request_run(
            record.company,
            trigger=SyncRun.Trigger.REPOST,
            record_types=[record.record_type],
            user=user,
            only_psa_ids=[record.psa_id],
        )


def _save(record: SyncRecord) -> None:
    record.updated_at = clock.now()
    record.save()
