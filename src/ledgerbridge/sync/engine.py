"""The invoice pipeline: extract → map + validate → post through the write log → acknowledge.

One `InvoiceSync` handles every PSA x ledger pair; it speaks only `PsaSource`, `Ledger` and the
canonical documents. It is safe to run again at any point, including after a crash mid-batch:

- every ledger write goes through `core.writelog` under the key
  `<company>:invoice:<psa id>:v<version>`; a row left `sent` or `uncertain` is looked up in the
  ledger by number before anything is sent again, and a `succeeded` row is never re-sent;
- a record is acknowledged in the PSA only after the ledger confirmed it, and acknowledging is
  idempotent (ConnectWise finds its batch by identifier; Autotask sets the same date again);
- one record's failure is written on its `SyncRecord` and never stops the others.

A record already in the ledger that the PSA lists again (its mark was removed, as when the MSP
deletes a ConnectWise batch to correct the invoice) is compared with what was posted, by its
`fingerprint`. Unchanged, it is marked in the PSA again. Changed, it waits as `changed` for the
finance admin to re-post it (`actions.repost_record` bumps its `version`); the run after that
*updates* the ledger's document in place (`Ledger.update_document`) under the key
`…:v<version>`, as the operation "update invoice", instead of creating a second one. An update
whose outcome is unclear is gone through again, and the ledger adapter reads the document and
compares before writing anything, so nothing is ever re-sent blind.

The caller holds the company's lease (one run per company at a time) and builds the context.

The run streams the PSA's list a batch at a time (it never holds the whole list), and each
batch costs a handful of queries whatever its size: its records are read in one query and the
new ones inserted together, its write-log rows likewise (`writelog.record`). The records' new
state is kept in memory and written in one go (`_flush`, only the fields that changed) in the
transaction of the step that depends on it: with the rows' `sent` before the ledger call, with
their outcome after it, and before any PSA call. The one write per record is the mark after
its PSA acknowledgement, made at once: marked in the PSA, an invoice drops off the PSA's list,
so a mark not written down then would never be.
"""

import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import IntegrityError, transaction

from ledgerbridge.connectors.base import (
    ConnectorError,
    CountsPostableInvoices,
    ErrorKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceRef,
    Ledger,
    LedgerDocument,
    LockDates,
    PostableDocument,
    PostResult,
    Product,
    PsaSource,
)
from ledgerbridge.core import clock, writelog
from ledgerbridge.core.models import OutboundWrite
from ledgerbridge.sync.models import RecordType, SyncRecord, SyncRun
from ledgerbridge.sync.policy import ErrorClass, Mappings, SyncPolicy
from ledgerbridge.sync.prepare import (
    PreparedDocument,
    RecordError,
    prepare_invoice,
    with_ledger_codes,
)

logger = logging.getLogger(__name__)

State = SyncRecord.State

# A whole-run problem (the connection itself): stop, say so on the run, leave records as they are.
RUN_STOPPING_KINDS = frozenset({ErrorKind.AUTH, ErrorKind.PERMISSION})

# The SyncRecord fields the engine writes. Not `version` (a re-post bumps it) nor `paid_amount`
# (the payment sync's): a run never writes an older copy of those back.
RECORD_FIELDS = (
    "number",
    "kind",
    "customer_name",
    "issued_on",
    "total",
    "currency",
    "source_ids",
    "fingerprint",
    "state",
    "ledger_id",
    "ledger_number",
    "ledger_url",
    "error_class",
    "error_message",
    "error_hint",
    "warnings",
    "attempts",
    "last_run",
    "posted_at",
    "acknowledged_at",
    "updated_at",
    "manual_note",
)


class RunStoppedError(Exception):
    """The run cannot go on (a connection refused us); the message is for the finance admin."""


class RunCancelledError(Exception):
    pass


@dataclass
class SyncContext:
    company_id: int
    run: SyncRun
    source: PsaSource
    ledger: Ledger
    policy: SyncPolicy
    mappings: Mappings
    ledger_target: str  # write-log target of the ledger connection ("xero:<tenant>")
    psa_target: str  # write-log target of the PSA connection
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str, by: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + by


def error_class_for(error: ConnectorError) -> ErrorClass:
    if error.kind == ErrorKind.UNCERTAIN:
        return ErrorClass.UNCERTAIN
    if error.kind in (ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT):
        return ErrorClass.TRANSIENT
    return ErrorClass.LEDGER_REJECTED


def write_key(company_id: int, psa_id: str, version: int) -> str:
    return f"{company_id}:invoice:{psa_id}:v{version}"


def batch_identifier(record: SyncRecord) -> str:
    """The PSA acknowledgement's identifier: one per record and version (≤ 50 characters)."""
    return f"LB{record.company_id}-{record.number or record.psa_id}-{record.version}"[:50]


@dataclass
class _Work:
    record: SyncRecord
    ref: InvoiceRef
    invoice: Invoice | None = None
    prepared: PreparedDocument | None = None
    document: PostableDocument | None = None
    fingerprint: str = ""  # the PSA invoice's, kept on the record once the ledger holds it


class InvoiceSync:
    def __init__(self, context: SyncContext, *, on_progress: Callable[[], None] = lambda: None):
        self.ctx = context
        self.on_progress = on_progress
        self._customers: dict[str, str] = {}  # PSA customer id → ledger contact id
        self._items: dict[str, str] = {}  # PSA product id → ledger item code
        self._lock_dates: LockDates | None = None
        self._unsaved: dict[int, SyncRecord] = {}  # changed since the last `_flush`, by pk
        # The batch's records as the database holds them (`_stored`), so a flush writes only
        # what changed.
        self._stored: dict[int, tuple[Any, ...]] = {}

    # -- the run -----------------------------------------------------------------------------

    def run(self, only: Iterable[str] = ()) -> dict[str, int]:
        wanted = set(only)
        thru = clock.now()
        listed = (
            ref
            for ref in self.ctx.source.list_postable_invoices(thru=thru)
            if not wanted or ref.psa_id in wanted
        )
        expected = len(wanted) if wanted else self._count_postable(thru)
        self._progress(done=0, total=expected or 0, counting=expected is None)
        self._lock_dates = self.ctx.ledger.lock_dates()
        done = 0
        batches = itertools.batched(listed, max(1, self.ctx.ledger.batch_size))
        batch = next(batches, ())
        while batch:
            self._check_cancelled()
            self._run_batch(self._works_for(batch))
            done += len(batch)
            # Read one batch ahead, so a list the PSA cannot count grows in sight as it comes.
            batch = next(batches, ())
            if batch:
                seen = done + len(batch)
                self._progress(done=done, total=max(expected or 0, seen), counting=expected is None)
        self._progress(done=done, total=done)
        return self.ctx.counts

    def _count_postable(self, thru: datetime) -> int | None:
        """How many invoices the PSA will list, if it can say at once; None: count as they come."""
        source = self.ctx.source
        if not isinstance(source, CountsPostableInvoices):
            return None
        try:
            return source.count_postable_invoices(thru=thru)
        except ConnectorError as error:
            self._stop_if_connection(error, source.label)
            logger.info("%s could not count the invoices to post: %s", source.label, error)
            return None

    def _works_for(self, refs: Sequence[InvoiceRef]) -> list[_Work]:
        """The batch's records, read in one query; those seen for the first time made together.

        An invoice listed twice in one batch is taken once.
        """
        unique = list({ref.psa_id: ref for ref in refs}.values())
        records = {
            record.psa_id: record
            for record in SyncRecord.objects.filter(
                company_id=self.ctx.company_id,
                record_type=RecordType.INVOICE,
                psa_id__in=[ref.psa_id for ref in unique],
            )
        }
        new = [ref for ref in unique if ref.psa_id not in records]
        if new:
            records.update(self._create_records(new))
        works = []
        for ref in unique:
            record = records[ref.psa_id]
            self._stored[record.pk] = _stored_values(record)
            record.last_run = self.ctx.run
            record.source_ids = dict(ref.source_ids)
            works.append(_Work(record, ref))
        return works

    def _create_records(self, refs: Sequence[InvoiceRef]) -> dict[str, SyncRecord]:
        def new_record(ref: InvoiceRef) -> SyncRecord:
            return SyncRecord(
                company_id=self.ctx.company_id,
                record_type=RecordType.INVOICE,
                psa_id=ref.psa_id,
                number=ref.number,
                kind=ref.kind.value,
                last_run=self.ctx.run,
                source_ids=dict(ref.source_ids),
            )

        records = [new_record(ref) for ref in refs]
        try:
            with transaction.atomic():
                SyncRecord.objects.bulk_create(records)
            return {record.psa_id: record for record in records}
        except IntegrityError:
            pass
        # Another run made some of them meanwhile (it outlived its lease): theirs stand.
        found = {}
        for ref in refs:
            record, _ = SyncRecord.objects.get_or_create(
                company_id=self.ctx.company_id,
                record_type=RecordType.INVOICE,
                psa_id=ref.psa_id,
                defaults={"number": ref.number, "kind": ref.kind.value},
            )
            found[ref.psa_id] = record
        return found

    def _run_batch(self, batch: list[_Work]) -> None:
        try:
            self._run_works(batch)
        finally:
            # Whatever the batch learned is kept, however it ended (a stopped run included).
            self._flush()
            self._stored.clear()

    def _run_works(self, batch: list[_Work]) -> None:
        to_post: list[_Work] = []
        to_update: list[_Work] = []
        to_acknowledge: list[_Work] = []
        for work in batch:
            record = work.record
            if record.state == State.EXCLUDED:
                self.ctx.count("excluded")
                continue
            if record.state in (State.POSTED, State.ACKNOWLEDGED, State.CHANGED):
                # In the ledger already, and the PSA lists it again: its mark was removed (a
                # ConnectWise batch deleted), perhaps to correct the invoice.
                if self._unchanged_since_posted(work):
                    to_acknowledge.append(work)
                continue
            if _is_update(record):
                if self._prepare(work):
                    to_update.append(work)
                continue
            if self._excluded_by_rule(work) or self._before_onboarding(work):
                continue
            if self._prepare(work):
                to_post.append(work)
        self._post(to_post)
        self._update(to_update)
        to_acknowledge += [w for w in to_post + to_update if w.record.state == State.POSTED]
        self._acknowledge(to_acknowledge)

    # -- changed after posting ---------------------------------------------------------------

    def _unchanged_since_posted(self, work: _Work) -> bool:
        """True when the PSA invoice is what the ledger holds, so it may be marked again.

        A changed one becomes `changed`, with what to do, and is not marked: the PSA keeps
        listing it until the ledger's document is updated. A record without a fingerprint
        (marked as posted by hand) takes the PSA's invoice as it is now as the ledger's.
        """
        record = work.record
        try:
            invoice = self.ctx.source.get_invoice(work.ref)
        except ConnectorError as error:
            self._stop_if_connection(error, self.ctx.source.label)
            # Still in the ledger as it was; only the check failed. Marking waits for it.
            record.error_class = error_class_for(error)
            record.error_message = (
                f"Could not check whether it changed in {self.ctx.source.label}: {error.message}"
            )
            record.error_hint = error.hint or "The next run checks again."
            self._save(record)
            self.ctx.count("check_failed")
            return False
        work.invoice = invoice
        fingerprint = writelog.digest_of(_fingerprint_content(invoice))
        if not record.fingerprint:
            record.fingerprint = fingerprint
        if fingerprint == record.fingerprint:
            if record.state == State.CHANGED:
                # Changed back in the PSA: the ledger holds it as it is again.
                record.state = State.POSTED
                record.error_class = record.error_message = record.error_hint = ""
                self._save(record)
            return True
        # The record keeps the figures the ledger holds until the update lands; the message
        # gives the PSA's new ones.
        record.state = State.CHANGED
        record.error_class = ""
        record.error_message, record.error_hint = _changed_after_posting(self.ctx, record, invoice)
        self._save(record)
        self.ctx.count("changed")
        return False

    # -- rules before posting ----------------------------------------------------------------

    def _excluded_by_rule(self, work: _Work) -> bool:
        number = work.ref.number or work.record.number
        rule = next((r for r in self.ctx.policy.exclusions if r.matches(number)), None)
        if rule is None:
            return False
        record = work.record
        record.state = State.EXCLUDED
        record.manual_note = f"Excluded by the rule for numbers starting {rule.prefix!r}."
        self._save(record)
        self._acknowledge([work], final_state=State.EXCLUDED)
        self.ctx.count("excluded")
        return True

    def _before_onboarding(self, work: _Work) -> bool:
        onboarding = self.ctx.policy.onboarding_date
        if onboarding is None:
            return False
        invoice = self._fetch(work)
        if invoice is None or invoice.issued_on >= onboarding:
            return False
        record = work.record
        record.state = State.SKIPPED_ONBOARDING
        record.manual_note = (
            f"Dated {invoice.issued_on:%d %b %Y}, before the onboarding date "
            f"{onboarding:%d %b %Y}: marked as synced in the PSA, not posted."
        )
        self._save(record)
        self._acknowledge([work], final_state=State.SKIPPED_ONBOARDING)
        self.ctx.count("skipped_onboarding")
        return True

    # -- extract, map, validate --------------------------------------------------------------

    def _fetch(self, work: _Work) -> Invoice | None:
        if work.invoice is not None:
            return work.invoice
        try:
            work.invoice = self.ctx.source.get_invoice(work.ref)
        except ConnectorError as error:
            self._stop_if_connection(error, "the PSA")
            self._fail(work.record, error_class_for(error), error.message, error.hint)
            return None
        _fill_from_invoice(work.record, work.invoice)
        return work.invoice

    def _prepare(self, work: _Work) -> bool:
        invoice = self._fetch(work)
        if invoice is None:
            return False
        record = work.record
        work.fingerprint = writelog.digest_of(_fingerprint_content(invoice))
        try:
            work.prepared = prepare_invoice(
                invoice,
                key=write_key(self.ctx.company_id, record.psa_id, record.version),
                policy=self.ctx.policy,
                mappings=self.ctx.mappings,
                lock_dates=self._lock_dates,
                applies_to_ledger_id=self._original_invoice(invoice),
            )
            customer_id = self._customer(invoice)
            try:
                items = self._ensure_items(invoice, work.prepared)
            except ConnectorError as error:
                if error.kind != ErrorKind.VALIDATION:
                    raise
                # A product the ledger cannot take as it is (an id too long for its item
                # codes): fixed by a mapping or the product id policy, so filed as one.
                raise RecordError(ErrorClass.MAPPING, error.message, error.hint) from error
        except RecordError as problem:
            self._fail(record, problem.error_class, problem.message, problem.hint)
            return False
        except ConnectorError as error:
            self._stop_if_connection(error, self.ctx.ledger.label)
            self._fail(record, error_class_for(error), error.message, error.hint)
            return False
        work.document = with_ledger_codes(work.prepared, customer_id, items)
        record.warnings = list(work.prepared.warnings)
        return True

    def _original_invoice(self, invoice: Invoice) -> str:
        if invoice.kind != InvoiceKind.CREDIT_NOTE or not invoice.applies_to_psa_id:
            return ""
        original = SyncRecord.objects.filter(
            company_id=self.ctx.company_id,
            record_type=RecordType.INVOICE,
            psa_id=invoice.applies_to_psa_id,
        ).first()
        return original.ledger_id if original else ""

    def _customer(self, invoice: Invoice) -> str:
        psa_id = invoice.customer.psa_id
        if psa_id not in self._customers:
            found = self.ctx.ledger.ensure_customer(
                invoice.customer, on_name_clash=self.ctx.policy.name_clash
            )
            self._customers[psa_id] = found.ledger_id
        return self._customers[psa_id]

    def _ensure_items(self, invoice: Invoice, prepared: PreparedDocument) -> dict[str, str]:
        lines = {line.product_identifier: line for line in invoice.lines}
        codes: dict[str, str] = {}
        for identifier in prepared.products:
            if identifier not in self._items:
                line = lines.get(identifier)
                account = next(
                    (x.account_code for x in prepared.document.lines if x.item_code == identifier),
                    "",
                )
                item = self.ctx.ledger.ensure_item(
                    _product_of(identifier, line),
                    policy=self.ctx.policy.product_id_policy,
                    mapped_code=self.ctx.mappings.items.get(identifier, ""),
                    income_account_code=account,
                )
                self._items[identifier] = item.code
            codes[identifier] = self._items[identifier]
        return codes

    # -- post --------------------------------------------------------------------------------

    def _post(self, batch: list[_Work]) -> None:
        if not batch:
            return
        intents = [
            writelog.Intent(
                key=work.document.key,
                target=self.ctx.ledger_target,
                operation=f"create {work.document.kind.value.replace('_', ' ')}",
                digest=writelog.digest_of(_document_content(work.document)),
            )
            for work in batch
            if work.document is not None
        ]
        rows = {row.key: row for row in writelog.record(intents)}
        sendable: list[_Work] = []
        for work in batch:
            assert work.document is not None
            row = rows[work.document.key]
            if row.state == OutboundWrite.State.SUCCEEDED:
                self._posted(work, self._written(work, row), outcome="already_existed")
            elif row.state in writelog.NEEDS_LOOKUP:
                if not self._resolved_by_lookup(work, row):
                    sendable.append(work)
            elif row.state in writelog.SENDABLE:
                sendable.append(work)
        if not sendable:
            return
        sending_rows = [rows[w.document.key] for w in sendable if w.document is not None]
        for work in sendable:
            work.record.state = State.POSTING
            work.record.attempts += 1
            self._save(work.record)
        # The records' state and the rows' `sent`, committed together before the request leaves.
        with transaction.atomic():
            self._flush()
            writelog.sending(sending_rows)
        for work, row in zip(sendable, sending_rows, strict=True):
            assert work.document is not None
            work.document = replace(work.document, attempt=row.attempts)
        documents = [w.document for w in sendable if w.document is not None]
        try:
            results = self.ctx.ledger.post_documents(documents)
        except ConnectorError as error:
            results = [PostResult(key=d.key, error=error) for d in documents]
            if error.kind in RUN_STOPPING_KINDS:
                writelog.settle([(row, error) for row in sending_rows])
                for work in sendable:
                    self._fail(work.record, ErrorClass.LEDGER_REJECTED, error.message, error.hint)
                self._stop_if_connection(error, self.ctx.ledger.label)
        by_key = {result.key: result for result in results}
        outcomes: list[tuple[OutboundWrite, writelog.Written | ConnectorError]] = []
        for work, row in zip(sendable, sending_rows, strict=True):
            assert work.document is not None
            result = by_key.get(work.document.key)
            if result is None:
                result = PostResult(
                    key=work.document.key,
                    error=ConnectorError(
                        ErrorKind.UNCERTAIN, f"{self.ctx.ledger.label} gave no result for it."
                    ),
                )
            outcomes.append((row, self._record_result(work, result)))
        self._settle(outcomes)

    def _resolved_by_lookup(self, work: _Work, row: OutboundWrite) -> bool:
        """True when the earlier, uncertain write is found in the ledger (and recorded)."""
        assert work.document is not None
        try:
            found = self.ctx.ledger.find_document(work.document.kind, number=work.document.number)
        except ConnectorError as error:
            self._stop_if_connection(error, self.ctx.ledger.label)
            self._fail(work.record, ErrorClass.UNCERTAIN, error.message, error.hint)
            work.document = None
            return True  # not resolved, but it must not be sent blind either
        if found is None:
            writelog.not_found(row)
            row.state = OutboundWrite.State.PENDING
            return False
        writelog.found(row, writelog.Written(found.ledger_id, found.number))
        self._posted(work, found, outcome="already_existed")
        return True

    def _written(self, work: _Work, row: OutboundWrite) -> LedgerDocument:
        """The document an earlier, confirmed write made. A record that already names it was
        held back for a total that differed from the PSA's: read it again, as the admin may
        have corrected it in the ledger since."""
        assert work.document is not None
        if work.record.ledger_id:
            try:
                found = self.ctx.ledger.find_document(
                    work.document.kind, number=work.record.ledger_number or work.document.number
                )
            except ConnectorError as error:
                self._stop_if_connection(error, self.ctx.ledger.label)
                found = None
            if found is not None:
                return found
        return _stored(row, work.document)

    def _record_result(self, work: _Work, result: PostResult) -> writelog.Written | ConnectorError:
        """The ledger's answer, put on the record; what the write log keeps of it (`_settle`)."""
        if result.document is not None:
            self._posted(work, result.document, outcome=result.outcome or "created")
            return writelog.Written(
                result.document.ledger_id,
                result.document.number,
                found_by_lookup=result.outcome == "already_existed",
            )
        error = result.error or ConnectorError(ErrorKind.UNCERTAIN, "No result was given.")
        record = work.record
        if error.kind == ErrorKind.UNCERTAIN:
            record.state = State.POSTING
            record.error_class = ErrorClass.UNCERTAIN
            record.error_message = error.message
            record.error_hint = error.hint
            self._save(record)
            self.ctx.count("uncertain")
            return error
        self._fail(record, error_class_for(error), error.message, error.hint)
        return error

    def _settle(
        self, outcomes: Sequence[tuple[OutboundWrite, writelog.Written | ConnectorError]]
    ) -> None:
        """The write log's outcomes and the records they decide, committed together."""
        with transaction.atomic():
            writelog.settle(outcomes)
            self._flush()

    def _posted(self, work: _Work, document: LedgerDocument, *, outcome: str) -> None:
        record = work.record
        updating = _is_update(record)
        record.ledger_id, record.ledger_number = document.ledger_id, document.number
        record.ledger_url = document.url or record.ledger_url
        record.posted_at = record.posted_at or clock.now()
        # The ledger now holds this content, whatever the totals say below.
        record.fingerprint = work.fingerprint or record.fingerprint
        if updating:
            record.manual_note = (
                f"Updated in {self.ctx.ledger.label} on {_day(clock.now())} after it changed "
                f"in {self.ctx.source.label} (version {record.version})."
            )
        expected = work.document.total if work.document is not None else record.total
        if expected is not None and document.total != expected:
            # In the ledger (and never posted again), but the books disagree: the PSA is not
            # marked until the totals agree or the admin accepts the ledger's figure.
            self._fail(record, ErrorClass.VALIDATION, *_total_differs(self.ctx, document, expected))
            return
        record.state = State.POSTED
        record.error_class = record.error_message = record.error_hint = ""
        self._save(record)
        if updating:
            self.ctx.count("updated" if outcome == "created" else "found_updated")
        else:
            self.ctx.count("posted" if outcome == "created" else "found_posted")

    # -- update (a re-post of a changed record) ------------------------------------------------

    def _update(self, batch: list[_Work]) -> None:
        """Update each changed document in place, one call each, through the write log."""
        if not batch:
            return
        intents = [
            writelog.Intent(
                key=work.document.key,
                target=self.ctx.ledger_target,
                operation=f"update {work.document.kind.value.replace('_', ' ')}",
                digest=writelog.digest_of(
                    {"update_of": work.record.ledger_id, **_document_content(work.document)}
                ),
            )
            for work in batch
            if work.document is not None
        ]
        rows = {row.key: row for row in writelog.record(intents)}
        for work in batch:
            assert work.document is not None
            row = rows[work.document.key]
            if row.state == OutboundWrite.State.SUCCEEDED:
                self._posted(work, self._written(work, row), outcome="already_existed")
                continue
            record = work.record
            record.state = State.POSTING
            record.attempts += 1
            self._save(record)
            with transaction.atomic():
                self._flush()
                if row.state in writelog.SENDABLE:
                    writelog.sending([row])
            # A row left `sent` or `uncertain` stays so while the adapter reads the document and
            # compares: it writes only if the earlier update is not there.
            work.document = replace(work.document, attempt=max(row.attempts, 1))
            try:
                result = self.ctx.ledger.update_document(record.ledger_id, work.document)
            except ConnectorError as error:
                if error.kind in RUN_STOPPING_KINDS:
                    writelog.failed(row, error)
                    self._fail(record, ErrorClass.LEDGER_REJECTED, error.message, error.hint)
                    self._stop_if_connection(error, self.ctx.ledger.label)
                result = PostResult(key=work.document.key, error=error)
            self._settle([(row, self._record_result(work, result))])

    # -- acknowledge -------------------------------------------------------------------------

    def _acknowledge(
        self, works: Sequence[_Work], *, final_state: str = State.ACKNOWLEDGED
    ) -> None:
        # Each record's state is in the database before the PSA hears of it.
        self._flush()
        for work in works:
            record = work.record
            try:
                result = self.ctx.source.acknowledge([work.ref], batch_identifier(record))
            except ConnectorError as error:
                self._stop_if_connection(error, self.ctx.source.label)
                # Posted but not marked: the next run marks it (and never posts it again).
                record.error_class = error_class_for(error)
                record.error_message = f"Posted, but not yet marked as posted in the PSA: {error}"
                record.error_hint = error.hint
                self._save(record)
                self.ctx.count("acknowledge_failed")
                continue
            if final_state == State.ACKNOWLEDGED:
                record.state = State.ACKNOWLEDGED
                record.error_class = record.error_message = record.error_hint = ""
            record.acknowledged_at = clock.now()
            record.manual_note = record.manual_note or (
                f"PSA batch {result.batch_identifier}" if result.psa_batch_id else ""
            )
            # At once: marked in the PSA, it drops off the PSA's list; no later run would see it.
            self._save(record)
            self._flush()

    # -- helpers -----------------------------------------------------------------------------

    def _fail(self, record: SyncRecord, error_class: str, message: str, hint: str) -> None:
        record.fail(error_class, message, hint)
        self._save(record)
        self.ctx.count("failed")

    def _save(self, record: SyncRecord) -> None:
        """Note a record's new state; `_flush` writes it with the step that depends on it."""
        record.updated_at = clock.now()
        self._unsaved[record.pk] = record

    def _flush(self) -> None:
        """Write what changed on the records noted since the last flush, in one transaction:
        one statement for each set of changed fields (a batch's records mostly change alike)."""
        if not self._unsaved:
            return
        alike: dict[tuple[str, ...], list[SyncRecord]] = {}
        now_stored: list[tuple[SyncRecord, tuple[Any, ...]]] = []
        for record in self._unsaved.values():
            values = _stored_values(record)
            before = self._stored.get(record.pk)
            changed: tuple[str, ...]
            if before is None:
                changed = RECORD_FIELDS
            else:
                pairs = zip(RECORD_FIELDS, before, values, strict=True)
                changed = tuple(name for name, old, new in pairs if old != new)
            if changed:
                alike.setdefault(changed, []).append(record)
            now_stored.append((record, values))
        with transaction.atomic(savepoint=False):
            for fields, records in alike.items():
                writelog.update_rows(records, fields)
        for record, values in now_stored:
            self._stored[record.pk] = values
        self._unsaved.clear()

    def _stop_if_connection(self, error: ConnectorError, system: str) -> None:
        if error.kind in RUN_STOPPING_KINDS:
            raise RunStoppedError(f"{system}: {error.message} {error.hint}".strip()) from error

    def _check_cancelled(self) -> None:
        if SyncRun.objects.filter(pk=self.ctx.run.pk, cancel_requested=True).exists():
            raise RunCancelledError

    def _progress(self, *, done: int, total: int, counting: bool = False) -> None:
        """`counting`: the PSA could not say how many at once, so `total` grows as they come."""
        run = self.ctx.run
        figures: dict[str, int | bool] = {"done": done, "total": total}
        if counting:
            figures["counting"] = True
        run.progress = {**run.progress, RecordType.INVOICE.value: figures}
        run.counts = dict(self.ctx.counts)
        SyncRun.objects.filter(pk=run.pk).update(progress=run.progress, counts=run.counts)
        self.on_progress()


def _stored_values(record: SyncRecord) -> tuple[Any, ...]:
    """The record's `RECORD_FIELDS` values (copies of the JSON ones, which change in place)."""
    values = (getattr(record, attname) for attname in _record_attnames())
    return tuple(copy(value) if isinstance(value, dict | list) else value for value in values)


@cache
def _record_attnames() -> tuple[str, ...]:
    attnames = {field.name: field.attname for field in SyncRecord._meta.concrete_fields}
    return tuple(attnames[name] for name in RECORD_FIELDS)


def _is_update(record: SyncRecord) -> bool:
    """A record re-posted after a change: its document is in the ledger, to be updated.

    Only a re-post raises a version above 1, and only a record in the ledger can be re-posted.
    """
    return bool(record.ledger_id) and record.version > 1


def _fill_from_invoice(record: SyncRecord, invoice: Invoice) -> None:
    record.number, record.kind = invoice.number, invoice.kind.value
    record.customer_name, record.issued_on = invoice.customer.name, invoice.issued_on
    record.total, record.currency = invoice.total, invoice.currency


def _changed_after_posting(
    context: SyncContext, record: SyncRecord, invoice: Invoice
) -> tuple[str, str]:
    psa, ledger = context.source.label, context.ledger.label
    what = "credit note" if record.kind == InvoiceKind.CREDIT_NOTE.value else "invoice"
    number = record.number or invoice.number or record.psa_id
    when = f" on {_day(record.posted_at)}" if record.posted_at else ""
    message = (
        f"{number} changed in {psa} after it was posted to {ledger}{when}: re-post to update "
        f"the {ledger} {what}."
    )
    if record.total is not None and Decimal(record.total) != invoice.total:
        message += (
            f" Its total went from {_plain(Decimal(record.total))} to {_plain(invoice.total)}."
        )
    hint = (
        f"Re-post it to update {ledger} {what} {record.ledger_number or number} in place (the "
        f"same document, never a second one); {psa} is marked as posted once {ledger} holds "
        f"the change. If the {what} has payments in {ledger}, remove them there first and "
        "apply them again afterwards. If the change was a mistake, undo it in "
        f"{psa} and sync again."
    )
    return message, hint


def _day(moment: datetime) -> str:
    """A date as the admin reads it: "3 Mar 2026"."""
    return f"{moment.day} {moment:%b %Y}"


def _plain(amount: Decimal) -> str:
    """An amount as the admin reads it: cents, without the database's trailing places."""
    return str(amount.quantize(Decimal("0.01")))


def _product_of(identifier: str, line: InvoiceLine | None) -> Product:
    if line is None:
        return Product(psa_id=identifier, identifier=identifier)
    return Product(
        psa_id=line.product_psa_id or identifier,
        identifier=identifier,
        description=line.description,
        unit_price=line.unit_price,
        taxable=line.taxable,
    )


def _total_differs(
    context: SyncContext, document: LedgerDocument, expected: Decimal
) -> tuple[str, str]:
    label = context.ledger.label
    what = "credit note" if document.kind == InvoiceKind.CREDIT_NOTE else "invoice"
    message = (
        f"{label} holds {what} {document.number} with a total of {document.total}, but the "
        f"{context.source.label} total is {expected} (a difference of "
        f"{document.total - expected})."
    )
    hint = (
        f"It is in {label} once and will not be posted again. Correct it there (often the "
        f"tax: {label} worked out its own instead of the {context.source.label} tax) and "
        "retry, or accept the ledger's figure with 'Mark posted'."
    )
    return message, hint


def _stored(row: OutboundWrite, document: PostableDocument) -> LedgerDocument:
    return LedgerDocument(
        ledger_id=row.result_id,
        kind=document.kind,
        number=row.result_number or document.number,
        total=document.total,
    )


def _fingerprint_content(invoice: Invoice) -> dict[str, Any]:
    """What, if it changed in the PSA after posting, would make the ledger document wrong."""
    return {
        "number": invoice.number,
        "customer": invoice.customer.psa_id,
        "issued_on": invoice.issued_on,
        "total": invoice.total,
        "tax": invoice.tax_total,
        "lines": [
            [line.description, line.quantity, line.unit_price, line.line_amount, line.gl_account]
            for line in invoice.lines
        ],
    }


def _document_content(document: PostableDocument) -> dict[str, Any]:
    return {
        "kind": document.kind.value,
        "number": document.number,
        "customer": document.customer_ledger_id,
        "issued_on": document.issued_on,
        "due_on": document.due_on,
        "total": document.total,
        "reference": document.reference,
        "lines": [
            [
                line.description,
                line.quantity,
                line.unit_price,
                line.line_amount,
                line.account_code,
                line.tax_code,
                line.tax_amount,
                line.item_code,
                dict(line.tracking),
            ]
            for line in document.lines
        ],
    }
