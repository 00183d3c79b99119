"""QboLedger.update_document against the QuickBooks simulator: a full update, read first.

The invoice is read for its SyncToken, compared, and written in full with `Id` and that token;
a token gone stale meanwhile (5010) is read again and tried once more. An invoice with a payment
applied is refused with what to do in QuickBooks, and a lost answer is settled by reading the
invoice back, never by writing again.
"""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import ErrorKind, PostableDocument, PostableLine
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.qbo.client import QboClient
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Fault, Simulator
from tests.connectors.qbo.conftest import Clocks
from tests.connectors.qbo.test_sim import CA_REALM, SIM_API, Company, SimTokens

ATTEMPTS = 3


@pytest.fixture
def sim() -> Iterator[Simulator]:
    made = Simulator()
    yield made
    clock.set_now(None)


@pytest.fixture
def ledger(sim: Simulator) -> Iterator[QboLedger]:
    clocks = Clocks(sim)
    transport = InProcessTransport(build_app(sim))
    client = QboClient(
        api_url=SIM_API,
        realm_id=CA_REALM,
        tokens=SimTokens(sim, CA_REALM),
        transport=transport,
        sleep=clocks.sleep,
        retry=RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.5),
    )
    yield QboLedger(client)
    client.close()
    transport.close()


@pytest.fixture
def company(ledger: QboLedger) -> Company:
    return Company(ledger, customers=1)


def post(ledger: QboLedger, document: PostableDocument) -> str:
    (result,) = ledger.post_documents([document])
    assert result.document is not None, result.error
    return result.document.ledger_id


def corrected(company: Company, document: PostableDocument) -> PostableDocument:
    """The same invoice edited in the PSA: a second line, so a new total."""
    amount = Decimal("180.00")
    rate = company.tax.rate if company.tax and company.tax.rate is not None else Decimal(0)
    tax = (amount * rate / 100).quantize(Decimal("0.01"))
    extra = replace(
        document.lines[0],
        description="After-hours call-out",
        quantity=Decimal("1.5"),
        unit_price=Decimal("120.00"),
        line_amount=amount,
        tax_amount=tax,
    )
    lines: tuple[PostableLine, ...] = (*document.lines, extra)
    key = document.key.rsplit(":v", 1)[0] + ":v2"
    return replace(document, key=key, lines=lines, total=document.total + amount + tax)


def stored(sim: Simulator) -> list[dict[str, Any]]:
    return [
        row
        for row in sim.system("qbo").collection("Invoice").values()
        if str(row.get("realmId")) == CA_REALM
    ]


def invoice_writes(sim: Simulator) -> int:
    return sum(
        1
        for r in sim.requests
        if r.system == "qbo" and r.method == "POST" and r.path.endswith("/invoice")
    )


def test_an_invoice_is_updated_in_full_with_the_token_just_read(
    ledger: QboLedger, sim: Simulator, company: Company
) -> None:
    original = company.invoice(7)
    invoice_id = post(ledger, original)
    change = corrected(company, original)

    result = ledger.update_document(invoice_id, change)

    assert result.outcome == "created" and result.document is not None
    assert (result.document.ledger_id, result.document.total) == (invoice_id, change.total)
    (row,) = stored(sim)
    assert (row["Id"], row["SyncToken"], Decimal(row["TotalAmt"])) == (
        invoice_id,
        "1",
        change.total,
    )
    sales = [x for x in row["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert [x["Description"] for x in sales] == [
        original.lines[0].description,
        "After-hours call-out",
    ]
    assert invoice_writes(sim) == 1


def test_an_invoice_already_holding_the_change_is_not_written(
    ledger: QboLedger, sim: Simulator, company: Company
) -> None:
    original = company.invoice(7)
    invoice_id = post(ledger, original)
    change = corrected(company, original)
    ledger.update_document(invoice_id, change)

    again = ledger.update_document(invoice_id, replace(change, attempt=2))

    assert again.outcome == "already_existed" and again.document is not None
    assert again.document.total == change.total
    assert invoice_writes(sim) == 1
    assert stored(sim)[0]["SyncToken"] == "1"


def test_a_token_gone_stale_is_read_again_and_tried_once_more(
    ledger: QboLedger, sim: Simulator, company: Company
) -> None:
    original = company.invoice(7)
    invoice_id = post(ledger, original)
    read = ledger.client.read
    reads = 0

    def someone_edits_after_our_read(entity: str, record_id: str) -> dict[str, Any] | None:
        nonlocal reads
        found = read(entity, record_id)
        reads += 1
        if reads == 1 and found is not None:
            # A bookkeeper saves the invoice in QuickBooks between our read and our write.
            ledger.client.update(
                "Invoice",
                {"Id": record_id, "SyncToken": found["SyncToken"], "CustomerMemo": {"value": "Hi"}},
                request_key="bookkeeper-edit",
            )
        return found

    ledger.client.read = someone_edits_after_our_read  # type: ignore[method-assign]
    change = corrected(company, original)

    result = ledger.update_document(invoice_id, change)

    assert result.ok, result.error
    assert reads == 2
    answers = [r.status for r in sim.requests if r.method == "POST" and r.path.endswith("/invoice")]
    assert answers == [200, 400, 200]  # the bookkeeper, our stale write (5010), the fresh one
    (row,) = stored(sim)
    assert (row["SyncToken"], Decimal(row["TotalAmt"])) == ("2", change.total)


def test_an_invoice_with_a_payment_is_refused_with_the_instruction(
    ledger: QboLedger, sim: Simulator, company: Company
) -> None:
    original = company.invoice(7)
    invoice_id = post(ledger, original)
    ledger.client.create(
        "Payment",
        {
            "CustomerRef": {"value": original.customer_ledger_id},
            "TotalAmt": Decimal("50.00"),
            "TxnDate": "2026-11-01",
            "Line": [
                {
                    "Amount": Decimal("50.00"),
                    "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
                }
            ],
        },
        request_key="customer-payment",
    )
    writes = invoice_writes(sim)

    result = ledger.update_document(invoice_id, corrected(company, original))

    assert result.error is not None and result.error.kind == ErrorKind.VALIDATION
    assert "INV-00007 has 50.00 applied to it (payment " in result.error.message
    assert "Remove the payment from the invoice in QuickBooks first" in result.error.hint
    assert invoice_writes(sim) == writes
    assert Decimal(stored(sim)[0]["TotalAmt"]) == original.total


def test_a_lost_answer_is_settled_by_reading_the_invoice_back(
    ledger: QboLedger, sim: Simulator, company: Company
) -> None:
    original = company.invoice(7)
    invoice_id = post(ledger, original)
    sim.add_fault(
        Fault(system="qbo", method="POST", path="/invoice$", drop_after_commit=True, times=ATTEMPTS)
    )
    change = corrected(company, original)

    result = ledger.update_document(invoice_id, change)

    assert sim.faults[0].hits == ATTEMPTS  # every answer lost: the client called it uncertain
    assert result.outcome == "created" and result.document is not None
    assert result.document.total == change.total
    (row,) = stored(sim)
    # The requestid made each repeat a replay: QuickBooks changed the invoice once.
    assert (row["SyncToken"], Decimal(row["TotalAmt"])) == ("1", change.total)


def test_an_invoice_quickbooks_no_longer_has_says_so(ledger: QboLedger, company: Company) -> None:
    result = ledger.update_document("999999", company.invoice(7))
    assert result.error is not None
    assert "no longer has invoice INV-00007" in result.error.message
    assert "'Mark posted'" in result.error.hint
