"""What every PSA source speaks: canonical documents, the `PsaSource` protocol, connector errors.

A PSA adapter (`connectors/<vendor>/adapter.py`) reads vendor JSON and hands the engine these
documents; vendor JSON never travels past its adapter. Money and quantities are `Decimal`
(quantities keep up to 7 decimal places, as ConnectWise and Autotask store them); ids are the
PSA's own, as strings, so one engine handles integer and text ids alike. A credit note carries
positive amounts, as ledgers record credit notes, whatever sign the PSA gives them.

Errors are values with a kind and a hint written for the finance admin. A connector raises
`ConnectorError` at the boundary where it knows what went wrong; the engine decides from
`kind` whether to retry (`rate_limited`, `transient`), resolve by lookup (`uncertain`) or show
the message and move on to the next record.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable


class ErrorKind(StrEnum):
    AUTH = "auth"  # the credentials were refused
    PERMISSION = "permission"  # the credentials are fine but lack a right
    NOT_FOUND = "not_found"  # no such record (or endpoint)
    VALIDATION = "validation"  # the vendor refused what we sent; sending it again will not help
    RATE_LIMITED = "rate_limited"  # over the vendor's limit; try again later
    TRANSIENT = "transient"  # the vendor or the network failed; nothing was changed
    UNCERTAIN = "uncertain"  # a write may or may not have happened; look it up before retrying


# Kinds worth trying again later without changing anything.
RETRYABLE_KINDS = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT})


class ConnectorError(Exception):
    """A failed call to an outside system, classified, with a message and hint for the admin.

    `vendor_detail` is the vendor's own words (its error body, redacted), for support staff.
    `retry_at` is set when the vendor said when to come back (a 429's `Retry-After`).
    """

    def __init__(
        self,
        kind: ErrorKind | str,
        message: str,
        *,
        hint: str = "",
        status: int | None = None,
        vendor_detail: str = "",
        retry_at: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.hint = hint
        self.status = status
        self.vendor_detail = vendor_detail
        self.retry_at = retry_at

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def __repr__(self) -> str:
        return f"ConnectorError({self.kind.value!r}, {self.message!r}, status={self.status!r})"


# --- Canonical documents -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""  # state, county or province
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True, kw_only=True)
class Customer:
    psa_id: str
    name: str
    identifier: str = ""  # the PSA's short code ("AcmeCo")
    account_number: str = ""
    address: Address = field(default_factory=Address)
    tax_id: str = ""
    email: str = ""  # where invoices go
    phone: str = ""
    currency: str = ""  # ISO 4217; empty when the PSA does not say
    payment_term_psa_id: str = ""
    tax_code_psa_id: str = ""
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class Contact:
    psa_id: str
    customer_psa_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    is_billing_contact: bool = False
    active: bool = True

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, kw_only=True)
class Product:
    psa_id: str
    identifier: str  # the PSA's item id / SKU; may be long
    description: str = ""
    unit_price: Decimal | None = None
    unit_cost: Decimal | None = None
    taxable: bool = True
    kind: str = ""  # the PSA's product class ("Service", "Inventory", …)
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class TaxCode:
    psa_id: str
    identifier: str
    description: str = ""
    rate: Decimal | None = None  # total percentage over all levels, when the PSA gives one
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class PaymentTerm:
    psa_id: str
    name: str
    due_days: int | None = None
    xref: str = ""  # the accounting-side key the MSP set in the PSA, if any
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class GLAccount:
    psa_id: str
    account_number: str
    name: str = ""
    gl_type: str = ""  # the PSA's GL type code ("AR", "IT", …)
    active: bool = True


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True, kw_only=True)
class InvoiceLine:
    psa_line_id: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    line_amount: Decimal  # before tax, as the PSA computed it
    product_psa_id: str = ""
    product_identifier: str = ""
    tax_code_psa_id: str = ""
    tax_amount: Decimal | None = None  # None when the PSA taxes the invoice, not the line
    taxable: bool = True
    gl_account: str = ""  # the revenue account number the PSA assigned
    location: str = ""
    department: str = ""
    tracking: Mapping[str, str] = field(default_factory=dict)  # other categories, name → value


class SourceIds(TypedDict, total=False):
    """The PSA's own bookkeeping ids an adapter needs again later (to acknowledge, to look up)."""

    unposted_id: str  # ConnectWise: the unposted invoice row
    billing_log_id: str  # ConnectWise: the billing log behind the invoice
    gl_entry_ids: tuple[str, ...]  # ConnectWise: the GL entries a batch marks as posted
    invoice_batch_id: str  # Autotask: the invoice processing batch
    location_id: str
    department_id: str


@dataclass(frozen=True, kw_only=True)
class InvoiceRef:
    """An invoice ready to post, as a list of postable invoices names it: enough to fetch it."""

    psa_id: str
    number: str = ""
    kind: InvoiceKind = InvoiceKind.INVOICE
    updated_at: datetime | None = None
    source_ids: SourceIds = field(default_factory=lambda: SourceIds())


@dataclass(frozen=True, kw_only=True)
class Invoice:
    psa_id: str
    number: str
    kind: InvoiceKind
    customer: Customer
    issued_on: date
    due_on: date | None
    currency: str
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    balance: Decimal | None = None
    reference: str = ""
    po_number: str = ""
    description: str = ""
    payment_term_psa_id: str = ""
    tax_code_psa_id: str = ""
    location: str = ""
    department: str = ""
    applies_to_psa_id: str = ""  # a credit note's original invoice, when the PSA links them
    updated_at: datetime | None = None
    source_ids: SourceIds = field(default_factory=lambda: SourceIds())

    def ref(self) -> InvoiceRef:
        return InvoiceRef(
            psa_id=self.psa_id,
            number=self.number,
            kind=self.kind,
            updated_at=self.updated_at,
            source_ids=self.source_ids,
        )


@dataclass(frozen=True, kw_only=True)
class Payment:
    """Money received against one invoice, as the ledger recorded it."""

    amount: Decimal
    paid_on: date
    reference: str = ""  # the ledger's payment id or the bank reference
    method: str = ""  # "Card", "Bank transfer", …


# --- Results -------------------------------------------------------------------------------

type WriteOutcome = Literal["created", "already_existed"]


@dataclass(frozen=True, kw_only=True)
class AckResult:
    """What `acknowledge` did: a PSA batch made now, found from an earlier attempt, or nothing
    because every invoice was already marked (`nothing_to_do`)."""

    batch_identifier: str
    outcome: WriteOutcome | Literal["nothing_to_do"]
    psa_batch_id: str = ""
    acknowledged: tuple[str, ...] = ()  # invoice psa_ids now marked as posted
    skipped: tuple[str, ...] = ()  # already posted elsewhere, or nothing to mark


@dataclass(frozen=True, kw_only=True)
class PaymentResult:
    outcome: WriteOutcome
    psa_payment_id: str = ""
    balance: Decimal | None = None  # the invoice's balance afterwards, if known


@dataclass(frozen=True, kw_only=True)
class ConnectivityFinding:
    """One thing a connection test found wrong (or noteworthy), said for the finance admin."""

    kind: ErrorKind | Literal["ok", "warning"]
    message: str
    hint: str = ""


@dataclass(frozen=True, kw_only=True)
class ConnectivityReport:
    ok: bool
    findings: tuple[ConnectivityFinding, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)  # version, site, member, …

    @property
    def problems(self) -> tuple[ConnectivityFinding, ...]:
        return tuple(f for f in self.findings if f.kind not in ("ok", "warning"))


# --- The protocol --------------------------------------------------------------------------


@runtime_checkable
class PsaSource(Protocol):
    """One PSA connection, read by the sync engine. Iterators stream: they never hold it all.

    Every method raises `ConnectorError` when the PSA cannot be asked or refuses.
    """

    label: str  # the vendor as the admin knows it: "ConnectWise", "Autotask"
    # False for a PSA that keeps only *that* an invoice was paid (Autotask's paid date), not
    # the amounts: the engine then tells it when the ledger holds the invoice settled.
    tracks_payment_amounts: bool

    def list_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> Iterator[InvoiceRef]:
        """Invoices the PSA has closed and not yet marked as posted, up to `thru`."""
        ...

    def get_invoice(self, ref: InvoiceRef) -> Invoice: ...

    def list_customers(self) -> Iterator[Customer]: ...

    def list_contacts(self) -> Iterator[Contact]: ...

    def list_products(self) -> Iterator[Product]: ...

    def list_tax_codes(self) -> Iterator[TaxCode]: ...

    def list_payment_terms(self) -> Iterator[PaymentTerm]: ...

    def list_gl_accounts(self) -> Iterator[GLAccount]: ...

    def acknowledge(self, refs: Sequence[InvoiceRef], batch_identifier: str) -> AckResult:
        """Mark invoices as posted in the PSA. Idempotent by `batch_identifier`."""
        ...

    def record_payment(
        self,
        invoice: InvoiceRef,
        payment: Payment,
        idempotency_key: str,
        *,
        paid_in_full: bool | None = None,
        recorded_ids: Sequence[str] = (),
    ) -> PaymentResult:
        """Record a payment on the invoice; a retry with the same key never pays twice.

        `paid_in_full` is the ledger's word that nothing is left to pay (None: not asked).
        `recorded_ids` are the PSA payment ids LedgerBridge already recorded on this invoice for
        *other* ledger payments: a lookup for this one must never mistake one of them for it
        (two equal instalments on one day are two payments)."""
        ...

    def test_connectivity(self) -> ConnectivityReport: ...


@runtime_checkable
class CountsPostableInvoices(Protocol):
    """A `PsaSource` that can say how many invoices `list_postable_invoices` will list, in one
    call (optional: the engine otherwise counts them as the list arrives)."""

    def count_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> int: ...


def as_str(value: Any) -> str:
    """A vendor id or code as text ("" for None), so ids compare alike whatever JSON type."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- The ledger side -----------------------------------------------------------------------
#
# A ledger adapter (`connectors/xero/`, `connectors/qbo/`) writes postable documents the engine
# has already mapped: every code in them is the ledger's own (account code, tax type or tax code
# id, item code, tracking option). Ledger ids are strings (Xero GUIDs, QuickBooks numeric ids).


class AccessTokens(Protocol):
    """Hands a ledger client a live OAuth access token, refreshing (and saving) it when due.

    `refreshed(rejected)` is called after the ledger answered 401 to `rejected`; it returns a
    newer token (refreshing unless another worker already did) or raises
    `ConnectorError(kind="auth")` when the connection is dead and needs reconnecting.
    """

    def current(self) -> str: ...

    def refreshed(self, rejected: str) -> str: ...


@dataclass(frozen=True, kw_only=True)
class LedgerAccount:
    ledger_id: str
    code: str
    name: str
    account_type: str = ""  # the ledger's own type ("REVENUE", "Income", …)
    tax_code: str = ""  # the account's default tax type / code, if any
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class LedgerTaxRate:
    ledger_id: str  # Xero TaxType ("OUTPUT", "TAX001"); QuickBooks TaxCode id
    name: str
    rate: Decimal | None = None  # effective percentage, when the ledger gives one
    for_sales: bool = True
    for_purchases: bool = True
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class TrackingOption:
    ledger_id: str
    name: str
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class TrackingCategory:
    """A Xero tracking category, or a QuickBooks dimension ("Class", "Department")."""

    ledger_id: str
    name: str
    options: tuple[TrackingOption, ...] = ()
    active: bool = True


class TermKind(StrEnum):
    NET_DAYS = "net_days"  # due N days after the invoice date
    DAYS_AFTER_END_OF_MONTH = "days_after_end_of_month"
    DAY_OF_FOLLOWING_MONTH = "day_of_following_month"
    DAY_OF_CURRENT_MONTH = "day_of_current_month"


@dataclass(frozen=True, kw_only=True)
class LedgerTerm:
    ledger_id: str  # QuickBooks Term id; Xero has no term records, so a synthetic key
    name: str
    kind: TermKind = TermKind.NET_DAYS
    days: int = 0
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class LedgerItem:
    ledger_id: str
    code: str  # Xero item Code; QuickBooks Item Name (or Sku)
    name: str = ""
    description: str = ""
    unit_price: Decimal | None = None
    income_account_code: str = ""
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class LedgerCustomer:
    ledger_id: str
    name: str
    psa_id: str = (
        ""  # the PSA id recorded on the ledger contact, when LedgerBridge made or linked it
    )
    outcome: Literal["found", "linked", "created", "updated"] = "found"


class ProductIdPolicy(StrEnum):
    """What to do with a PSA product id longer than the ledger allows (Xero codes: 30)."""

    FAIL = "fail"  # refuse the document, with a hint to shorten the id or map it
    TRUNCATE_HASH = "truncate_hash"  # cut it and add a short hash of the whole id (stable)
    MAPPING = "mapping"  # look the id up in the company's product mapping table


class NameClashRule(StrEnum):
    """What to do when a ledger contact has the customer's name but is not linked to it."""

    FAIL = "fail"  # stop with an error naming both, so the admin decides
    LINK_EXISTING = "link_existing"  # adopt that contact and record the PSA id on it
    DISAMBIGUATE = "disambiguate"  # create a new contact named "Name (PSA identifier)"


class LineAmounts(StrEnum):
    EXCLUSIVE = "exclusive"  # unit prices before tax; the ledger adds tax
    INCLUSIVE = "inclusive"
    NO_TAX = "no_tax"


@dataclass(frozen=True, kw_only=True)
class PostableLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    line_amount: Decimal  # quantity x unit price as the engine rounded it (≤ 4 dp for Xero)
    account_code: str = ""
    tax_code: str = ""  # ledger tax type / tax code id
    tax_amount: Decimal | None = None  # the PSA's tax for this line, to keep the ledger's total
    item_code: str = ""
    tracking: Mapping[str, str] = field(default_factory=dict)  # category name → option name
    discount_rate: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class PostableDocument:
    """An invoice or credit note ready for the ledger, and the key that makes its write unique.

    `key` is deterministic (company, record type, PSA id, version): the write log records it
    before sending, the adapter sends it as the ledger's idempotency key where there is one
    (Xero `Idempotency-Key`, QuickBooks `requestid`), and `find_document` resolves an uncertain
    write by `number` (or `reference`) before anything is sent again.
    """

    key: str
    kind: InvoiceKind
    psa_id: str
    number: str
    customer_ledger_id: str
    issued_on: date
    due_on: date | None
    currency: str
    lines: tuple[PostableLine, ...]
    total: Decimal  # what the PSA says the document comes to; a mismatch is a validation error
    line_amounts: LineAmounts = LineAmounts.EXCLUSIVE
    reference: str = ""
    term_ledger_id: str = ""
    approve: bool = True  # Xero: AUTHORISED rather than DRAFT
    mark_sent: bool = False  # Xero: SentToContact
    memo: str = ""
    applies_to_ledger_id: str = ""  # a credit note's invoice, to allocate it where allowed
    # Which deliberate attempt this is (the write log counts them). Ledgers replay a repeated
    # idempotency key's first answer, refusals included, so the key sent to the ledger folds
    # this in: retries inside one attempt replay, a new attempt after a fix is heard afresh.
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class LedgerDocument:
    """A document as the ledger holds it (after posting, or found by lookup)."""

    ledger_id: str
    kind: InvoiceKind
    number: str
    total: Decimal
    status: str = ""  # the ledger's own status text ("AUTHORISED", …)
    reference: str = ""
    balance: Decimal | None = None
    url: str = ""  # where a person opens it in the ledger
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class PostResult:
    """One document's outcome within a batch: posted (`document`) or refused (`error`)."""

    key: str
    document: LedgerDocument | None = None
    error: ConnectorError | None = None
    outcome: WriteOutcome | None = None  # "already_existed" when a lookup found an earlier post
    # "Posted, but …" notes for the admin: what the ledger would not do after taking the
    # document (a credit note it would not allocate), so the record shows it without failing.
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.document is not None


@dataclass(frozen=True, kw_only=True)
class LedgerPayment:
    """Money the ledger recorded against one of its invoices."""

    ledger_id: str
    document_ledger_id: str
    document_number: str
    amount: Decimal
    paid_on: date
    reference: str = ""
    method: str = ""
    updated_at: datetime | None = None
    reversed: bool = False  # deleted or voided in the ledger since


@dataclass(frozen=True, kw_only=True)
class LockDates:
    """Dates on or before which the ledger refuses new documents (None when unset)."""

    period_lock: date | None = None  # Xero PeriodLockDate; QuickBooks closing date
    end_of_year_lock: date | None = None  # Xero EndOfYearLockDate

    def locked(self, day: date) -> bool:
        latest = max((d for d in (self.period_lock, self.end_of_year_lock) if d), default=None)
        return latest is not None and day <= latest


@runtime_checkable
class Ledger(Protocol):
    """One company's ledger connection, written by the sync engine.

    Every method raises `ConnectorError` when the ledger cannot be asked or refuses as a whole;
    `post_documents` instead returns one `PostResult` per document, in order, so one bad
    document never sinks its batch.
    """

    label: str  # "Xero", "QuickBooks Online"
    batch_size: int  # documents per post_documents call (Xero 50, QuickBooks 30)

    def list_accounts(self) -> Iterator[LedgerAccount]: ...

    def list_tax_rates(self) -> Iterator[LedgerTaxRate]: ...

    def list_tracking_categories(self) -> Iterator[TrackingCategory]: ...

    def list_terms(self) -> Iterator[LedgerTerm]: ...

    def list_items(self) -> Iterator[LedgerItem]: ...

    def ensure_customer(
        self, customer: Customer, *, on_name_clash: NameClashRule = NameClashRule.FAIL
    ) -> LedgerCustomer:
        """The ledger contact for this PSA customer: matched by the PSA id recorded on it, then
        by exact name; created when neither matches. Never creates a second one."""
        ...

    def ensure_item(
        self,
        product: Product,
        *,
        policy: ProductIdPolicy = ProductIdPolicy.FAIL,
        mapped_code: str = "",
        income_account_code: str = "",
    ) -> LedgerItem: ...

    def post_documents(self, documents: Sequence[PostableDocument]) -> list[PostResult]:
        """Create documents (at most `batch_size`); a result per document, in order. A document
        whose write turned out uncertain is looked up before the call returns where possible,
        else its result carries an `uncertain` error."""
        ...

    def update_document(self, ledger_id: str, document: PostableDocument) -> PostResult:
        """Bring the ledger's document `ledger_id` in line with `document` (the same document,
        changed in the PSA since it was posted), keeping its id.

        It reads the document first: one that already matches (an earlier update whose answer
        was lost) is `already_existed` and nothing is written, so calling this again after an
        unclear outcome never writes blind; `created` means it was written now. A document the
        ledger will not let change (paid, voided, money applied) is a `validation` error whose
        hint says what the finance admin must do in the ledger first."""
        ...

    def find_document(
        self, kind: InvoiceKind, *, number: str = "", reference: str = ""
    ) -> LedgerDocument | None: ...

    def payments_since(self, cursor: datetime | None) -> Iterator[LedgerPayment]:
        """Payments created or changed after `cursor` (all when None), oldest change first."""
        ...

    def lock_dates(self) -> LockDates: ...

    def test_connectivity(self) -> ConnectivityReport: ...
