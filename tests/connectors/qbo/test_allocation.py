"""Credit memos applied to their invoices in QuickBooks (the issue's acceptance 5: credit memo
→ credit memo + allocation), against the simulator's Canadian company.

QuickBooks applies credit through a Payment of TotalAmt 0 whose lines link the Invoice and the
CreditMemo. The adapter makes one for a credit memo that names its invoice; what QuickBooks
will not do is a warning on the posted credit memo, and a retry never applies it twice. Such a
payment moves no money, so the payment sync does not report it.
"""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import InvoiceKind, PostableDocument, PostResult
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.qbo import records
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.qbo.client import QboClient
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Fault, Simulator
from tests.connectors.qbo.conftest import Clocks
from tests.connectors.qbo.test_sim import CA_REALM, SIM_API, Company, SimTokens


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
        retry=RetryPolicy(max_attempts=3, base_delay=0.5),
    )
    yield QboLedger(client)
    client.close()
    transport.close()


@pytest.fixture
def company(ledger: QboLedger) -> Company:
    return Company(ledger, customers=2)


def post(ledger: QboLedger, document: PostableDocument) -> PostResult:
    (result,) = ledger.post_documents([document])
    assert result.document is not None, result.error
    return result


def stored(sim: Simulator, entity: str, record_id: str) -> dict[str, Any]:
    """The simulator's own record, read past the adapter so it cannot hide a mistake."""
    rows = sim.system("qbo").collection(entity).values()
    return next(
        row for row in rows if str(row.get("realmId")) == CA_REALM and row["Id"] == record_id
    )


def payments(sim: Simulator) -> list[dict[str, Any]]:
    return [
        row
        for row in sim.system("qbo").collection("Payment").values()
        if str(row.get("realmId")) == CA_REALM
    ]


def payment_writes(sim: Simulator) -> int:
    return sum(
        1
        for r in sim.requests
        if r.system == "qbo" and r.method == "POST" and r.path.endswith("/payment")
    )


@pytest.fixture
def invoice(ledger: QboLedger, company: Company) -> tuple[PostableDocument, str]:
    document = company.invoice(0)  # 100.25 + 13 % HST ON
    result = post(ledger, document)
    assert result.document is not None
    return document, result.document.ledger_id


def credit_memo(
    company: Company, invoice_id: str, net: str, customer: int = 0, **changes: Any
) -> PostableDocument:
    """A credit memo of `net` (plus HST) for the first customer's invoice."""
    base = company.invoice(100)
    amount = Decimal(net)
    tax = (amount * Decimal("0.13")).quantize(Decimal("0.01"))
    line = replace(base.lines[0], unit_price=amount, line_amount=amount, tax_amount=tax)
    return replace(
        base,
        key="co1:credit_note:CM-1:v1",
        kind=InvoiceKind.CREDIT_NOTE,
        psa_id="CM-1",
        number="CM-1",
        customer_ledger_id=company.customers[customer],
        lines=(line,),
        total=amount + tax,
        applies_to_ledger_id=invoice_id,
        **changes,
    )


def test_a_credit_memo_is_applied_to_its_invoice_by_a_payment_of_zero(
    ledger: QboLedger, sim: Simulator, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    original, invoice_id = invoice

    result = post(ledger, credit_memo(company, invoice_id, "30.00"))

    assert result.warnings == ()
    assert result.document is not None and result.document.balance == Decimal(0)
    (payment,) = payments(sim)
    assert Decimal(payment["TotalAmt"]) == 0
    links = {
        (line["LinkedTxn"][0]["TxnType"], line["LinkedTxn"][0]["TxnId"]): Decimal(line["Amount"])
        for line in payment["Line"]
    }
    assert links == {
        ("Invoice", invoice_id): Decimal("33.90"),
        ("CreditMemo", result.document.ledger_id): Decimal("33.90"),
    }
    assert Decimal(stored(sim, "Invoice", invoice_id)["Balance"]) == original.total - Decimal(
        "33.90"
    )
    assert Decimal(stored(sim, "CreditMemo", result.document.ledger_id)["RemainingCredit"]) == 0


def test_applied_credit_is_not_reported_as_money_received(
    ledger: QboLedger, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    _original, invoice_id = invoice
    post(ledger, credit_memo(company, invoice_id, "30.00"))

    assert list(ledger.payments_since(None)) == []


def test_a_credit_larger_than_the_balance_applies_what_is_open_and_says_so(
    ledger: QboLedger, sim: Simulator, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    original, invoice_id = invoice

    result = post(ledger, credit_memo(company, invoice_id, "150.00"))  # 169.50 of credit

    left = Decimal("169.50") - original.total
    assert result.document is not None and result.document.balance == left
    assert Decimal(stored(sim, "Invoice", invoice_id)["Balance"]) == 0
    (warning,) = result.warnings
    assert str(original.total) in warning and str(left) in warning


def test_a_paid_invoice_leaves_the_credit_memo_posted_with_a_warning(
    ledger: QboLedger, sim: Simulator, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    original, invoice_id = invoice
    ledger.client.create(
        "Payment",
        {
            "CustomerRef": {"value": company.customers[0]},
            "TotalAmt": original.total,
            "Line": [
                {
                    "Amount": original.total,
                    "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
                }
            ],
        },
        request_key="paid-by-the-client",
    )

    result = post(ledger, credit_memo(company, invoice_id, "30.00"))

    assert result.ok and result.outcome == "created"
    (warning,) = result.warnings
    assert "CM-1" in warning and original.number in warning and "already paid" in warning
    assert payment_writes(sim) == 1  # the client's payment only


def test_quickbooks_refusal_is_a_warning_not_a_failure(
    ledger: QboLedger, sim: Simulator, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    _original, invoice_id = invoice

    # The credit memo is for the other customer: QuickBooks applies credit within one customer.
    result = post(ledger, credit_memo(company, invoice_id, "30.00", customer=1))

    assert result.ok
    (warning,) = result.warnings
    assert "another QuickBooks customer" in warning
    assert payments(sim) == []


def test_a_credit_memo_posted_again_is_not_applied_twice(
    ledger: QboLedger, sim: Simulator, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    original, invoice_id = invoice
    first = credit_memo(company, invoice_id, "30.00")
    post(ledger, first)

    again = post(ledger, replace(first, attempt=2))  # QuickBooks: the number is taken

    assert again.outcome == "already_existed" and again.warnings == ()
    assert len(payments(sim)) == 1 and payment_writes(sim) == 1
    assert Decimal(stored(sim, "Invoice", invoice_id)["Balance"]) == original.total - Decimal(
        "33.90"
    )


def test_a_lost_answer_never_applies_the_credit_twice(
    ledger: QboLedger, sim: Simulator, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    original, invoice_id = invoice
    sim.add_fault(
        Fault(system="qbo", method="POST", path=r"/payment$", drop_after_commit=True, times=1)
    )

    result = post(ledger, credit_memo(company, invoice_id, "30.00"))

    assert sim.faults[0].hits == 1
    assert result.warnings == ()
    # Sent again under the same requestid, QuickBooks answers with the payment it made.
    assert len(payments(sim)) == 1
    assert Decimal(stored(sim, "Invoice", invoice_id)["Balance"]) == original.total - Decimal(
        "33.90"
    )


def test_when_every_try_fails_the_payments_are_read_before_it_is_sent_again(
    ledger: QboLedger, sim: Simulator, company: Company, invoice: tuple[PostableDocument, str]
) -> None:
    original, invoice_id = invoice
    # QuickBooks down for all three tries of the first send: whether it landed is unknown.
    sim.add_fault(Fault(system="qbo", method="POST", path=r"/payment$", status=503, times=3))

    result = post(ledger, credit_memo(company, invoice_id, "30.00"))

    assert result.warnings == ()
    assert len(payments(sim)) == 1 and payment_writes(sim) == 4
    assert Decimal(stored(sim, "Invoice", invoice_id)["Balance"]) == original.total - Decimal(
        "33.90"
    )
    calls = [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in sim.requests]
    fourth = calls.index(("POST", "payment", 200))
    # Between the failed tries and the fourth send, QuickBooks was asked what it holds.
    assert ("GET", "query", 200) in calls[calls.index(("POST", "payment", 503)) : fourth]


def test_a_payment_mixing_money_and_credit_reports_only_the_money() -> None:
    # A bookkeeper's payment in QuickBooks: 50.00 received, 30.00 of credit, 80.00 settled.
    payment = {
        "Id": "77",
        "TxnDate": "2026-11-20",
        "TotalAmt": Decimal("50.00"),
        "Line": [
            {"Amount": Decimal("80.00"), "LinkedTxn": [{"TxnId": "1304", "TxnType": "Invoice"}]},
            {"Amount": Decimal("30.00"), "LinkedTxn": [{"TxnId": "12", "TxnType": "CreditMemo"}]},
        ],
    }

    (received,) = records.payments(payment)

    assert (received.document_ledger_id, received.amount) == ("1304", Decimal("50.00"))
    assert records.credit_applications(payment) == {("12", "1304")}
