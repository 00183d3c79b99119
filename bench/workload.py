"""What the sync benchmarks post: a generated PSA, the company it belongs to, and its run.

`GeneratedPsa` speaks the `PsaSource` protocol and makes every invoice from its index when the
engine asks for it, so the source holds no memory however many invoices it lists: whatever a
benchmark's memory grows by is the engine's (and the ledger's) own.

Each invoice looks like a month of a managed-services agreement: seats at 55.00 and backup
storage, GL account 4000, the PSA tax code GST (10 %) on the invoice as a whole (as ConnectWise
gives it), spread over the lines by the engine. Customers repeat every `customers` invoices.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ledgerbridge.connectors.base import (
    AckResult,
    ConnectivityReport,
    Contact,
    Customer,
    GLAccount,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceRef,
    Ledger,
    Payment,
    PaymentResult,
    PaymentTerm,
    Product,
    TaxCode,
)
from ledgerbridge.sync.policy import Mappings, SyncPolicy

if TYPE_CHECKING:
    from ledgerbridge.sync.engine import SyncContext

SEAT_PRICE = Decimal("55.00")
BACKUP_TB = Decimal("1.5")
BACKUP_PRICE = Decimal("120.00")
TAX_RATE = Decimal("0.10")
PSA_GL_ACCOUNT = "4000"
PSA_TAX_CODE = "GST"
PRODUCTS = ("MS-SEAT", "BACKUP-TB")
FIRST_ISSUE_DATE = date(2026, 10, 1)
_PSA_ID = re.compile(r"^(?P<series>[A-Z]+)-(?P<index>\d+)$")


def invoice_at(series: str, index: int, customers: int) -> Invoice:
    """Invoice number `index` (from 0) of a series ("INV", "WARM"), the same every time."""
    customer_number = index % customers
    seats = Decimal(5 + index % 20)
    seat_amount = seats * SEAT_PRICE
    backup_amount = BACKUP_TB * BACKUP_PRICE
    subtotal = seat_amount + backup_amount
    tax = (subtotal * TAX_RATE).quantize(Decimal("0.01"))
    issued_on = FIRST_ISSUE_DATE + timedelta(days=index % 28)
    psa_id = f"{series}-{index}"

    def line(number: int, description: str, quantity: Decimal, price: Decimal) -> InvoiceLine:
        return InvoiceLine(
            psa_line_id=f"{psa_id}-{number}",
            description=description,
            quantity=quantity,
            unit_price=price,
            line_amount=quantity * price,
            product_psa_id=PRODUCTS[number - 1],
            product_identifier=PRODUCTS[number - 1],
            tax_code_psa_id=PSA_TAX_CODE,
            gl_account=PSA_GL_ACCOUNT,
        )

    return Invoice(
        psa_id=psa_id,
        number=f"{series}-{index + 1:06d}",
        kind=InvoiceKind.INVOICE,
        customer=Customer(
            psa_id=f"C{customer_number:05d}", name=f"Client {customer_number:05d} Pty Ltd"
        ),
        issued_on=issued_on,
        due_on=issued_on + timedelta(days=30),
        currency="AUD",
        lines=(
            line(1, "Managed services, per seat", seats, SEAT_PRICE),
            line(2, "Cloud backup storage (TB)", BACKUP_TB, BACKUP_PRICE),
        ),
        subtotal=subtotal,
        tax_total=tax,
        total=subtotal + tax,
        po_number=f"PO-{customer_number}",
    )


class GeneratedPsa:
    """A PSA with `count` closed invoices of `series`, made on demand and never stored."""

    label = "Generated PSA"
    tracks_payment_amounts = True

    def __init__(self, count: int, *, customers: int, series: str = "INV") -> None:
        if customers < 1:
            raise ValueError("the workload needs at least one customer")
        self.count = count
        self.customers = customers
        self.series = series
        self.acknowledge_calls = 0

    def list_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> Iterator[InvoiceRef]:
        for index in range(self.count):
            yield InvoiceRef(
                psa_id=f"{self.series}-{index}", number=f"{self.series}-{index + 1:06d}"
            )

    def get_invoice(self, ref: InvoiceRef) -> Invoice:
        match = _PSA_ID.match(ref.psa_id)
        if match is None or match["series"] != self.series:
            raise KeyError(ref.psa_id)
        return invoice_at(self.series, int(match["index"]), self.customers)

    def acknowledge(self, refs: Sequence[InvoiceRef], batch_identifier: str) -> AckResult:
        self.acknowledge_calls += 1
        return AckResult(
            batch_identifier=batch_identifier,
            outcome="created",
            acknowledged=tuple(ref.psa_id for ref in refs),
        )

    def record_payment(
        self,
        invoice: InvoiceRef,
        payment: Payment,
        idempotency_key: str,
        *,
        paid_in_full: bool | None = None,
        recorded_ids: Sequence[str] = (),
    ) -> PaymentResult:
        return PaymentResult(outcome="created", psa_payment_id=idempotency_key)

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


@dataclass(frozen=True)
class LedgerCodes:
    """The ledger's own codes the workload's PSA values map to (one organisation's chart)."""

    revenue_account: str
    tax_code: str
    exempt_tax_code: str
    adjustment_account: str

    def policy(self) -> SyncPolicy:
        return SyncPolicy(
            locale="AU",
            exempt_tax_code=self.exempt_tax_code,
            adjustment_account_code=self.adjustment_account,
            adjustment_tax_code=self.exempt_tax_code,
        )

    def mappings(self) -> Mappings:
        return Mappings(
            accounts={PSA_GL_ACCOUNT: self.revenue_account},
            tax_codes={PSA_TAX_CODE: self.tax_code},
            default_account=self.revenue_account,
        )


def new_sync_context(
    *,
    name: str,
    source: GeneratedPsa,
    ledger: Ledger,
    codes: LedgerCodes,
    ledger_target: str,
) -> "SyncContext":
    """A company of its own (so write-log keys never collide across runs) and a manual run."""
    from ledgerbridge.accounts.models import Account
    from ledgerbridge.companies.models import Company
    from ledgerbridge.sync.engine import SyncContext
    from ledgerbridge.sync.models import RecordType, SyncRun

    account = Account.objects.create(name=f"Bench MSP ({name})", two_factor_policy="optional")
    company = Company.objects.create(account=account, name=name)
    run = SyncRun.objects.create(
        company=company, trigger=SyncRun.Trigger.MANUAL, record_types=[RecordType.INVOICE]
    )
    return SyncContext(
        company_id=company.pk,
        run=run,
        source=source,
        ledger=ledger,
        policy=codes.policy(),
        mappings=codes.mappings(),
        ledger_target=ledger_target,
        psa_target="bench-psa",
    )


def record_states(company_id: int) -> Mapping[str, int]:
    """How many of the company's records ended in each state."""
    from django.db.models import Count

    from ledgerbridge.sync.models import SyncRecord

    rows = (
        SyncRecord.objects.filter(company_id=company_id)
        .values_list("state")
        .annotate(n=Count("id"))
    )
    return dict(rows)
