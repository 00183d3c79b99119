import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge_sim.autotask import app as autotask
from ledgerbridge_sim.autotask.wire import encode
from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import EVERY_ROW, AutotaskApi, read

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CENT = Decimal("0.01")


def generated(invoices: int, seed: int) -> Simulator:
    sim = Simulator()
    sim.clock.set(NOW)
    autotask.generate(sim, invoices=invoices, seed=seed)
    return sim


def rows(sim: Simulator, entity: str) -> list[dict[str, Any]]:
    return list(sim.system("autotask").collection(entity).values())


@pytest.fixture(scope="module")
def tenant_400() -> Simulator:
    return generated(400, seed=11)


def test_the_same_seed_and_clock_give_the_same_tenant() -> None:
    first, second = generated(120, seed=5), generated(120, seed=5)
    assert encode(first.system("autotask").collections) == encode(
        second.system("autotask").collections
    )
    other = generated(120, seed=6)
    assert encode(other.system("autotask").collections) != encode(
        first.system("autotask").collections
    )


def test_counts_are_reported(tenant_400: Simulator) -> None:
    sim = Simulator()
    sim.clock.set(NOW)
    counts = autotask.generate(sim, invoices=30, seed=1)
    assert counts["Invoices"] == 30
    for entity, count in counts.items():
        assert len(rows(sim, entity)) == count


def test_invoice_totals_are_the_sums_of_their_billing_items(tenant_400: Simulator) -> None:
    lines: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for item in rows(tenant_400, "BillingItems"):
        lines[item["invoiceID"]].append(item)
    for invoice in rows(tenant_400, "Invoices"):
        items = lines[invoice["id"]]
        assert items, invoice["id"]
        assert invoice["invoiceTotal"] == sum(i["totalAmount"] for i in items)
        assert invoice["totalTaxValue"] == sum(i["taxDollars"] for i in items)
    assert lines[None], "some posted billing items wait for the next invoice run"


def test_line_amounts_are_decimal_and_taxed_per_line(tenant_400: Simulator) -> None:
    companies = {c["id"]: c for c in rows(tenant_400, "Companies")}
    codes = {c["id"]: c for c in rows(tenant_400, "BillingCodes")}
    rates: dict[tuple[int, int], list[Decimal]] = defaultdict(list)
    for tax in rows(tenant_400, "Taxes"):
        rates[(tax["taxRegionID"], tax["taxCategoryID"])].append(tax["taxRate"])
    for item in rows(tenant_400, "BillingItems"):
        for name in ("quantity", "rate", "extendedPrice", "taxDollars", "totalAmount"):
            assert isinstance(item[name], Decimal), name
        extended = (item["quantity"] * item["rate"]).quantize(CENT, rounding=ROUND_HALF_UP)
        assert item["extendedPrice"] == extended
        company = companies[item["companyID"]]
        expected_tax = Decimal(0)
        if not company["isTaxExempt"]:
            key = (company["taxRegionID"], codes[item["billingCodeID"]]["taxCategoryID"])
            expected_tax = sum(
                (
                    (extended * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
                    for rate in rates[key]
                ),
                Decimal(0),
            )
        assert item["taxDollars"] == expected_tax
        assert item["totalAmount"] == item["extendedPrice"] + item["taxDollars"]


def test_the_odd_but_real_cases_are_present(tenant_400: Simulator) -> None:
    invoices = rows(tenant_400, "Invoices")
    assert any(i["invoiceTotal"] < 0 for i in invoices), "credit notes"
    assert any(
        i["isVoided"]
        for i in generated(1000, seed=2).system("autotask").collection("Invoices").values()
    )
    exported = [i for i in invoices if i["webServiceDate"]]
    assert 0.4 < len(exported) / len(invoices) < 0.95
    paid = [i for i in invoices if i["paidDate"]]
    assert paid and all(i["paidDate"].endswith("T00:00:00.000Z") for i in paid)
    assert all(i["webServiceDate"] for i in paid)
    assert any(i["invoiceNumber"].startswith("INV-") for i in exported)
    quantities = [item["quantity"] for item in rows(tenant_400, "BillingItems")]
    assert any(
        -q.as_tuple().exponent == 7 for q in quantities if isinstance(q.as_tuple().exponent, int)
    )
    products = rows(tenant_400, "Products")
    assert max(len(p["sku"]) for p in products) > 64
    assert any(-p["unitCost"].as_tuple().exponent == 4 for p in products)
    assert {c["isActive"] for c in rows(tenant_400, "Contacts")} <= {0, 1}
    batches = {i["batchID"] for i in invoices}
    assert 1 < len(batches) < len(invoices)


def test_ids_ascend_with_invoice_dates(tenant_400: Simulator) -> None:
    invoices = sorted(rows(tenant_400, "Invoices"), key=lambda i: i["id"])
    dates = [i["invoiceDateTime"] for i in invoices]
    assert dates == sorted(dates)
    assert invoices[0]["id"] > 10_000_000


def test_purchase_orders_expenses_and_the_api_resource(tenant_400: Simulator) -> None:
    orders = {o["id"] for o in rows(tenant_400, "PurchaseOrders")}
    items = rows(tenant_400, "PurchaseOrderItems")
    assert orders and {i["orderID"] for i in items} == orders
    reports = {r["id"]: r for r in rows(tenant_400, "ExpenseReports")}
    due: dict[int, Decimal] = defaultdict(Decimal)
    for item in rows(tenant_400, "ExpenseItems"):
        due[item["expenseReportID"]] += item["internalCurrencyReimbursementAmount"]
    for report_id, report in reports.items():
        assert report["amountDue"] == due[report_id]
    api_users = [r for r in rows(tenant_400, "Resources") if r["userName"] == "api@demo.example"]
    assert len(api_users) == 1


def test_generating_twice_appends_above_existing_ids() -> None:
    sim = generated(20, seed=1)
    before = max(sim.system("autotask").collection("Invoices"))
    autotask.generate(sim, invoices=20, seed=2)
    invoices = sim.system("autotask").collection("Invoices")
    assert len(invoices) == 40
    assert sorted(invoices)[20] == before + 1


def test_generate_and_seed_through_the_control_api(
    sim_http: httpx.Client, api: AutotaskApi
) -> None:
    sim_http.post("/_sim/clock", json={"set": NOW.isoformat()})
    response = sim_http.post(
        "/_sim/seed", json={"generate": {"system": "autotask", "invoices": 25, "seed": 4}}
    )
    assert response.status_code == 200
    assert response.json()["created"]["autotask"]["Invoices"] == 25
    seeded = sim_http.post(
        "/_sim/seed",
        json={"autotask": {"TaxCategories": [{"name": "Seeded", "isActive": True}]}},
    )
    assert seeded.json()["created"]["autotask"] == {"TaxCategories": 1}
    postable = api.query(
        "Invoices",
        {
            "filter": [
                {"op": "notExist", "field": "webServiceDate"},
                {"op": "eq", "field": "isVoided", "value": False},
            ]
        },
    )
    assert postable.status_code == 200
    assert read(postable)["items"]


def test_ten_thousand_invoices_in_a_few_seconds_and_iterable_through_the_api(
    sim: Simulator, api: AutotaskApi
) -> None:
    sim.clock.set(NOW)
    started = time.perf_counter()
    counts = autotask.generate(sim, invoices=10_000, seed=9)
    assert time.perf_counter() - started < 15
    assert counts["Invoices"] == 10_000
    assert api.post("Invoices/query/count", json={"filter": EVERY_ROW}).json() == {
        "queryCount": 10_000
    }
    body = {"IncludeFields": ["invoiceTotal"], "filter": EVERY_ROW}
    page = api.query("Invoices", body).json()
    seen = len(page["items"])
    while page["pageDetails"]["nextPageUrl"]:
        page = api.post(page["pageDetails"]["nextPageUrl"], json=body).json()
        seen += len(page["items"])
    assert seen == 10_000
