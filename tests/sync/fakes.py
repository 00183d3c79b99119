"""In-memory PSA and ledger that keep the protocols' promises, with levers to misbehave."""

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from ledgerbridge.connectors.base import (
    AckResult,
    ConnectivityReport,
    ConnectorError,
    Contact,
    Customer,
    ErrorKind,
    GLAccount,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceRef,
    LedgerAccount,
    LedgerCustomer,
    LedgerDocument,
    LedgerItem,
    LedgerPayment,
    LedgerTaxRate,
    LedgerTerm,
    LockDates,
    NameClashRule,
    Payment,
    PaymentResult,
    PaymentTerm,
    PostableDocument,
    PostResult,
    Product,
    ProductIdPolicy,
    TaxCode,
    TrackingCategory,
)

D = Decimal


def make_invoice(
    number: int,
    *,
    amount: str = "100.00",
    tax: str = "10.00",
    customer: str = "1",
    kind: InvoiceKind = InvoiceKind.INVOICE,
    issued_on: date = date(2026, 3, 2),
    gl_account: str = "4000",
) -> Invoice:
    line = InvoiceLine(
        psa_line_id=f"{number}-1",
        description="Managed services",
        quantity=D(1),
        unit_price=D(amount),
        line_amount=D(amount),
        product_identifier="MS",
        tax_code_psa_id="GST",
        gl_account=gl_account,
    )
    return Invoice(
        psa_id=str(number),
        number=f"INV-{number}",
        kind=kind,
        customer=Customer(psa_id=customer, name=f"Customer {customer}"),
        issued_on=issued_on,
        due_on=None,
        currency="AUD",
        lines=(line,),
        subtotal=D(amount),
        tax_total=D(tax),
        total=D(amount) + D(tax),
    )


class FakePsa:
    label = "FakePSA"
    tracks_payment_amounts = True

    def __init__(self, invoices: Sequence[Invoice] = ()) -> None:
        self.invoices = {inv.psa_id: inv for inv in invoices}
        self.acknowledged: dict[str, str] = {}  # psa id → batch identifier
        self.ack_calls = 0
        self.fail_ack_for: set[str] = set()
        self.payments: dict[str, tuple[str, Payment]] = {}  # key → (psa invoice id, payment)
        self.payment_calls = 0
        self.drop_payment_reply = False

    def list_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> Iterator[InvoiceRef]:
        for invoice in list(self.invoices.values()):
            if invoice.psa_id not in self.acknowledged:
                yield invoice.ref()

    def get_invoice(self, ref: InvoiceRef) -> Invoice:
        return self.invoices[ref.psa_id]

    def acknowledge(self, refs: Sequence[InvoiceRef], batch_identifier: str) -> AckResult:
        self.ack_calls += 1
        for ref in refs:
            if ref.psa_id in self.fail_ack_for:
                raise ConnectorError(ErrorKind.TRANSIENT, "PSA is down", hint="Try later.")
        done = tuple(r.psa_id for r in refs if r.psa_id not in self.acknowledged)
        for psa_id in done:
            self.acknowledged[psa_id] = batch_identifier
        return AckResult(
            batch_identifier=batch_identifier,
            outcome="created" if done else "nothing_to_do",
            psa_batch_id=batch_identifier,
            acknowledged=done,
        )

    def record_payment(
        self,
        invoice: InvoiceRef,
        payment: Payment,
        key: str,
        *,
        paid_in_full: bool | None = None,
        recorded_ids: Sequence[str] = (),
    ) -> PaymentResult:
        self.payment_calls += 1
        if key in self.payments:
            return PaymentResult(outcome="already_existed", psa_payment_id=key)
        self.payments[key] = (invoice.psa_id, payment)
        if self.drop_payment_reply:
            self.drop_payment_reply = False
            raise ConnectorError(ErrorKind.UNCERTAIN, "connection dropped after sending")
        return PaymentResult(outcome="created", psa_payment_id=key)

    def paid(self, psa_id: str) -> Decimal:
        return sum((p.amount for i, p in self.payments.values() if i == psa_id), Decimal(0))

    def list_customers(self) -> Iterator[Customer]:
        return iter(())

    def list_contacts(self) -> Iterator[Contact]:
        return iter(())

    def list_products(self) -> Iterator[Product]:
        return iter(())

    def list_tax_codes(self) -> Iterator[TaxCode]:
        return iter(())

    def list_payment_terms(self) -> Iterator[PaymentTerm]:
        return iter(())

    def list_gl_accounts(self) -> Iterator[GLAccount]:
        return iter(())

    def test_connectivity(self) -> ConnectivityReport:
        return ConnectivityReport(ok=True)


class FakeLedger:
    label = "FakeLedger"
    batch_size = 3

    def __init__(self) -> None:
        self.documents: dict[str, PostableDocument] = {}  # number → document
        self.ids: dict[str, str] = {}
        self.contacts: dict[str, str] = {}  # PSA id → contact id
        self.items: set[str] = set()
        self._ids = itertools.count(1)
        self.post_calls = 0
        self.lookups = 0
        self.drop_reply = False  # commit the batch, then lose the answer
        self.refuse: dict[str, str] = {}  # number → validation message
        self.raise_on_post: ConnectorError | None = None
        self.lock = LockDates()
        self.payments: list[LedgerPayment] = []
        self.attempts_seen: list[tuple[str, int]] = []
        self.update_calls = 0
        self.updates_written = 0
        self.paid: dict[str, str] = {}  # number → the instruction a change of it is refused with
        self.drop_update_reply = False  # write the update, then lose the answer

    def post_documents(self, documents: Sequence[PostableDocument]) -> list[PostResult]:
        assert len(documents) <= self.batch_size
        self.post_calls += 1
        self.attempts_seen.extend((d.number, d.attempt) for d in documents)
        if self.raise_on_post is not None:
            raise self.raise_on_post
        results = []
        for document in documents:
            if document.number in self.refuse:
                error = ConnectorError(ErrorKind.VALIDATION, self.refuse[document.number])
                results.append(PostResult(key=document.key, error=error))
                continue
            assert document.number not in self.documents, f"duplicate {document.number}"
            self.documents[document.number] = document
            self.ids[document.number] = f"doc-{next(self._ids)}"
            results.append(PostResult(key=document.key, document=self._doc(document.number)))
        if self.drop_reply:
            self.drop_reply = False
            raise ConnectorError(ErrorKind.UNCERTAIN, "connection dropped after sending")
        return results

    def update_document(self, ledger_id: str, document: PostableDocument) -> PostResult:
        """As the protocol says: read first, refuse a paid one, write only what differs."""
        self.update_calls += 1
        number = next((n for n, i in self.ids.items() if i == ledger_id), None)
        if number is None:
            error = ConnectorError(ErrorKind.VALIDATION, f"No document {ledger_id} to update.")
            return PostResult(key=document.key, error=error)
        if number in self.paid:
            error = ConnectorError(
                ErrorKind.VALIDATION, f"{number} has a payment applied.", hint=self.paid[number]
            )
            return PostResult(key=document.key, error=error)
        if _content(self.documents[number]) == _content(document):
            return PostResult(
                key=document.key, document=self._doc(number), outcome="already_existed"
            )
        self.updates_written += 1
        del self.documents[number], self.ids[number]
        self.documents[document.number] = document
        self.ids[document.number] = ledger_id
        if self.drop_update_reply:
            self.drop_update_reply = False
            raise ConnectorError(ErrorKind.UNCERTAIN, "connection dropped after sending")
        return PostResult(key=document.key, document=self._doc(document.number), outcome="created")

    def _doc(self, number: str) -> LedgerDocument:
        document = self.documents[number]
        return LedgerDocument(
            ledger_id=self.ids[number], kind=document.kind, number=number, total=document.total
        )

    def find_document(
        self, kind: InvoiceKind, *, number: str = "", reference: str = ""
    ) -> LedgerDocument | None:
        self.lookups += 1
        return self._doc(number) if number in self.documents else None

    def ensure_customer(
        self, customer: Customer, *, on_name_clash: NameClashRule = NameClashRule.FAIL
    ) -> LedgerCustomer:
        outcome = "found" if customer.psa_id in self.contacts else "created"
        self.contacts.setdefault(customer.psa_id, f"contact-{customer.psa_id}")
        return LedgerCustomer(
            ledger_id=self.contacts[customer.psa_id], name=customer.name, outcome=outcome
        )

    def ensure_item(
        self,
        product: Product,
        *,
        policy: ProductIdPolicy = ProductIdPolicy.FAIL,
        mapped_code: str = "",
        income_account_code: str = "",
    ) -> LedgerItem:
        self.items.add(product.identifier)
        return LedgerItem(ledger_id=product.identifier, code=product.identifier)

    def list_accounts(self) -> Iterator[LedgerAccount]:
        return iter(())

    def list_tax_rates(self) -> Iterator[LedgerTaxRate]:
        return iter(())

    def list_tracking_categories(self) -> Iterator[TrackingCategory]:
        return iter(())

    def list_terms(self) -> Iterator[LedgerTerm]:
        return iter(())

    def list_items(self) -> Iterator[LedgerItem]:
        return iter(())

    def payments_since(self, cursor: datetime | None) -> Iterator[LedgerPayment]:
        changed = [p for p in self.payments if cursor is None or (p.updated_at or cursor) > cursor]
        return iter(sorted(changed, key=lambda p: p.updated_at or datetime.min))

    def lock_dates(self) -> LockDates:
        return self.lock

    def test_connectivity(self) -> ConnectivityReport:
        return ConnectivityReport(ok=True)


def _content(document: PostableDocument) -> PostableDocument:
    """What a ledger holds of a document: everything but the write's key and attempt."""
    return replace(document, key="", attempt=1)


__all__ = ["FakeLedger", "FakePsa", "make_invoice", "replace"]
