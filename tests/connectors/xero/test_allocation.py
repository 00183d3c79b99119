"""Credit notes allocated to their invoices in Xero (the issue's acceptance 5: credit memo →
credit note + allocation), against the simulator.

A posted credit note that names its invoice is allocated with the smaller of its credit and the
invoice's amount due. What Xero will not allocate (a draft, a paid invoice, another contact's
invoice) leaves the credit note posted with a warning for the admin; a retried post never
allocates twice.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import (
    Customer,
    InvoiceKind,
    PostableDocument,
    PostableLine,
    PostResult,
)
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge_sim.state import Fault, Simulator

ACME = Customer(psa_id="250", name="Acme Dental", identifier="AcmeDental")
BRIGHT = Customer(psa_id="251", name="Bright Smiles", identifier="BrightSmiles")
BANK = "090"  # the simulated organisation's business bank account
ALLOCATIONS = "/Allocations"


def document(
    kind: InvoiceKind, number: str, contact_id: str, net: str, **changes: Any
) -> PostableDocument:
    amount = Decimal(net)
    tax = (amount / 10).quantize(Decimal("0.01"))  # AU GST, 10 %
    fields: dict[str, Any] = {
        "key": f"co1:{kind.value}:{number}:v1",
        "kind": kind,
        "psa_id": number,
        "number": number,
        "customer_ledger_id": contact_id,
        "issued_on": date(2026, 10, 30),
        "due_on": date(2026, 11, 29),
        "currency": "AUD",
        "lines": (
            PostableLine(
                description="Managed services",
                quantity=Decimal(1),
                unit_price=amount,
                line_amount=amount,
                account_code="200",
                tax_code="OUTPUT",
                tax_amount=tax,
            ),
        ),
        "total": amount + tax,
    }
    fields.update(changes)
    return PostableDocument(**fields)


def post(ledger: XeroLedger, posted: PostableDocument) -> PostResult:
    (result,) = ledger.post_documents([posted])
    assert result.document is not None, result.error
    return result


def stored(sim: Simulator, collection: str, record_id: str) -> dict[str, Any]:
    """The simulator's own record, read past the adapter so it cannot hide a mistake."""
    id_field = "InvoiceID" if collection == "Invoices" else "CreditNoteID"
    rows = sim.system("xero").collection(collection).values()
    return next(row for row in rows if row.get(id_field) == record_id)


def allocation_calls(sim: Simulator) -> int:
    return sum(
        count
        for call, count in sim.request_counts("xero").items()
        if call.startswith("PUT ") and call.endswith(ALLOCATIONS)
    )


@pytest.fixture
def acme(sim_ledger: XeroLedger) -> str:
    return sim_ledger.ensure_customer(ACME).ledger_id


@pytest.fixture
def invoice_id(sim_ledger: XeroLedger, acme: str) -> str:
    result = post(sim_ledger, document(InvoiceKind.INVOICE, "INV-1042", acme, "100.00"))
    assert result.document is not None
    return result.document.ledger_id


def credit_note(contact_id: str, invoice_id: str, net: str, **changes: Any) -> PostableDocument:
    return document(
        InvoiceKind.CREDIT_NOTE,
        "CN-1042",
        contact_id,
        net,
        applies_to_ledger_id=invoice_id,
        **changes,
    )


def test_a_credit_note_is_allocated_to_its_invoice(
    sim_ledger: XeroLedger, sim: Simulator, acme: str, invoice_id: str
) -> None:
    result = post(sim_ledger, credit_note(acme, invoice_id, "30.00"))

    assert result.warnings == ()
    assert result.document is not None and result.document.balance == Decimal(0)
    credit = stored(sim, "CreditNotes", result.document.ledger_id)
    assert [(a["Invoice"]["InvoiceID"], Decimal(a["Amount"])) for a in credit["Allocations"]] == [
        (invoice_id, Decimal("33.00"))
    ]
    assert Decimal(stored(sim, "Invoices", invoice_id)["AmountDue"]) == Decimal("77.00")
    assert allocation_calls(sim) == 1


def test_a_credit_larger_than_the_amount_due_allocates_what_is_due_and_says_so(
    sim_ledger: XeroLedger, sim: Simulator, acme: str, invoice_id: str
) -> None:
    result = post(sim_ledger, credit_note(acme, invoice_id, "150.00"))

    assert result.document is not None and result.document.balance == Decimal("55.00")
    assert stored(sim, "Invoices", invoice_id)["Status"] == "PAID"
    (warning,) = result.warnings
    assert "110.00" in warning and "55.00" in warning and "stays as credit" in warning


def test_a_paid_invoice_leaves_the_credit_note_posted_with_a_warning(
    sim_ledger: XeroLedger, sim: Simulator, acme: str, invoice_id: str
) -> None:
    sim_ledger.client.put_one(
        "Payments",
        {
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": BANK},
            "Date": "2026-11-05",
            "Amount": Decimal("110.00"),
        },
    )

    result = post(sim_ledger, credit_note(acme, invoice_id, "30.00"))

    assert result.ok and result.outcome == "created"
    (warning,) = result.warnings
    assert "CN-1042" in warning and "INV-1042" in warning and "already paid" in warning
    assert allocation_calls(sim) == 0
    assert result.document is not None
    assert stored(sim, "CreditNotes", result.document.ledger_id)["Allocations"] == []


def test_a_draft_credit_note_is_not_allocated_and_the_admin_is_told_why(
    sim_ledger: XeroLedger, sim: Simulator, acme: str, invoice_id: str
) -> None:
    result = post(sim_ledger, credit_note(acme, invoice_id, "30.00", approve=False))

    (warning,) = result.warnings
    assert "draft" in warning and "Approve it in Xero" in warning
    assert allocation_calls(sim) == 0
    assert Decimal(stored(sim, "Invoices", invoice_id)["AmountDue"]) == Decimal("110.00")


def test_xeros_refusal_is_a_warning_not_a_failure(
    sim_ledger: XeroLedger, sim: Simulator, invoice_id: str
) -> None:
    # A credit note for another contact than the invoice's: Xero will not allocate across.
    bright = sim_ledger.ensure_customer(BRIGHT).ledger_id

    result = post(sim_ledger, credit_note(bright, invoice_id, "30.00"))

    assert result.ok
    (warning,) = result.warnings
    assert "same contact" in warning and "Allocate it by hand" in warning
    assert allocation_calls(sim) == 1
    assert Decimal(stored(sim, "Invoices", invoice_id)["AmountDue"]) == Decimal("110.00")


def test_a_credit_note_posted_again_is_not_allocated_twice(
    sim_ledger: XeroLedger, sim: Simulator, acme: str, invoice_id: str
) -> None:
    first = credit_note(acme, invoice_id, "30.00")
    post(sim_ledger, first)

    again = post(sim_ledger, replace(first, attempt=2))  # a retry after a lost answer, say

    assert again.outcome == "already_existed" and again.warnings == ()
    assert allocation_calls(sim) == 1
    assert Decimal(stored(sim, "Invoices", invoice_id)["AmountDue"]) == Decimal("77.00")


def test_a_lost_allocation_answer_is_read_back_not_sent_again(
    sim_ledger: XeroLedger, sim: Simulator, acme: str, invoice_id: str
) -> None:
    sim.add_fault(
        Fault(system="xero", method="PUT", path=r"Allocations$", drop_after_commit=True, times=1)
    )

    result = post(sim_ledger, credit_note(acme, invoice_id, "30.00"))

    assert sim.faults[0].hits == 1
    assert result.warnings == ()
    assert allocation_calls(sim) == 1
    assert result.document is not None
    assert len(stored(sim, "CreditNotes", result.document.ledger_id)["Allocations"]) == 1
    assert Decimal(stored(sim, "Invoices", invoice_id)["AmountDue"]) == Decimal("77.00")


def test_credit_notes_without_an_invoice_cost_no_extra_calls(
    sim_ledger: XeroLedger, sim: Simulator, acme: str, invoice_id: str
) -> None:
    before = sum(sim.request_counts("xero").values())

    result = post(sim_ledger, credit_note(acme, "", "30.00"))

    assert result.warnings == ()
    assert sum(sim.request_counts("xero").values()) - before == 1  # the PUT CreditNotes alone
