"""Payments back: what the ledger received against posted invoices, recorded in the PSA once.

Reads ledger payments changed since the company's cursor and matches each to the `SyncRecord`
of its invoice by ledger id (the invoice number only as a fallback, for documents posted before
LedgerBridge knew their ids). Each payment is written to the PSA through the write log under
`<company>:payment:<ledger payment id>`, and remembered as a `SyncedPayment`, so a re-run, a
crash or a lost reply never pays an invoice twice. Payments on documents LedgerBridge did not
post are ignored, as are those dated before the company's payment cut-off.
"""

from ledgerbridge.connectors.base import (
    ConnectorError,
    ErrorKind,
    InvoiceKind,
    InvoiceRef,
    LedgerPayment,
    Payment,
    PaymentResult,
    SourceIds,
)
from ledgerbridge.core import clock, writelog
from ledgerbridge.sync.engine import RUN_STOPPING_KINDS, RunStoppedError, SyncContext
from ledgerbridge.sync.models import RecordType, SyncCursor, SyncedPayment, SyncRecord, SyncRun

CURSOR = "ledger_payments"
# Outcomes worth another try: the payment is read again until it lands or is refused.
RETRY_LATER_KINDS = frozenset({ErrorKind.UNCERTAIN, ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED})
# In the ledger: a record changed in the PSA since is still the ledger's invoice to pay.
POSTED_STATES = (
    SyncRecord.State.POSTED,
    SyncRecord.State.ACKNOWLEDGED,
    SyncRecord.State.CHANGED,
)


class PaymentSync:
    def __init__(self, context: SyncContext) -> None:
        self.ctx = context

    def run(self) -> dict[str, int]:
        cursor, _ = SyncCursor.objects.get_or_create(company_id=self.ctx.company_id, name=CURSOR)
        latest = cursor.value
        held = False  # once a payment is left in doubt, the cursor stays before it
        done = 0
        for payment in self.ctx.ledger.payments_since(cursor.value):
            settled = self._apply(payment)
            done += 1
            held = held or not settled
            moved = payment.updated_at is not None and (
                latest is None or payment.updated_at > latest
            )
            if not held and moved:
                latest = payment.updated_at
            if done % 50 == 0:
                self._progress(done)
        self._progress(done)
        # Only after every payment up to `latest` was handled: a crash re-reads them (harmlessly).
        SyncCursor.objects.filter(pk=cursor.pk).update(value=latest, updated_at=clock.now())
        return self.ctx.counts

    def _apply(self, payment: LedgerPayment) -> bool:
        """Handle one payment; False when it must be read again next time (left in doubt)."""
        record = self._record_for(payment)
        if record is None:
            self.ctx.count("payments_ignored")
            return True
        cutoff = self.ctx.policy.payment_cutoff
        if cutoff is not None and payment.paid_on < cutoff:
            self.ctx.count("payments_before_cutoff")
            return True
        if SyncedPayment.objects.filter(
            company_id=self.ctx.company_id, ledger_payment_id=payment.ledger_id
        ).exists():
            if payment.reversed:
                self._note(
                    record,
                    f"Payment {payment.ledger_id} was removed in the ledger; "
                    "remove it from the PSA invoice by hand.",
                )
                self.ctx.count("payments_reversed")
            else:
                self.ctx.count("payments_already_applied")
            return True
        if payment.reversed:
            self.ctx.count("payments_ignored")
            return True
        key = f"{self.ctx.company_id}:payment:{payment.ledger_id}"
        intent = writelog.Intent(
            key=key,
            target=self.ctx.psa_target,
            operation="record payment",
            digest=writelog.digest_of(
                {"invoice": record.psa_id, "amount": payment.amount, "on": payment.paid_on}
            ),
        )
        ref = InvoiceRef(
            psa_id=record.psa_id,
            number=record.number,
            kind=InvoiceKind(record.kind or InvoiceKind.INVOICE),
            source_ids=SourceIds(**record.source_ids),  # type: ignore[typeddict-item]
        )
        money = Payment(
            amount=payment.amount,
            paid_on=payment.paid_on,
            reference=payment.reference or payment.ledger_id,
            method=payment.method,
        )

        options = self._settling(record, payment)

        def send() -> writelog.Written:
            result = self._record_payment(ref, money, key, **options, record=record)
            return writelog.Written(result.psa_payment_id)

        try:
            # The PSA adapters find a payment they already made (same key, or same amount and
            # day on an invoice), so after an uncertain outcome sending again *is* the lookup.
            written = writelog.perform(intent, send=send, lookup=lambda: None)
        except ConnectorError as error:
            if error.kind in RUN_STOPPING_KINDS:
                raise RunStoppedError(f"{self.ctx.source.label}: {error.message}") from error
            if error.kind in RETRY_LATER_KINDS:
                self.ctx.count(f"payments_{error.kind.value}")
                return False
            # Refused for good (e.g. Autotask cannot record a partial payment): say so once.
            self._note(record, f"Payment of {payment.amount} on {payment.paid_on}: {error}")
            self.ctx.count("payments_failed")
            return True
        SyncedPayment.objects.create(
            company_id=self.ctx.company_id,
            record=record,
            ledger_payment_id=payment.ledger_id,
            amount=payment.amount,
            paid_on=payment.paid_on,
            psa_payment_id=written.result_id,
        )
        record.paid_amount += payment.amount
        record.updated_at = clock.now()
        record.save(update_fields=["paid_amount", "updated_at"])
        self.ctx.count("payments_applied")
        return True

    def _settling(self, record: SyncRecord, payment: LedgerPayment) -> dict[str, bool]:
        """For a PSA that records only "paid in full" (Autotask's paid date): whether the
        ledger now holds the invoice settled, so the last of several instalments marks it."""
        if self.ctx.source.tracks_payment_amounts or payment.amount >= (record.total or 0):
            return {}
        try:
            document = self.ctx.ledger.find_document(
                InvoiceKind(record.kind or InvoiceKind.INVOICE),
                number=record.ledger_number or record.number,
            )
        except ConnectorError as error:
            if error.kind in RUN_STOPPING_KINDS:
                raise RunStoppedError(f"{self.ctx.ledger.label}: {error.message}") from error
            return {}
        if document is None or document.balance is None:
            return {}
        return {"paid_in_full": document.balance == 0}

    def _record_payment(
        self,
        ref: InvoiceRef,
        money: Payment,
        key: str,
        paid_in_full: bool | None = None,
        *,
        record: SyncRecord,
    ) -> PaymentResult:
        ours = SyncedPayment.objects.filter(record=record).exclude(psa_payment_id="")
        return self.ctx.source.record_payment(
            ref,
            money,
            key,
            paid_in_full=paid_in_full,
            recorded_ids=list(ours.values_list("psa_payment_id", flat=True)),
        )

    def _record_for(self, payment: LedgerPayment) -> SyncRecord | None:
        records = SyncRecord.objects.filter(
            company_id=self.ctx.company_id, record_type=RecordType.INVOICE, state__in=POSTED_STATES
        )
        # Payments settle invoices; QuickBooks numbers invoices and credit memos apart, so a
        # credit note may share the invoice's ledger id.
        same_id = records.filter(ledger_id=payment.document_ledger_id)
        found = same_id.filter(kind=InvoiceKind.INVOICE.value).first() or same_id.first()
        if found is None and payment.document_number:
            found = records.filter(number=payment.document_number, ledger_id="").first()
        return found

    def _note(self, record: SyncRecord, text: str) -> None:
        record.warnings = [*record.warnings, text][-20:]
        record.updated_at = clock.now()
        record.save(update_fields=["warnings", "updated_at"])

    def _progress(self, done: int) -> None:
        run = self.ctx.run
        run.progress = {**run.progress, RecordType.PAYMENT.value: {"done": done, "total": done}}
        run.counts = dict(self.ctx.counts)
        SyncRun.objects.filter(pk=run.pk).update(progress=run.progress, counts=run.counts)
