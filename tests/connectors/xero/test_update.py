"""XeroLedger.update_document against the Xero simulator: the same document, changed in place.

Xero lets a DRAFT, SUBMITTED or AUTHORISED invoice change while nothing is paid or credited on
it; the adapter reads it first, refuses a paid or voided one with what to do in Xero, and never
writes blind: a document already holding the change, or one whose answer was lost, is read back
and compared.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import (
    Customer,
    ErrorKind,
    InvoiceKind,
    PostableDocument,
    PostableLine,
)
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge_sim.state import Fault, Simulator

ACME = Customer(psa_id="250", name="Acme Dental", identifier="AcmeDental")
BANK = "090"  # the simulated organisation's business bank account


def line(description: str, quantity: str, unit_price: str) -> PostableLine:
    amount = (Decimal(quantity) * Decimal(unit_price)).quantize(Decimal("0.01"))
    return PostableLine(
        description=description,
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
        line_amount=amount,
        account_code="200",
        tax_code="OUTPUT",
        tax_amount=(amount / 10).quantize(Decimal("0.01")),  # AU GST, 10 %
    )


def invoice(
    contact_id: str, *lines: PostableLine, version: int = 1, **changes: Any
) -> PostableDocument:
    lines = lines or (line("Managed services", "2", "50.00"),)
    total = sum((x.line_amount + (x.tax_amount or 0) for x in lines), Decimal(0))
    fields: dict[str, Any] = {
        "key": f"co1:invoice:1042:v{version}",
        "kind": InvoiceKind.INVOICE,
        "psa_id": "1042",
        "number": "INV-1042",
        "customer_ledger_id": contact_id,
        "issued_on": date(2026, 10, 30),
        "due_on": date(2026, 11, 29),
        "currency": "AUD",
        "lines": lines,
        "total": total,
    }
    fields.update(changes)
    return PostableDocument(**fields)


def corrected(document: PostableDocument) -> PostableDocument:
    """The same invoice edited in the PSA: a line more, so a new total."""
    lines = (*document.lines, line("After-hours call-out", "1.5", "120.00"))
    total = sum((x.line_amount + (x.tax_amount or 0) for x in lines), Decimal(0))
    key = document.key.rsplit(":v", 1)[0] + ":v2"
    return replace(document, key=key, lines=lines, total=total)


def stored(sim: Simulator, document_id: str, collection: str = "Invoices") -> dict[str, Any]:
    """The simulator's own record (read past the adapter, so it cannot hide a mistake)."""
    id_field = "InvoiceID" if collection == "Invoices" else "CreditNoteID"
    rows = sim.system("xero").collection(collection).values()
    return next(row for row in rows if row.get(id_field) == document_id)


def writes_to(sim: Simulator, invoice_id: str) -> int:
    return sim.request_counts("xero").get(f"POST /xero/api.xro/2.0/Invoices/{invoice_id}", 0)


@pytest.fixture
def posted(sim_ledger: XeroLedger) -> PostableDocument:
    contact = sim_ledger.ensure_customer(ACME).ledger_id
    return invoice(contact)


def post(ledger: XeroLedger, document: PostableDocument) -> str:
    (result,) = ledger.post_documents([document])
    assert result.document is not None, result.error
    return result.document.ledger_id


def test_an_authorised_invoice_is_updated_in_place(
    sim_ledger: XeroLedger, sim: Simulator, posted: PostableDocument
) -> None:
    invoice_id = post(sim_ledger, posted)
    change = corrected(posted)

    result = sim_ledger.update_document(invoice_id, change)

    assert result.outcome == "created" and result.document is not None
    assert (result.document.ledger_id, result.document.total) == (invoice_id, Decimal("308.00"))
    row = stored(sim, invoice_id)
    assert (row["Status"], Decimal(row["Total"])) == ("AUTHORISED", Decimal("308.00"))
    assert [x["Description"] for x in row["LineItems"]] == [
        "Managed services",
        "After-hours call-out",
    ]
    invoices = [r for r in sim.system("xero").collection("Invoices").values() if r.get("Type")]
    assert len(invoices) == 1  # the same document, not a second one
    assert writes_to(sim, invoice_id) == 1


def test_a_document_already_holding_the_change_is_not_written_again(
    sim_ledger: XeroLedger, sim: Simulator, posted: PostableDocument
) -> None:
    invoice_id = post(sim_ledger, posted)
    change = corrected(posted)
    sim_ledger.update_document(invoice_id, change)

    again = sim_ledger.update_document(invoice_id, replace(change, attempt=2))

    assert again.outcome == "already_existed" and again.document is not None
    assert again.document.total == Decimal("308.00")
    assert writes_to(sim, invoice_id) == 1


def test_a_lost_answer_is_read_back_and_compared_never_sent_blind(
    sim_ledger: XeroLedger, sim: Simulator, posted: PostableDocument
) -> None:
    invoice_id = post(sim_ledger, posted)
    sim.add_fault(
        Fault(system="xero", method="POST", path="Invoices/", drop_after_commit=True, times=1)
    )

    result = sim_ledger.update_document(invoice_id, corrected(posted))

    assert sim.faults[0].hits == 1
    assert result.ok and result.document is not None
    assert result.document.total == Decimal("308.00")
    assert writes_to(sim, invoice_id) == 1  # the dropped one landed; nothing was re-sent
    assert Decimal(stored(sim, invoice_id)["Total"]) == Decimal("308.00")


def test_a_paid_invoice_is_refused_with_the_instruction(
    sim_ledger: XeroLedger, sim: Simulator, posted: PostableDocument
) -> None:
    invoice_id = post(sim_ledger, posted)
    sim_ledger.client.put_one(
        "Payments",
        {
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": BANK},
            "Date": "2026-11-05",
            "Amount": Decimal("40.00"),
        },
    )

    result = sim_ledger.update_document(invoice_id, corrected(posted))

    assert result.error is not None and result.error.kind == ErrorKind.VALIDATION
    assert "INV-1042 has 40.00 applied" in result.error.message
    assert "Remove the payment in Xero first" in result.error.hint
    assert "void the invoice in Xero" in result.error.hint
    assert writes_to(sim, invoice_id) == 0
    assert Decimal(stored(sim, invoice_id)["Total"]) == Decimal("110.00")


def test_a_voided_invoice_cannot_change(
    sim_ledger: XeroLedger, sim: Simulator, posted: PostableDocument
) -> None:
    invoice_id = post(sim_ledger, posted)
    sim_ledger.client.request(
        "POST",
        f"Invoices/{invoice_id}",
        json={"Invoices": [{"InvoiceID": invoice_id, "Status": "VOIDED"}]},
    )

    result = sim_ledger.update_document(invoice_id, corrected(posted))

    assert result.error is not None
    assert (
        result.error.message == "Xero invoice INV-1042 is voided, so Xero will not let it change."
    )
    assert "'Mark posted'" in result.error.hint
    assert stored(sim, invoice_id)["Status"] == "VOIDED"


def test_a_draft_is_updated_and_approved_and_an_approved_one_stays_approved(
    sim_ledger: XeroLedger, sim: Simulator, posted: PostableDocument
) -> None:
    invoice_id = post(sim_ledger, replace(posted, approve=False))
    assert stored(sim, invoice_id)["Status"] == "DRAFT"
    assert sim_ledger.update_document(invoice_id, corrected(posted)).ok
    assert stored(sim, invoice_id)["Status"] == "AUTHORISED"

    # An admin who posts as draft still never sends an approved invoice back to draft.
    shorter = replace(posted, key="co1:invoice:1042:v3", approve=False)
    assert sim_ledger.update_document(invoice_id, shorter).ok
    assert stored(sim, invoice_id)["Status"] == "AUTHORISED"
    assert Decimal(stored(sim, invoice_id)["Total"]) == Decimal("110.00")


def test_a_credit_note_is_updated_through_its_own_endpoint(
    sim_ledger: XeroLedger, sim: Simulator, posted: PostableDocument
) -> None:
    credit = replace(posted, kind=InvoiceKind.CREDIT_NOTE, number="CN-77", due_on=None)
    (made,) = sim_ledger.post_documents([credit])
    assert made.document is not None
    credit_id = made.document.ledger_id

    result = sim_ledger.update_document(credit_id, corrected(credit))

    assert result.document is not None and result.document.total == Decimal("308.00")
    row = stored(sim, credit_id, "CreditNotes")
    assert Decimal(row["Total"]) == Decimal("308.00")
    assert sim.request_counts("xero").get(f"POST /xero/api.xro/2.0/CreditNotes/{credit_id}") == 1
