"""The PSA's tax stated per rate outside the US, combined codes included (GST + PST BC).

QuickBooks works tax out per rate on the document's summed base; the PSA rounds per line. So
QuickBooks' own figure can differ by cents, and the ledger total would not match the PSA's. The
adapter states the PSA's tax as one TaxLine per rate; a combined code's tax is split over its
rates in proportion to them, to the cent, and QuickBooks keeps the figures stated.
"""

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import (
    InvoiceKind,
    LedgerTaxRate,
    PostableDocument,
    PostableLine,
)
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.qbo import records
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.qbo.client import QboClient
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator
from tests.connectors.qbo.conftest import Clocks
from tests.connectors.qbo.test_sim import CA_REALM, SIM_API, Company, SimTokens

CENT = Decimal("0.01")


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
    return Company(ledger, customers=1)


@pytest.fixture
def codes(ledger: QboLedger) -> dict[str, LedgerTaxRate]:
    return {code.name: code for code in ledger.list_tax_rates()}


def psa_line(company: Company, code: LedgerTaxRate, net: str, n: int = 1) -> PostableLine:
    """A line taxed the PSA's way: its code's whole percentage, rounded on this line alone."""
    amount = Decimal(net)
    rate = code.rate or Decimal(0)
    return PostableLine(
        description=f"Support block {n}",
        quantity=Decimal(1),
        unit_price=amount,
        line_amount=amount,
        item_code=company.item,
        tax_code=code.ledger_id,
        tax_amount=(amount * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP),
    )


def invoice(company: Company, *lines: PostableLine, number: str = "INV-7001") -> PostableDocument:
    total = sum((line.line_amount + (line.tax_amount or 0) for line in lines), Decimal(0))
    return PostableDocument(
        key=f"co1:invoice:{number}:v1",
        kind=InvoiceKind.INVOICE,
        psa_id=number,
        number=number,
        customer_ledger_id=company.customers[0],
        issued_on=date(2026, 10, 15),
        due_on=date(2026, 11, 14),
        currency="CAD",
        lines=lines,
        total=total,
    )


def stored(sim: Simulator, invoice_id: str) -> dict[str, Any]:
    rows = sim.system("qbo").collection("Invoice").values()
    return next(r for r in rows if str(r.get("realmId")) == CA_REALM and r["Id"] == invoice_id)


def tax_by_rate(sim: Simulator, invoice_id: str) -> dict[str, Decimal]:
    """What QuickBooks holds per rate, by the rate's name."""
    rates = {
        row["Id"]: row["Name"]
        for row in sim.system("qbo").collection("TaxRate").values()
        if str(row.get("realmId")) == CA_REALM
    }
    held = stored(sim, invoice_id)["TxnTaxDetail"]["TaxLine"]
    return {
        rates[line["TaxLineDetail"]["TaxRateRef"]["value"]]: Decimal(line["Amount"])
        for line in held
    }


def post(ledger: QboLedger, document: PostableDocument) -> str:
    (result,) = ledger.post_documents([document])
    assert result.document is not None, result.error
    assert result.document.total == document.total  # QuickBooks' total is the PSA's
    return result.document.ledger_id


def test_a_combined_code_keeps_the_psas_tax_split_over_its_rates(
    ledger: QboLedger, sim: Simulator, company: Company, codes: dict[str, LedgerTaxRate]
) -> None:
    bc = codes["GST/PST BC"]
    # Ten lines of 0.29: 12 % is 0.0348, so the PSA charges 0.03 a line, 0.30 in all, where
    # QuickBooks would charge 5 % and 7 % of 2.90 (0.15 + 0.20 = 0.35).
    lines = [psa_line(company, bc, "0.29", n) for n in range(10)]
    document = invoice(company, *lines)
    assert document.total == Decimal("3.20")

    invoice_id = post(ledger, document)

    # 0.30 in the proportion 5 : 7 is 0.125 and 0.175; the cent left over after rounding down
    # goes to the earlier rate on a tie.
    assert tax_by_rate(sim, invoice_id) == {"GST": Decimal("0.13"), "PST BC": Decimal("0.17")}
    assert Decimal(stored(sim, invoice_id)["TotalAmt"]) == Decimal("3.20")


def test_a_rate_shared_by_two_codes_gets_one_line_with_both_shares(
    ledger: QboLedger, sim: Simulator, company: Company, codes: dict[str, LedgerTaxRate]
) -> None:
    lines = [
        psa_line(company, codes["GST"], "40.10", 1),  # 5 % → 2.005 → 2.01 (PSA, half up)
        psa_line(company, codes["GST/PST BC"], "100.05", 2),  # 12 % → 12.006 → 12.01
        psa_line(company, codes["HST ON"], "10.05", 3),  # 13 % → 1.3065 → 1.31
    ]
    document = invoice(company, *lines)

    invoice_id = post(ledger, document)

    # BC's 12.01 split 5 : 7 is 5.004 and 7.006 → 5.00 and 7.01 (the larger remainder);
    # GST holds its own 2.01 and BC's 5.00.
    assert tax_by_rate(sim, invoice_id) == {
        "GST": Decimal("7.01"),
        "PST BC": Decimal("7.01"),
        "HST ON": Decimal("1.31"),
    }
    held = stored(sim, invoice_id)
    assert Decimal(held["TxnTaxDetail"]["TotalTax"]) == Decimal("15.33")
    assert Decimal(held["TotalAmt"]) == document.total


def test_an_untaxed_line_out_of_scope_does_not_stop_the_others_being_stated(
    ledger: QboLedger, sim: Simulator, company: Company, codes: dict[str, LedgerTaxRate]
) -> None:
    hst = codes["HST ON"]
    lines = [
        *(psa_line(company, hst, "0.27", n) for n in range(10)),  # 0.0351 → 0.04 each
        psa_line(company, codes["Out of Scope"], "50.00", 11),
    ]
    document = invoice(company, *lines)

    invoice_id = post(ledger, document)

    # The PSA's 0.40 stands where QuickBooks would say 13 % of 2.70 = 0.35.
    assert tax_by_rate(sim, invoice_id) == {"HST ON": Decimal("0.40")}


def test_the_rates_are_read_once_per_adapter(
    ledger: QboLedger, sim: Simulator, company: Company, codes: dict[str, LedgerTaxRate]
) -> None:
    bc = codes["GST/PST BC"]
    first = invoice(company, psa_line(company, bc, "100.05"), number="INV-7001")
    second = replace(first, key="co1:invoice:INV-7002:v1", psa_id="INV-7002", number="INV-7002")
    before = len(sim.requests)

    post(ledger, first)
    post(ledger, second)

    answered = [r for r in sim.requests[before:] if r.status == 200]  # not the 429s retried
    queries = [r for r in answered if r.path.endswith("/query")]
    batches = [r for r in answered if r.path.endswith("/batch")]
    assert len(batches) == 2
    assert len(queries) == 6  # accounts, tax codes, tax rates, items, classes, departments


# -- the split itself, where QuickBooks cannot be asked ------------------------------------


def lookups(**changes: Any) -> records.Lookups:
    fields: dict[str, Any] = {
        "item_ids": {},
        "tax_rate_ids": {"8": ("3", "4")},  # a combined code of two rates
        "tax_rate_values": {"3": Decimal("5"), "4": Decimal("7")},
    }
    fields.update(changes)
    return records.Lookups(**fields)


def bare_invoice(tax: str) -> PostableDocument:
    line = PostableLine(
        description="Support",
        quantity=Decimal(1),
        unit_price=Decimal("100.00"),
        line_amount=Decimal("100.00"),
        tax_code="8",
        tax_amount=Decimal(tax),
    )
    return PostableDocument(
        key="k",
        kind=InvoiceKind.INVOICE,
        psa_id="1",
        number="INV-1",
        customer_ledger_id="58",
        issued_on=date(2026, 10, 15),
        due_on=None,
        currency="CAD",
        lines=(line,),
        total=Decimal(100) + Decimal(tax),
    )


def test_the_split_adds_up_to_the_psas_tax_exactly() -> None:
    fields = records.document_fields(bare_invoice("12.01"), lookups())

    detail = fields["TxnTaxDetail"]
    amounts = {
        line["TaxLineDetail"]["TaxRateRef"]["value"]: line["Amount"] for line in detail["TaxLine"]
    }
    assert amounts == {"3": Decimal("5.00"), "4": Decimal("7.01")}
    assert sum(amounts.values()) == detail["TotalTax"] == Decimal("12.01")
    assert all(
        line["TaxLineDetail"]["NetAmountTaxable"] == Decimal("100.00") for line in detail["TaxLine"]
    )


def test_without_the_rates_percentages_quickbooks_works_the_tax_out() -> None:
    fields = records.document_fields(bare_invoice("12.01"), lookups(tax_rate_values={}))

    assert "TxnTaxDetail" not in fields
    assert fields["GlobalTaxCalculation"] == "TaxExcluded"
