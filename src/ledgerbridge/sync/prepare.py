"""Map and validate: a canonical PSA invoice becomes a postable ledger document, or a problem.

Pure functions over `Invoice`, `SyncPolicy` and `Mappings`. Customers and items are resolved
later (they may need creating in the ledger), so the document leaves here with an empty
`customer_ledger_id` and lines whose `item_code` is still the PSA product id; `products` lists
those ids for the engine to ensure.

The money rule: the ledger total must equal the PSA total to the cent. Ledgers keep fewer
decimals than PSAs (Xero: 4 for quantity and unit price, PSAs: up to 7), so each line is
recomputed the way the ledger will, tax is carried from the PSA, and any difference is posted
as an adjustment line — within the company's maximum minor adjustment, never silently beyond it.
"""

from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ledgerbridge.connectors.base import (
    Invoice,
    InvoiceLine,
    LockDates,
    PostableDocument,
    PostableLine,
)
from ledgerbridge.core import money
from ledgerbridge.sync.policy import (
    ErrorClass,
    Mappings,
    MissingTracking,
    ReferenceSource,
    SyncPolicy,
    TaxCodeSource,
)
from ledgerbridge.sync.terms import TermsError, parse_xref

ADJUSTMENT_DESCRIPTION = "Rounding adjustment"


class RecordError(Exception):
    """Why one record cannot be posted, with the fix for the finance admin."""

    def __init__(self, error_class: ErrorClass, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class PreparedDocument:
    document: PostableDocument
    products: tuple[str, ...]  # PSA product ids whose ledger items must exist
    warnings: tuple[str, ...] = ()
    adjustment: Decimal = Decimal(0)


def prepare_invoice(
    invoice: Invoice,
    *,
    key: str,
    policy: SyncPolicy,
    mappings: Mappings,
    lock_dates: LockDates | None = None,
    applies_to_ledger_id: str = "",
) -> PreparedDocument:
    """The postable document for `invoice`, or `RecordError` saying what to fix."""
    warnings: list[str] = []
    _check_basics(invoice, policy, lock_dates)
    taxes = _line_taxes(invoice)
    lines = [
        _map_line(number, line, tax, invoice, policy, mappings, warnings)
        for number, (line, tax) in enumerate(zip(invoice.lines, taxes, strict=True), start=1)
    ]
    adjustment = _adjustment(invoice, lines, policy)
    if adjustment:
        lines.append(_adjustment_line(adjustment, invoice, policy, mappings))
        warnings.append(
            f"An adjustment line of {adjustment} {invoice.currency} keeps the ledger total equal "
            f"to the PSA total of {invoice.total}."
        )
    term_ledger_id, due_on = _due(invoice, mappings)
    document = PostableDocument(
        key=key,
        kind=invoice.kind,
        psa_id=invoice.psa_id,
        number=invoice.number,
        customer_ledger_id="",
        issued_on=invoice.issued_on,
        due_on=due_on,
        currency=invoice.currency,
        lines=tuple(lines),
        total=invoice.total,
        reference=_reference(invoice, policy),
        term_ledger_id=term_ledger_id,
        approve=not policy.post_as_draft,
        mark_sent=policy.mark_as_sent,
        memo=invoice.description,
        applies_to_ledger_id=applies_to_ledger_id,
    )
    products = tuple(dict.fromkeys(line.item_code for line in lines if line.item_code))
    products = tuple(p for p in products if p != policy.adjustment_item_code)
    return PreparedDocument(document, products, tuple(warnings), adjustment)


def _check_basics(invoice: Invoice, policy: SyncPolicy, lock_dates: LockDates | None) -> None:
    what = "Credit note" if invoice.kind == "credit_note" else "Invoice"
    if not invoice.lines:
        raise RecordError(
            ErrorClass.VALIDATION,
            f"{what} {invoice.number} has no lines.",
            "Add its lines in the PSA (or exclude it) and sync again.",
        )
    if invoice.total == 0 and not policy.post_zero_invoices:
        raise RecordError(
            ErrorClass.VALIDATION,
            f"{what} {invoice.number} comes to 0.00.",
            "Zero-value invoices are not posted unless the company setting 'Post zero-value "
            "invoices' is on. Turn it on, or exclude the record.",
        )
    for number, line in enumerate(invoice.lines, start=1):
        if not line.description.strip():
            raise RecordError(
                ErrorClass.VALIDATION,
                f"Line {number} of {invoice.number} has no description; the ledger needs one "
                "for each line.",
                "Add a description to the line (or its product) in the PSA and sync again.",
            )
    if lock_dates is not None and lock_dates.locked(invoice.issued_on):
        lock = max(d for d in (lock_dates.period_lock, lock_dates.end_of_year_lock) if d)
        raise RecordError(
            ErrorClass.VALIDATION,
            f"{what} {invoice.number} is dated {invoice.issued_on:%d %b %Y}, on or before the "
            f"ledger's lock date of {lock:%d %b %Y}.",
            "Move the lock date in the ledger, or re-date the invoice in the PSA, then retry.",
        )


def _line_taxes(invoice: Invoice) -> list[Decimal]:
    """Tax per line: the PSA's own, or the invoice's tax spread over its taxable lines."""
    if all(line.tax_amount is not None for line in invoice.lines):
        return [line.tax_amount or Decimal(0) for line in invoice.lines]
    taxable = [i for i, line in enumerate(invoice.lines) if line.taxable and line.line_amount]
    taxes = [Decimal(0)] * len(invoice.lines)
    if invoice.tax_total == 0:
        return taxes
    if not taxable:
        raise RecordError(
            ErrorClass.VALIDATION,
            f"Invoice {invoice.number} carries {invoice.tax_total} tax but no taxable line.",
            "Check the invoice's tax code and line taxability in the PSA.",
        )
    weights = [abs(invoice.lines[i].line_amount) for i in taxable]
    for index, share in zip(
        taxable, money.allocate(invoice.tax_total, weights, invoice.currency), strict=True
    ):
        taxes[index] = share
    return taxes


def _map_line(
    number: int,
    line: InvoiceLine,
    tax: Decimal,
    invoice: Invoice,
    policy: SyncPolicy,
    mappings: Mappings,
    warnings: list[str],
) -> PostableLine:
    places = Decimal(1).scaleb(-policy.unit_decimals)
    quantity = line.quantity.quantize(places, ROUND_HALF_UP)
    unit_price = line.unit_price.quantize(places, ROUND_HALF_UP)
    if quantity == 0 and line.quantity != 0:
        # 0.00001 of something at 4 decimals is nothing: carry the amount on one unit instead.
        quantity, unit_price = Decimal(1), line.line_amount.quantize(places, ROUND_HALF_UP)
    return PostableLine(
        description=line.description,
        quantity=quantity,
        unit_price=unit_price,
        line_amount=money.quantize(quantity * unit_price, invoice.currency),
        account_code=_account(line, invoice, mappings),
        tax_code=_tax_code(line, invoice, policy, mappings),
        tax_amount=tax,
        item_code=line.product_identifier,
        tracking=_tracking(number, line, invoice, policy, mappings, warnings),
    )


def _account(line: InvoiceLine, invoice: Invoice, mappings: Mappings) -> str:
    if not line.gl_account:
        if mappings.default_account:
            return mappings.default_account
        raise RecordError(
            ErrorClass.MAPPING,
            f"A line of {invoice.number} ({line.description[:60]}) has no GL account in the "
            "PSA and the company has no default revenue account.",
            "Set the default revenue account under Mappings → GL accounts.",
        )
    code = mappings.accounts.get(line.gl_account)
    if not code:
        raise RecordError(
            ErrorClass.MAPPING,
            f"PSA GL account {line.gl_account} has no ledger account.",
            f"Map GL account {line.gl_account} under Mappings → GL accounts, then retry.",
        )
    return code


def _tax_code(line: InvoiceLine, invoice: Invoice, policy: SyncPolicy, mappings: Mappings) -> str:
    if not line.taxable:
        if policy.exempt_tax_code:
            return policy.exempt_tax_code
        raise RecordError(
            ErrorClass.MAPPING,
            f"{invoice.number} has a tax-exempt line but no ledger tax code is set for "
            "exempt sales.",
            "Choose the exempt sales tax code under Settings → Tax codes.",
        )
    if policy.tax_source == TaxCodeSource.FIXED:
        if policy.taxable_tax_code:
            return policy.taxable_tax_code
        raise RecordError(
            ErrorClass.MAPPING,
            "No ledger tax code is set for taxable sales.",
            "Choose the taxable sales tax code under Settings → Tax codes.",
        )
    psa_code = line.tax_code_psa_id or invoice.tax_code_psa_id
    if not psa_code:
        raise RecordError(
            ErrorClass.MAPPING,
            f"A taxable line of {invoice.number} has no tax code in the PSA.",
            "Give the invoice (or the customer) a tax code in the PSA, or switch Settings → Tax "
            "codes to one fixed ledger code.",
        )
    code = mappings.tax_codes.get(psa_code)
    if not code:
        name = mappings.name_of("tax_code", psa_code)
        raise RecordError(
            ErrorClass.MAPPING,
            f"PSA tax code {name} has no ledger tax code.",
            f"Map tax code {name} under Mappings → Tax codes, then retry.",
        )
    return code


def _tracking(
    number: int,
    line: InvoiceLine,
    invoice: Invoice,
    policy: SyncPolicy,
    mappings: Mappings,
    warnings: list[str],
) -> dict[str, str]:
    if not policy.tracking_enabled:
        return {}
    wanted = {"location": line.location or invoice.location}
    wanted["department"] = line.department or invoice.department
    wanted.update(line.tracking)
    chosen: dict[str, str] = {}
    for dimension, value in wanted.items():
        if not value:
            continue
        target = mappings.tracking.get((dimension, value))
        if target is None:
            message = f"PSA {dimension} {value!r} has no ledger tracking option."
            if policy.missing_tracking == MissingTracking.HALT:
                raise RecordError(
                    ErrorClass.MAPPING,
                    message,
                    f"Map {dimension} {value!r} under Mappings → Tracking, or set missing "
                    "tracking to 'warn' to post without it.",
                )
            warnings.append(f"Line {number}: {message} Posted without it.")
            continue
        category, option = target
        chosen[category] = option
    return chosen


def _adjustment(invoice: Invoice, lines: list[PostableLine], policy: SyncPolicy) -> Decimal:
    ledger_total = money.sum_money(
        [line.line_amount for line in lines] + [line.tax_amount or 0 for line in lines]
    )
    difference = money.quantize(invoice.total - ledger_total, invoice.currency)
    if not difference:
        return difference
    limit = policy.max_minor_adjustment
    if limit and abs(difference) > limit:
        raise RecordError(
            ErrorClass.VALIDATION,
            f"{invoice.number}: the lines come to {ledger_total} {invoice.currency} in the "
            f"ledger but the PSA total is {invoice.total}, a difference of {difference}.",
            f"The difference is more than the maximum minor adjustment of {limit}. Check the "
            "invoice's lines and tax in the PSA, or raise the maximum under Settings.",
        )
    if ledger_total == 0:
        raise RecordError(
            ErrorClass.VALIDATION,
            f"{invoice.number}: the PSA total of {invoice.total} comes to 0.00 in the ledger; "
            "an adjustment cannot be applied to a 0.00 invoice.",
            "Correct the line amounts in the PSA so they add up to the invoice total.",
        )
    return difference


def _adjustment_line(
    amount: Decimal, invoice: Invoice, policy: SyncPolicy, mappings: Mappings
) -> PostableLine:
    account = policy.adjustment_account_code or mappings.default_account
    if not account or not policy.adjustment_tax_code:
        raise RecordError(
            ErrorClass.MAPPING,
            f"{invoice.number} needs an adjustment of {amount} {invoice.currency} to match the "
            "PSA total, but no adjustment account and tax code are set.",
            "Set the adjustment item, account and tax code under Settings → Adjustments.",
        )
    return PostableLine(
        description=ADJUSTMENT_DESCRIPTION,
        quantity=Decimal(1),
        unit_price=amount,
        line_amount=amount,
        account_code=account,
        tax_code=policy.adjustment_tax_code,
        tax_amount=Decimal(0),
        item_code=policy.adjustment_item_code,
    )


def _due(invoice: Invoice, mappings: Mappings) -> tuple[str, date | None]:
    target = mappings.terms.get(invoice.payment_term_psa_id or invoice.customer.payment_term_psa_id)
    if target is None:
        return "", invoice.due_on
    if target.ledger_term_id:
        return target.ledger_term_id, invoice.due_on
    try:
        return "", parse_xref(target.xref).due_on(invoice.issued_on)
    except TermsError as error:
        raise RecordError(
            ErrorClass.MAPPING,
            str(error),
            "Fix the term's cross-reference under Mappings → Billing terms.",
        ) from None


def _reference(invoice: Invoice, policy: SyncPolicy) -> str:
    if policy.reference_source == ReferenceSource.PO_NUMBER:
        return f"Your: {invoice.po_number}" if invoice.po_number else ""
    if policy.reference_source == ReferenceSource.PSA_REFERENCE:
        return invoice.reference
    return ""


def with_ledger_codes(
    prepared: PreparedDocument, customer_ledger_id: str, item_codes: dict[str, str]
) -> PostableDocument:
    """The document with its customer and items resolved to the ledger's own."""
    lines = tuple(
        replace(line, item_code=item_codes.get(line.item_code, line.item_code))
        for line in prepared.document.lines
    )
    return replace(prepared.document, customer_ledger_id=customer_ledger_id, lines=lines)
