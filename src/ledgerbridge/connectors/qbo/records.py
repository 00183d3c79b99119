"""QuickBooks Online JSON ↔ LedgerBridge's ledger types. Vendor JSON stops here.

Field names and limits follow Intuit's entity reference and the v3 XSD (`Finance.xsd`,
`IntuitNamesTypes.xsd`): Item `Name` and `Sku` at most 100 characters, invoice `DocNumber` at
most 21, customer `Notes` at most 1024, names without a colon (QuickBooks uses ':' to join a
sub-item or sub-customer to its parent: "Hardware:Laptop").
"""

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ledgerbridge.connectors.base import (
    ConnectorError,
    Customer,
    ErrorKind,
    InvoiceKind,
    LedgerAccount,
    LedgerDocument,
    LedgerItem,
    LedgerPayment,
    LedgerTaxRate,
    LedgerTerm,
    LineAmounts,
    PostableDocument,
    TermKind,
    TrackingCategory,
    TrackingOption,
    as_str,
)
from ledgerbridge.core.money import MINOR_UNITS, allocate, quantize

ITEM_NAME_MAX: Final = 100
ITEM_SKU_MAX: Final = 100
DOC_NUMBER_MAX: Final = 21
NOTES_MAX: Final = 1024
EMAIL_MAX: Final = 100
ITEM_DESCRIPTION_MAX: Final = 4000
# A line of the customer's Notes that records which PSA customer it is. QuickBooks has no
# external-id field on Customer (AcctNum is QuickBooks Desktop only), and Notes is the one free
# text field every region has, kept on update and visible to the admin, who can see why the
# customer is linked. Notes cannot be queried, so customers are read once and indexed.
PSA_MARKER: Final = "LedgerBridge PSA id:"
_MARKER_LINE = re.compile(r"^\s*LedgerBridge PSA id:\s*(\S.*?)\s*$", re.MULTILINE)

ENTITY_OF: Final[Mapping[InvoiceKind, str]] = {
    InvoiceKind.INVOICE: "Invoice",
    InvoiceKind.CREDIT_NOTE: "CreditMemo",
}
_GLOBAL_TAX: Final[Mapping[LineAmounts, str]] = {
    LineAmounts.EXCLUSIVE: "TaxExcluded",
    LineAmounts.INCLUSIVE: "TaxInclusive",
    LineAmounts.NO_TAX: "NotApplicable",
}
US_TAXABLE: Final = "TAX"
US_NON_TAXABLE: Final = "NON"
INCOME_ACCOUNT_TYPES: Final = frozenset({"Income", "Other Income"})


# -- small readers ---------------------------------------------------------------------------


def money(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def ref_value(value: Any) -> str:
    """`{"value": "58", "name": "…"}` → "58" (a bare value passes through)."""
    if isinstance(value, Mapping):
        return as_str(value.get("value"))
    return as_str(value)


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(as_str(value)[:10]) if value else None
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(as_str(value)) if value else None
    except ValueError:
        return None


def updated_at(record: Mapping[str, Any]) -> datetime | None:
    meta = record.get("MetaData")
    return parse_datetime(meta.get("LastUpdatedTime")) if isinstance(meta, Mapping) else None


def is_active(record: Mapping[str, Any]) -> bool:
    return record.get("Active") is not False


def _records(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


# -- lists -----------------------------------------------------------------------------------


def account(record: Mapping[str, Any]) -> LedgerAccount:
    """An Account; its code is the account number when the company uses them, else its name."""
    name = as_str(record.get("Name"))
    return LedgerAccount(
        ledger_id=as_str(record.get("Id")),
        code=as_str(record.get("AcctNum")) or as_str(record.get("FullyQualifiedName")) or name,
        name=name,
        account_type=as_str(record.get("AccountType")),
        tax_code=ref_value(record.get("TaxCodeRef")),
        active=is_active(record),
    )


def tax_rate(code: Mapping[str, Any], rates: Mapping[str, Decimal]) -> LedgerTaxRate:
    """A TaxCode with the sum of its sales rates (`rates`: TaxRate id → RateValue)."""
    sales = _rate_ids(code.get("SalesTaxRateList"))
    purchases = _rate_ids(code.get("PurchaseTaxRateList"))
    known = [rates[rate_id] for rate_id in sales if rate_id in rates]
    total = sum(known, Decimal(0)) if known and len(known) == len(sales) else None
    if not sales and code.get("Taxable") is False:
        total = Decimal(0)
    return LedgerTaxRate(
        ledger_id=as_str(code.get("Id")),
        name=as_str(code.get("Name")),
        rate=total,
        for_sales=bool(sales) or not purchases,
        for_purchases=bool(purchases) or not sales,
        active=is_active(code),
    )


def sales_rate_ids(code: Mapping[str, Any]) -> tuple[str, ...]:
    return _rate_ids(code.get("SalesTaxRateList"))


def _rate_ids(rate_list: Any) -> tuple[str, ...]:
    details = rate_list.get("TaxRateDetail") if isinstance(rate_list, Mapping) else None
    return tuple(
        ref_value(detail.get("TaxRateRef"))
        for detail in _records(details)
        if ref_value(detail.get("TaxRateRef"))
    )


def tracking_category(name: str, records: Iterable[Mapping[str, Any]]) -> TrackingCategory:
    """Classes or Departments as one category; options by full name ("Parent:Child")."""
    return TrackingCategory(
        ledger_id=name,
        name=name,
        options=tuple(
            TrackingOption(
                ledger_id=as_str(record.get("Id")),
                name=as_str(record.get("FullyQualifiedName")) or as_str(record.get("Name")),
                active=is_active(record),
            )
            for record in records
        ),
    )


def term(record: Mapping[str, Any]) -> LedgerTerm:
    """A Term: `DueDays` (Standard) or `DayOfMonthDue` + `DueNextMonthDays` (DateDriven).

    A date-driven term is due on that day of this month, or of next month when the invoice is
    issued within `DueNextMonthDays` days of it. When that window covers every day before the
    due day, every invoice is due next month.
    """
    ledger_id, name, active = (
        as_str(record.get("Id")),
        as_str(record.get("Name")),
        is_active(record),
    )
    due_days = _int(record.get("DueDays"))
    if due_days is not None:
        return LedgerTerm(ledger_id=ledger_id, name=name, days=due_days, active=active)
    day = _int(record.get("DayOfMonthDue")) or 1
    next_month_within = _int(record.get("DueNextMonthDays")) or 0
    kind = (
        TermKind.DAY_OF_FOLLOWING_MONTH
        if next_month_within >= day - 1
        else TermKind.DAY_OF_CURRENT_MONTH
    )
    return LedgerTerm(ledger_id=ledger_id, name=name, kind=kind, days=day, active=active)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def item(record: Mapping[str, Any], accounts: Mapping[str, str] | None = None) -> LedgerItem:
    """An Item; its code is the full name, so a sub-item reads "Category:Item" and stays unique.

    `accounts` maps account ids to their codes, to name the income account as mappings do.
    """
    name = as_str(record.get("Name"))
    income = ref_value(record.get("IncomeAccountRef"))
    return LedgerItem(
        ledger_id=as_str(record.get("Id")),
        code=as_str(record.get("FullyQualifiedName")) or name,
        name=name,
        description=as_str(record.get("Description")),
        unit_price=money(record.get("UnitPrice")),
        income_account_code=(accounts or {}).get(income, income),
        active=is_active(record),
    )


def is_category(record: Mapping[str, Any]) -> bool:
    """Category items group products; they cannot go on an invoice."""
    return as_str(record.get("Type")) == "Category"


# -- customers -------------------------------------------------------------------------------


def psa_ids_of(customer: Mapping[str, Any]) -> tuple[str, ...]:
    """The PSA customer ids recorded in a customer's Notes (normally one)."""
    return tuple(_MARKER_LINE.findall(as_str(customer.get("Notes"))))


def notes_with_marker(existing: str, psa_id: str) -> str:
    """Notes with a marker line for `psa_id` added, within QuickBooks' 1024 characters."""
    marker = f"{PSA_MARKER} {psa_id}"
    if not existing.strip():
        return marker
    room = NOTES_MAX - len(marker) - 1
    kept = existing.rstrip()[: max(room, 0)]
    return f"{kept}\n{marker}" if kept else marker


def display_name(name: str) -> str:
    """A customer name QuickBooks accepts: no colon (it joins sub-customers), trimmed."""
    return " ".join(name.replace(":", "-").split())


def customer_fields(customer: Customer, display: str) -> dict[str, Any]:
    """A new Customer for the PSA's customer, with its marker line in Notes."""
    fields: dict[str, Any] = {
        "DisplayName": display,
        "CompanyName": display,
        "Notes": notes_with_marker("", customer.psa_id),
    }
    email = _first_email(customer.email)
    if email:
        fields["PrimaryEmailAddr"] = {"Address": email}
    if customer.phone:
        fields["PrimaryPhone"] = {"FreeFormNumber": customer.phone[:30]}
    address = customer.address
    bill = {
        key: value
        for key, value in (
            ("Line1", address.line1),
            ("Line2", address.line2),
            ("City", address.city),
            ("CountrySubDivisionCode", address.region),
            ("PostalCode", address.postal_code),
            ("Country", address.country),
        )
        if value
    }
    if bill:
        fields["BillAddr"] = bill
    if customer.currency:
        fields["CurrencyRef"] = {"value": customer.currency.upper()}
    return fields


def _first_email(value: str) -> str:
    # QuickBooks holds one address of at most 100 characters; the PSA may list several.
    for part in re.split(r"[;,\s]+", value):
        if "@" in part and len(part) <= EMAIL_MAX:
            return part
    return ""


# -- items -----------------------------------------------------------------------------------


def truncated_with_hash(identifier: str, limit: int) -> str:
    """`identifier` cut to `limit` with "~" and 8 hex digits of its SHA-256: stable, unique."""
    if len(identifier) <= limit:
        return identifier
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:8]
    return f"{identifier[: limit - 9].rstrip()}~{digest}"


def item_type(product_kind: str) -> str:
    """QuickBooks item Type for a PSA product class: goods are NonInventory (LedgerBridge does
    not track stock in QuickBooks), everything else a Service."""
    kind = product_kind.lower().replace("-", "").replace(" ", "")
    goods = ("inventory", "noninventory", "hardware", "product", "material", "goods")
    return "NonInventory" if any(word in kind for word in goods) else "Service"


# -- documents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookups:
    """What a document payload needs resolved to QuickBooks ids, read once per adapter."""

    item_ids: Mapping[str, str] = field(default_factory=dict)  # code, leaf name or Sku → Id
    account_ids: Mapping[str, str] = field(default_factory=dict)  # number, name or Id → Id
    class_ids: Mapping[str, str] = field(default_factory=dict)  # full name or name → Id
    department_ids: Mapping[str, str] = field(default_factory=dict)
    tax_rate_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # code → rates
    tax_rate_values: Mapping[str, Decimal] = field(default_factory=dict)  # rate → percentage
    automated_sales_tax: bool = False  # a US company with QuickBooks' automated sales tax
    override_automated_tax: bool = False  # send the PSA's tax as TxnTaxDetail.TotalTax


CLASS_CATEGORIES: Final = ("class",)
DEPARTMENT_CATEGORIES: Final = ("department", "location")


def document_fields(document: PostableDocument, lookups: Lookups) -> dict[str, Any]:
    """An Invoice or CreditMemo body, or `ConnectorError(validation)` naming what is missing."""
    what = document_label(document)
    problems: list[str] = []
    if len(document.number) > DOC_NUMBER_MAX:
        raise ConnectorError(
            ErrorKind.VALIDATION,
            f"{what}: the number is {len(document.number)} characters; QuickBooks allows "
            f"{DOC_NUMBER_MAX}.",
            hint="Use a shorter invoice number format in the PSA (or a prefix rule in "
            "LedgerBridge that keeps numbers within 21 characters).",
        )
    if not document.lines:
        raise ConnectorError(
            ErrorKind.VALIDATION,
            f"{what} has no lines; QuickBooks needs at least one.",
            hint="Check the invoice in the PSA.",
        )
    department = ""
    lines = []
    taxes: dict[str, tuple[Decimal, Decimal]] = {}  # tax code → (net, tax)
    every_line_taxed = True
    for number, line in enumerate(document.lines, start=1):
        detail: dict[str, Any] = {"Qty": line.quantity, "UnitPrice": line.unit_price}
        amount = line.line_amount
        if line.discount_rate:
            # QuickBooks' per-line discount is not in every region: send the net amount.
            amount = (amount * (100 - line.discount_rate) / 100).quantize(Decimal("0.01"))
            if line.quantity:
                detail["UnitPrice"] = (amount / line.quantity).quantize(Decimal("0.0000001"))
        if line.item_code:
            item_id = lookups.item_ids.get(line.item_code)
            if item_id is None:
                problems.append(f"line {number}: product/service '{line.item_code}'")
            else:
                detail["ItemRef"] = {"value": item_id}
        if line.account_code:
            account_id = lookups.account_ids.get(line.account_code)
            if account_id is None:
                problems.append(f"line {number}: account '{line.account_code}'")
            else:
                detail["ItemAccountRef"] = {"value": account_id}
        tax_code = _line_tax_code(line.tax_code, line.tax_amount, lookups)
        if tax_code:
            detail["TaxCodeRef"] = {"value": tax_code}
        if line.tax_amount is None:
            every_line_taxed = False
        elif tax_code:
            net, tax = taxes.get(tax_code, (Decimal(0), Decimal(0)))
            taxes[tax_code] = (net + amount, tax + line.tax_amount)
        for category, option in line.tracking.items():
            kind = category.strip().lower()
            if kind in CLASS_CATEGORIES:
                class_id = lookups.class_ids.get(option)
                if class_id is None:
                    problems.append(f"line {number}: class '{option}'")
                else:
                    detail["ClassRef"] = {"value": class_id}
            elif kind in DEPARTMENT_CATEGORIES:
                # QuickBooks tracks a location (department) per document, not per line.
                department = department or option
        lines.append(
            {
                "LineNum": number,
                "DetailType": "SalesItemLineDetail",
                "Amount": amount,
                "Description": line.description[:4000],
                "SalesItemLineDetail": detail,
            }
        )
    fields: dict[str, Any] = {
        "CustomerRef": {"value": document.customer_ledger_id},
        "TxnDate": document.issued_on.isoformat(),
        "Line": lines,
    }
    if document.number:
        fields["DocNumber"] = document.number
    if department:
        department_id = lookups.department_ids.get(department)
        if department_id is None:
            problems.append(f"location (department) '{department}'")
        else:
            fields["DepartmentRef"] = {"value": department_id}
    if problems:
        raise ConnectorError(
            ErrorKind.VALIDATION,
            f"{what} uses what QuickBooks does not have: {', '.join(problems)}.",
            hint="Create it in QuickBooks (or correct the mapping under Company → Mappings), "
            "reload the QuickBooks lists, then retry.",
        )
    if document.due_on and document.kind == InvoiceKind.INVOICE:
        fields["DueDate"] = document.due_on.isoformat()
    if document.term_ledger_id and document.kind == InvoiceKind.INVOICE:
        fields["SalesTermRef"] = {"value": document.term_ledger_id}
    if document.currency:
        fields["CurrencyRef"] = {"value": document.currency.upper()}
    if document.memo:
        fields["CustomerMemo"] = {"value": document.memo[:1000]}
    if document.reference:
        fields["PrivateNote"] = document.reference[:4000]
    if lookups.automated_sales_tax:
        if lookups.override_automated_tax and every_line_taxed:
            tax_total = sum((tax for _, tax in taxes.values()), Decimal(0))
            fields["TxnTaxDetail"] = {"TotalTax": tax_total}
    else:
        fields["GlobalTaxCalculation"] = _GLOBAL_TAX[document.line_amounts]
        tax_lines = _tax_lines(taxes, lookups, document.currency) if every_line_taxed else []
        if tax_lines:
            fields["TxnTaxDetail"] = {
                "TotalTax": sum((tax for _, tax in taxes.values()), Decimal(0)),
                "TaxLine": tax_lines,
            }
    return fields


def _line_tax_code(code: str, tax_amount: Decimal | None, lookups: Lookups) -> str:
    if not lookups.automated_sales_tax:
        return code
    # Automated sales tax: lines say only taxable or not; QuickBooks picks the rates.
    if code.upper() == US_NON_TAXABLE or (not code and not tax_amount):
        return US_NON_TAXABLE
    return US_TAXABLE


def _tax_lines(
    taxes: Mapping[str, tuple[Decimal, Decimal]], lookups: Lookups, currency: str = ""
) -> list[dict[str, Any]]:
    """The PSA's tax per code as one TaxLine per rate, so QuickBooks keeps the PSA's figures.

    QuickBooks states tax per rate, the PSA per code. A code of one rate takes the code's tax
    whole; a combined code (GST + PST BC) has its tax split over its rates in proportion to
    them, exact to the cent. A rate shared by several codes (GST alone and in GST/PST) gets one
    line with the sum, as QuickBooks keeps one per rate. A code without rates (out of scope)
    needs no line while the PSA taxed it nothing. Where the tax cannot be split (a rate's value
    unknown, or a code without rates carrying tax) nothing is stated and QuickBooks computes
    the whole document, whose total the engine then compares.
    """
    per_rate: dict[str, tuple[Decimal, Decimal]] = {}  # rate id → (net, tax)
    for code, (net, tax) in taxes.items():
        rates = lookups.tax_rate_ids.get(code, ())
        if not rates:
            if tax:
                return []
            continue
        shares = _split_over_rates(tax, rates, lookups.tax_rate_values, currency)
        if shares is None:
            return []
        for rate_id, share in zip(rates, shares, strict=True):
            held_net, held_tax = per_rate.get(rate_id, (Decimal(0), Decimal(0)))
            per_rate[rate_id] = (held_net + net, held_tax + share)
    return [
        {
            "DetailType": "TaxLineDetail",
            "Amount": tax,
            "TaxLineDetail": {"TaxRateRef": {"value": rate_id}, "NetAmountTaxable": net},
        }
        for rate_id, (net, tax) in per_rate.items()
    ]


# QuickBooks amounts carry cents; a document without a currency is in the home currency,
# which for every QuickBooks region LedgerBridge serves has two decimals too.
_TWO_DECIMAL_CURRENCY: Final = "CAD"


def _split_over_rates(
    tax: Decimal, rates: Sequence[str], values: Mapping[str, Decimal], currency: str
) -> list[Decimal] | None:
    """`tax` over `rates` in proportion to their percentages, adding up to it exactly; None
    when a rate's percentage is unknown or they are all zero (nothing to split by)."""
    if len(rates) == 1:
        return [tax]
    weights = [values.get(rate_id) for rate_id in rates]
    known = [weight for weight in weights if weight is not None]
    if len(known) != len(weights) or sum(known, Decimal(0)) <= 0:
        return None
    code = currency.upper() if currency.upper() in MINOR_UNITS else _TWO_DECIMAL_CURRENCY
    return allocate(quantize(tax, code), known, code)


def document_label(document: PostableDocument) -> str:
    noun = "Credit note" if document.kind == InvoiceKind.CREDIT_NOTE else "Invoice"
    return f"{noun} {document.number or document.psa_id}"


def ledger_document(
    record: Mapping[str, Any], kind: InvoiceKind, *, app_url: str = ""
) -> LedgerDocument:
    total = money(record.get("TotalAmt")) or Decimal(0)
    balance = money(record.get("Balance"))
    if kind == InvoiceKind.CREDIT_NOTE and balance is None:
        balance = money(record.get("RemainingCredit"))
    ledger_id = as_str(record.get("Id"))
    status = "Open"
    if balance is not None and balance == 0 and total != 0:
        status = "Paid" if kind == InvoiceKind.INVOICE else "Applied"
    page = "invoice" if kind == InvoiceKind.INVOICE else "creditmemo"
    return LedgerDocument(
        ledger_id=ledger_id,
        kind=kind,
        number=as_str(record.get("DocNumber")),
        total=total,
        status=status,
        reference=as_str(record.get("PrivateNote")),
        balance=balance,
        url=f"{app_url}/app/{page}?txnId={ledger_id}" if app_url and ledger_id else "",
        updated_at=updated_at(record),
    )


def payments(record: Mapping[str, Any]) -> list[LedgerPayment]:
    """A Payment's applications to invoices, one `LedgerPayment` per invoice it pays.

    One QuickBooks payment may settle several invoices, so `ledger_id` is "<Payment Id>:<Invoice
    Id>": unique per application, and the payment id is the part before the colon.
    """
    payment_id = as_str(record.get("Id"))
    paid_on = parse_date(record.get("TxnDate"))
    if paid_on is None:
        return []
    applied: dict[str, Decimal] = {}
    credit = Decimal(0)
    for line in _records(record.get("Line")):
        amount = money(line.get("Amount")) or Decimal(0)
        for linked in _records(line.get("LinkedTxn")):
            if as_str(linked.get("TxnType")) == "Invoice" and linked.get("TxnId"):
                invoice_id = as_str(linked.get("TxnId"))
                applied[invoice_id] = applied.get(invoice_id, Decimal(0)) + amount
            elif as_str(linked.get("TxnType")) == "CreditMemo":
                credit += amount
    # Credit memos the payment applies settle part of its invoices with credit, not money:
    # only what was received is a payment (a credit applied alone, TotalAmt 0, is none).
    for invoice_id in applied:
        used = min(credit, applied[invoice_id])
        applied[invoice_id] -= used
        credit -= used
    applied = {invoice_id: amount for invoice_id, amount in applied.items() if amount > 0}
    method = ref_value(record.get("PaymentMethodRef"))
    if isinstance(record.get("PaymentMethodRef"), Mapping):
        method = as_str(record["PaymentMethodRef"].get("name")) or method
    return [
        LedgerPayment(
            ledger_id=f"{payment_id}:{invoice_id}",
            document_ledger_id=invoice_id,
            document_number="",
            amount=amount,
            paid_on=paid_on,
            reference=as_str(record.get("PaymentRefNum")) or payment_id,
            method=method,
            updated_at=updated_at(record),
        )
        for invoice_id, amount in applied.items()
    ]


def credit_applications(payment: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(credit memo Id, invoice Id) pairs a payment applies: it links both in its lines."""
    linked: dict[str, set[str]] = {"Invoice": set(), "CreditMemo": set()}
    for line in _records(payment.get("Line")):
        for link in _records(line.get("LinkedTxn")):
            kind = as_str(link.get("TxnType"))
            if kind in linked and link.get("TxnId"):
                linked[kind].add(as_str(link.get("TxnId")))
    return {(credit, invoice) for credit in linked["CreditMemo"] for invoice in linked["Invoice"]}


def same_document(found: Mapping[str, Any], document: PostableDocument) -> bool:
    """True when a document QuickBooks holds under this number is this one (customer, total)."""
    return (
        ref_value(found.get("CustomerRef")) == document.customer_ledger_id
        and money(found.get("TotalAmt")) == document.total
    )


def document_numbers(documents: Sequence[PostableDocument]) -> list[str]:
    return [document.number for document in documents if document.number]
