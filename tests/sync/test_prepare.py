"""Mapping and validation turn PSA invoices into ledger documents that total to the cent."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from ledgerbridge.connectors.base import (
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    LockDates,
)
from ledgerbridge.core import money
from ledgerbridge.sync.policy import (
    ErrorClass,
    Mappings,
    MissingTracking,
    SyncPolicy,
    TaxCodeSource,
    TermTarget,
)
from ledgerbridge.sync.prepare import RecordError, prepare_invoice, with_ledger_codes

D = Decimal
POLICY = SyncPolicy(
    exempt_tax_code="EXEMPTOUTPUT",
    adjustment_item_code="ADJ",
    adjustment_account_code="260",
    adjustment_tax_code="BASEXCLUDED",
)
MAPPINGS = Mappings(
    accounts={"4000": "200", "4100": "210"},
    tax_codes={"GST": "OUTPUT"},
    tracking={("location", "Sydney"): ("Region", "NSW")},
    terms={"30D": TermTarget(xref="30"), "EOM20": TermTarget(xref="M+1:D20")},
)


def line(
    description: str = "Managed services",
    quantity: str = "1",
    unit_price: str = "100.00",
    *,
    amount: str | None = None,
    tax: str | None = None,
    **fields: object,
) -> InvoiceLine:
    qty, price = D(quantity), D(unit_price)
    options: dict[str, object] = {
        "gl_account": "4000",
        "tax_code_psa_id": "GST",
        "product_identifier": "MS-BASIC",
    }
    options.update(fields)
    return InvoiceLine(
        psa_line_id=description,
        description=description,
        quantity=qty,
        unit_price=price,
        line_amount=D(amount) if amount is not None else money.quantize(qty * price, "AUD"),
        tax_amount=D(tax) if tax is not None else None,
        **options,  # type: ignore[arg-type]
    )


def invoice(
    *lines: InvoiceLine, tax: str = "0", total: str | None = None, **fields: object
) -> Invoice:
    subtotal = money.sum_money(item.line_amount for item in lines)
    options: dict[str, object] = {
        "psa_id": "101",
        "number": "INV-101",
        "kind": InvoiceKind.INVOICE,
        "customer": Customer(psa_id="9", name="Acme Pty Ltd"),
        "issued_on": date(2026, 1, 15),
        "due_on": date(2026, 2, 14),
        "currency": "AUD",
        "lines": tuple(lines),
        "subtotal": subtotal,
        "tax_total": D(tax),
        "total": D(total) if total is not None else subtotal + D(tax),
    }
    options.update(fields)
    return Invoice(**options)  # type: ignore[arg-type]


def prepare(inv: Invoice, policy: SyncPolicy = POLICY, mappings: Mappings = MAPPINGS, **kw: object):  # type: ignore[no-untyped-def]
    return prepare_invoice(inv, key="k1", policy=policy, mappings=mappings, **kw)  # type: ignore[arg-type]


def ledger_total(prepared) -> Decimal:  # type: ignore[no-untyped-def]
    lines = prepared.document.lines
    return money.sum_money([x.line_amount for x in lines] + [x.tax_amount or 0 for x in lines])


def problem(inv: Invoice, **kw: object) -> RecordError:
    with pytest.raises(RecordError) as caught:
        prepare(inv, **kw)
    return caught.value


def test_a_plain_invoice_maps_every_code() -> None:
    prepared = prepare(
        invoice(line(), line("Backup", "2", "25.00", gl_account="4100"), tax="15.00")
    )
    document = prepared.document
    assert [(x.account_code, x.tax_code, x.item_code) for x in document.lines] == [
        ("200", "OUTPUT", "MS-BASIC"),
        ("210", "OUTPUT", "MS-BASIC"),
    ]
    # Invoice-level tax is spread over the lines in proportion, adding up exactly.
    assert [x.tax_amount for x in document.lines] == [D("10.00"), D("5.00")]
    assert ledger_total(prepared) == document.total == D("165.00")
    assert prepared.products == ("MS-BASIC",)
    assert prepared.adjustment == 0 and prepared.warnings == ()


def test_seven_decimal_quantities_are_rounded_and_the_cents_adjusted() -> None:
    # The PSA bills 3.3333333 hours at 45.1234567: 150.41 on its books. At 4 decimals the
    # ledger computes 3.3333 x 45.1235 = 150.41 too, but 1,000 clicks at 0.0123456 differ.
    clicks = line("Print clicks", "1000", "0.0123456", amount="12.35", product_identifier="CLICK")
    hours = line("Remote support", "3.3333333", "45.1234567", amount="150.41")
    prepared = prepare(invoice(hours, clicks, tax="16.28"))
    document = prepared.document
    assert document.lines[1].quantity == D("1000.0000")
    assert document.lines[1].unit_price == D("0.0123")
    assert document.lines[1].line_amount == D("12.30")
    assert prepared.adjustment == D("0.05")
    adjustment = document.lines[-1]
    assert (adjustment.description, adjustment.line_amount, adjustment.account_code) == (
        "Rounding adjustment",
        D("0.05"),
        "260",
    )
    assert adjustment.tax_code == "BASEXCLUDED" and adjustment.item_code == "ADJ"
    assert ledger_total(prepared) == document.total == D("179.04")
    assert "0.05" in prepared.warnings[0]
    assert prepared.products == ("MS-BASIC", "CLICK")  # the adjustment item is the company's own


def test_an_adjustment_over_the_maximum_fails_with_the_difference() -> None:
    inv = invoice(line(), tax="10.00", total="125.00")  # 15.00 more than the lines
    error = problem(inv)
    assert error.error_class == ErrorClass.VALIDATION
    assert "difference of 15.00" in error.message
    assert "maximum minor adjustment of 10.00" in error.hint
    # 0 means no limit.
    prepared = prepare(inv, policy=replace(POLICY, max_minor_adjustment=D(0)))
    assert prepared.adjustment == D("15.00")


def test_an_adjustment_needs_its_account_and_tax_code() -> None:
    inv = invoice(line(), tax="10.00", total="110.02")
    error = problem(inv, policy=replace(POLICY, adjustment_tax_code=""))
    assert error.error_class == ErrorClass.MAPPING
    assert "Settings → Adjustments" in error.hint


def test_a_cent_invoice_that_comes_to_nothing_cannot_be_adjusted() -> None:
    inv = invoice(line("Tiny", "1", "0.004", amount="0.01"), total="0.01")
    assert "cannot be applied to a 0.00 invoice" in problem(inv).message


def test_missing_mappings_name_the_psa_code_and_the_screen() -> None:
    error = problem(invoice(line(gl_account="4999")))
    assert error.error_class == ErrorClass.MAPPING
    assert "4999" in error.message and "Mappings → GL accounts" in error.hint
    error = problem(invoice(line(tax_code_psa_id="PST-BC")))
    assert "PST-BC" in error.message and "Mappings → Tax codes" in error.hint
    # A PSA that keys tax codes by number is named by the code the admin knows.
    named = replace(MAPPINGS, labels={("tax_code", "3"): "NY-NYC"})
    error = problem(invoice(line(tax_code_psa_id="3")), mappings=named)
    assert "PSA tax code NY-NYC (id 3) has no ledger tax code" in error.message


def test_fixed_tax_codes_and_exempt_lines() -> None:
    policy = replace(POLICY, tax_source=TaxCodeSource.FIXED, taxable_tax_code="TAX001")
    prepared = prepare(
        invoice(line(tax_code_psa_id=""), line("Exempt", taxable=False)), policy=policy
    )
    assert [x.tax_code for x in prepared.document.lines] == ["TAX001", "EXEMPTOUTPUT"]
    error = problem(invoice(line(taxable=False)), policy=replace(POLICY, exempt_tax_code=""))
    assert "exempt" in error.message


def test_missing_tracking_halts_or_warns() -> None:
    policy = replace(POLICY, tracking_enabled=True)
    mapped = prepare(invoice(line(), location="Sydney"), policy=policy)
    assert mapped.document.lines[0].tracking == {"Region": "NSW"}
    unmapped = invoice(line(), location="Perth")
    error = problem(unmapped, policy=policy)
    assert error.error_class == ErrorClass.MAPPING and "'Perth'" in error.message
    warned = prepare(unmapped, policy=replace(policy, missing_tracking=MissingTracking.WARN))
    assert warned.document.lines[0].tracking == {}
    assert "Perth" in warned.warnings[0]


def test_terms_cross_reference_sets_the_due_date() -> None:
    assert prepare(invoice(line(), payment_term_psa_id="EOM20")).document.due_on == date(
        2026, 2, 20
    )
    assert prepare(invoice(line(), payment_term_psa_id="30D")).document.due_on == date(2026, 2, 14)
    # No mapping: the PSA's own due date stands.
    assert prepare(invoice(line(), due_on=date(2026, 3, 1))).document.due_on == date(2026, 3, 1)
    bad = Mappings(**{**vars(MAPPINGS), "terms": {"X": TermTarget(xref="Net 30")}})
    assert (
        "Mappings → Billing terms"
        in problem(invoice(line(), payment_term_psa_id="X"), mappings=bad).hint
    )


def test_lock_dates_refuse_documents_on_or_before_them() -> None:
    locks = LockDates(period_lock=date(2026, 1, 31))
    error = problem(invoice(line()), lock_dates=locks)
    assert error.error_class == ErrorClass.VALIDATION
    assert "15 Jan 2026" in error.message and "31 Jan 2026" in error.message
    assert prepare(invoice(line(), issued_on=date(2026, 2, 1)), lock_dates=locks)


def test_empty_zero_and_undescribed_invoices_are_refused_with_reasons() -> None:
    assert "no lines" in problem(invoice()).message
    zero = invoice(line("Free", "1", "0"))
    assert "0.00" in problem(zero).message
    assert prepare(zero, policy=replace(POLICY, post_zero_invoices=True)).document.total == 0
    assert "no description" in problem(invoice(line(" "))).message


def test_credit_notes_keep_their_kind_and_link() -> None:
    credit = invoice(line(), kind=InvoiceKind.CREDIT_NOTE, number="CN-7")
    prepared = prepare(credit, applies_to_ledger_id="xero-inv-1")
    assert prepared.document.kind == InvoiceKind.CREDIT_NOTE
    assert prepared.document.applies_to_ledger_id == "xero-inv-1"


def test_ledger_codes_are_filled_in_after_customers_and_items_exist() -> None:
    prepared = prepare(invoice(line(product_identifier="VERY-LONG-PRODUCT-ID")))
    document = with_ledger_codes(prepared, "contact-1", {"VERY-LONG-PRODUCT-ID": "VERY-LONG-3fa1"})
    assert document.customer_ledger_id == "contact-1"
    assert document.lines[0].item_code == "VERY-LONG-3fa1"


def test_reference_is_the_customer_po() -> None:
    assert prepare(invoice(line(), po_number="PO-55")).document.reference == "Your: PO-55"
    assert prepare(invoice(line())).document.reference == ""
