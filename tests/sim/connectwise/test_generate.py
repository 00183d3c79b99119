"""Generated books: the same seed gives the same data, and every total adds up as CW adds."""

import time
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge_sim import jsonio
from ledgerbridge_sim.connectwise import accounting
from ledgerbridge_sim.connectwise.app import generate
from ledgerbridge_sim.state import Simulator

from .conftest import CwApi

CENT = Decimal("0.01")


@pytest.fixture
def books(sim: Simulator) -> dict[str, int]:
    return generate(sim, invoices=400, seed=5)


def collections(sim: Simulator) -> dict[str, Any]:
    return sim.system("connectwise").collections


def test_the_same_seed_gives_the_same_books() -> None:
    first, second, other = Simulator(), Simulator(), Simulator()
    generate(first, invoices=150, seed=9)
    generate(second, invoices=150, seed=9)
    generate(other, invoices=150, seed=10)
    assert jsonio.dumps(collections(first)) == jsonio.dumps(collections(second))
    assert jsonio.dumps(collections(first)) != jsonio.dumps(collections(other))


def test_generating_again_replaces_the_data(sim: Simulator) -> None:
    generate(sim, invoices=50, seed=1)
    counts = generate(sim, invoices=20, seed=1)
    assert counts["invoices"] == 20
    assert len(collections(sim)["invoices"]) == 20
    assert min(collections(sim)["invoices"]) == 1001


def is_money(value: Decimal) -> bool:
    return value == value.quantize(CENT)


def test_every_invoice_adds_up(sim: Simulator, books: dict[str, int]) -> None:
    state = sim.system("connectwise")
    data = collections(sim)
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for payment in data["payments"].values():
        paid[payment["invoice"]["id"]] += payment["amount"]
    for invoice in data["invoices"].values():
        lines = accounting.lines_of(state, invoice["id"])
        assert lines, invoice["id"]
        for line in lines:
            assert line["total"] == (line["quantity"] * line["price"]).quantize(
                CENT, rounding="ROUND_HALF_UP"
            )
        tax_code = data["taxCodes"][invoice["taxCode"]["id"]]
        levels = accounting.tax_levels(tax_code, lines)
        assert invoice["subtotal"] == sum(line["total"] for line in lines)
        assert invoice["salesTax"] == sum(level["taxAmount"] for level in levels)
        assert invoice["total"] == invoice["subtotal"] + invoice["salesTax"]
        assert invoice["payments"] == paid.get(invoice["id"], 0)
        assert invoice["balance"] == invoice["total"] - invoice["payments"] - invoice["credits"]
        for name in ("subtotal", "salesTax", "total", "payments", "balance"):
            assert is_money(invoice[name]), (invoice["id"], name)
        assert invoice["dueDate"] >= invoice["date"]
        if invoice["type"] == "CreditMemo":
            assert invoice["total"] < 0
            assert invoice["payments"] == 0
        else:
            assert invoice["total"] >= 0
        assert 0 <= invoice["payments"] <= max(invoice["total"], Decimal(0))


def test_the_books_hold_the_odd_but_real_cases(sim: Simulator, books: dict[str, int]) -> None:
    data = collections(sim)
    invoices = list(data["invoices"].values())
    kinds = Counter(invoice["type"] for invoice in invoices)
    assert {"Standard", "Agreement", "CreditMemo", "Miscellaneous"} <= set(kinds)
    assert any(invoice["payments"] == invoice["total"] > 0 for invoice in invoices)
    assert any(0 < invoice["payments"] < invoice["total"] for invoice in invoices)
    assert any(invoice["payments"] == 0 and invoice["total"] > 0 for invoice in invoices)
    assert any(invoice["salesTax"] > 0 for invoice in invoices)
    assert any(invoice["salesTax"] == 0 for invoice in invoices)  # exempt customers
    quantities = [line["quantity"] for line in data["invoiceLines"].values()]
    assert any(q.as_tuple().exponent == -7 for q in quantities)
    assert max(len(item["identifier"]) for item in data["catalog"].values()) > 60
    names = [company["name"] for company in data["companies"].values()]
    assert any('"' in name for name in names) and any("," in name for name in names)
    agreement = next(i for i in invoices if i["type"] == "Agreement")
    assert agreement["applyToType"] == "Agreement"
    assert agreement["agreementAmount"] == agreement["subtotal"]
    assert len({len(accounting.lines_of(sim.system("connectwise"), i["id"])) for i in invoices}) > 3


def test_unposted_lists_hold_the_closed_invoices(sim: Simulator, books: dict[str, int]) -> None:
    data = collections(sim)
    closed = {i["id"] for i in data["invoices"].values() if i["status"]["isClosed"]}
    assert set(data["unpostedInvoices"]) == closed
    assert 0 < len(closed) < len(data["invoices"])
    entries = data["glEntries"]
    for invoice_id in closed:
        for line in accounting.lines_of(sim.system("connectwise"), invoice_id):
            assert entries[line["id"]] == {
                "id": line["id"],
                "recordType": "invoice",
                "recordId": invoice_id,
            }
    for expense in data["unpostedExpenses"].values():
        assert entries[expense["id"]]["recordType"] == "expense"
        assert expense["total"] == expense["billableAmount"] + expense["nonBillableAmount"]


def test_purchase_orders_add_up(sim: Simulator, books: dict[str, int]) -> None:
    data = collections(sim)
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in data["purchaseOrderLineItems"].values():
        lines[line["purchaseOrderId"]].append(line)
    for po in data["purchaseOrders"].values():
        assert lines[po["id"]]
        assert po["subTotal"] == sum(
            (ln["quantity"] * ln["unitCost"]).quantize(CENT) for ln in lines[po["id"]]
        )
        assert po["total"] == po["subTotal"] + po["freightCost"]


def test_the_export_of_generated_books_balances(cw: CwApi, books: dict[str, int]) -> None:
    export = cw.post(
        "finance/accounting/export",
        {
            "batchIdentifier": "check",
            "exportInvoicesFlag": True,
            "exportExpensesFlag": True,
            "exportProductsFlag": True,
        },
    )
    body = jsonio.loads(export.content)
    assert (
        len(body["transactions"])
        == cw.get("finance/accounting/unpostedinvoices/count").json()["count"]
    )
    for transaction in body["transactions"]:
        lines = sum(detail["total"] for detail in transaction["detail"])
        assert transaction["total"] == lines + transaction["salesTax"]
        assert transaction["salesTax"] == sum(
            level["taxAmount"] for level in transaction["taxLevels"]
        )
        ids = [int(i) for i in transaction["glEntryIds"].split(",")]
        assert ids == [detail["id"] for detail in transaction["detail"]]


def test_the_control_api_generates_and_seeds(sim_http: httpx.Client, sim: Simulator) -> None:
    made = sim_http.post(
        "/_sim/seed", json={"generate": {"system": "connectwise", "invoices": 30, "seed": 2}}
    )
    assert made.status_code == 200
    assert made.json()["created"]["connectwise"]["invoices"] == 30
    seeded = sim_http.post(
        "/_sim/seed",
        json={
            "connectwise": {
                "invoices": [
                    {
                        "id": 5000,
                        "invoiceNumber": "X-1",
                        "subtotal": 10.1,
                        "salesTax": 0.83,
                        "status": {"isClosed": False},
                    }
                ]
            }
        },
    )
    assert seeded.json()["created"] == {"connectwise": {"invoices": 1}}
    invoice = collections(sim)["invoices"][5000]
    assert invoice["total"] == Decimal("10.93")  # floats from JSON became exact Decimals
    assert invoice["balance"] == Decimal("10.93")


def test_ten_thousand_invoices_generate_and_list_quickly(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    started = time.perf_counter()
    counts = generate(sim, invoices=10_000, seed=42)
    generated = time.perf_counter() - started
    assert counts["invoices"] == 10_000
    assert generated < 5, f"generating 10,000 invoices took {generated:.1f}s"
    cw = CwApi(sim_http)
    started = time.perf_counter()
    seen, page = 0, 1
    while True:
        rows = cw.get("finance/invoices", pageSize=1000, page=page).json()
        seen += len(rows)
        if len(rows) < 1000:
            break
        page += 1
    listed = time.perf_counter() - started
    assert seen == 10_000
    assert listed < 5, f"listing 10,000 invoices took {listed:.1f}s"
