"""The GL interface: unposted lists, the side-effect-free export, batches and their undoing."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge_sim.connectwise.app import generate, seed
from ledgerbridge_sim.state import Simulator

from .conftest import CwApi

FIXTURE = Path(__file__).parent / "fixtures" / "acme_invoice_1201.json"


def acme_records() -> dict[str, list[dict[str, Any]]]:
    raw = json.loads(FIXTURE.read_text())
    return {name: rows for name, rows in raw.items() if not name.startswith("_")}


@pytest.fixture
def acme(sim: Simulator) -> None:
    seed(sim, acme_records())


@pytest.fixture
def books(sim: Simulator) -> None:
    generate(sim, invoices=60, seed=11)


def export_request(**overrides: Any) -> dict[str, Any]:
    return {
        "batchIdentifier": "20240131-INV",
        "thruDate": "2026-01-31T23:59:59Z",
        "locationId": 0,
        "summarizeInvoices": "Detailed",
        "exportInvoicesFlag": True,
        "exportExpensesFlag": False,
        "exportProductsFlag": False,
        "glInterfaceIdentifier": "ledgerbridge",
        "includedInvoiceIds": [],
        "excludedInvoiceIds": [],
        **overrides,
    }


def test_a_closed_invoice_is_unposted_in_the_documented_shape(cw: CwApi, acme: None) -> None:
    rows = cw.get("finance/accounting/unpostedinvoices").json()
    assert [row["id"] for row in rows] == [1201, 1202]
    acme_row = rows[0]
    assert acme_row["billingLogId"] == 1201
    assert acme_row["invoiceType"] == "Agreement"
    assert acme_row["subTotal"] == 200
    assert acme_row["salesTaxAmount"] == 14
    assert acme_row["total"] == 214
    assert acme_row["stateTaxFlag"] is True
    assert acme_row["stateTaxXref"] == "ST"
    assert acme_row["stateTaxAmount"] == 14
    assert acme_row["cityTaxFlag"] is False
    assert acme_row["dueDays"] == "30"
    assert cw.get("finance/accounting/unpostedinvoices/1201").json()["id"] == 1201


def test_the_export_matches_the_documented_example(cw: CwApi, acme: None) -> None:
    response = cw.post("finance/accounting/export", export_request(includedInvoiceIds=[1201]))
    assert response.status_code == 200
    export = response.json()
    assert set(export) >= {
        "exportSettings",
        "customers",
        "vendors",
        "transactions",
        "expenses",
        "expenseBills",
        "purchaseTransactions",
        "adjustmentTransactions",
        "inventoryTransfers",
    }
    (customer,) = export["customers"]
    assert customer["company"]["identifier"] == "AcmeCo"
    assert customer["accountNumber"] == "ACME01"
    assert customer["billingTermsXref"] == "30"
    assert customer["taxLevels"] == [
        {"taxLevel": 1, "taxRate": 7.0, "taxCodeXref": "ST", "agencyXref": "DOR"}
    ]
    (transaction,) = export["transactions"]
    assert transaction["documentType"] == "Invoice"
    assert transaction["documentNumber"] == "1201"
    assert transaction["glEntryIds"] == "88231"
    assert transaction["billingType"] == "Agreement"
    assert (transaction["salesTax"], transaction["total"], transaction["taxableTotal"]) == (
        14.0,
        214.0,
        200.0,
    )
    assert transaction["taxLevels"][0]["taxAmount"] == 14.0
    (detail,) = transaction["detail"]
    assert detail["id"] == 88231
    assert (detail["quantity"], detail["itemPrice"], detail["total"], detail["cost"]) == (
        10,
        20.0,
        200.0,
        80.0,
    )
    assert detail["item"] == {"id": 55, "identifier": "MS-STD"}


def test_money_leaves_as_json_numbers_with_cents(cw: CwApi, acme: None) -> None:
    text = cw.get("finance/invoices/1201").text
    assert '"total":214.0' in text or '"total":214.00' in text
    body = json.loads(text, parse_float=Decimal)
    assert body["balance"] == Decimal("214")


def test_a_credit_memo_exports_as_a_credit_memo(cw: CwApi, acme: None) -> None:
    export = cw.post("finance/accounting/export", export_request(includedInvoiceIds=[1202])).json()
    (transaction,) = export["transactions"]
    assert transaction["documentType"] == "CreditMemo"
    assert transaction["total"] == -53.5
    assert transaction["salesTax"] == -3.5


def test_the_export_changes_nothing_and_repeats_exactly(cw: CwApi, books: None) -> None:
    before = cw.get("finance/accounting/unpostedinvoices/count").json()
    first = cw.post("finance/accounting/export", export_request()).json()
    second = cw.post("finance/accounting/export", export_request()).json()
    assert first == second
    assert len(first["transactions"]) == before["count"]
    assert cw.get("finance/accounting/unpostedinvoices/count").json() == before


def test_export_filters(cw: CwApi, books: None) -> None:
    unposted = cw.get("finance/accounting/unpostedinvoices", pageSize=1000).json()
    ids = [row["id"] for row in unposted]
    picked = cw.post("finance/accounting/export", export_request(includedInvoiceIds=ids[:3])).json()
    assert [t["id"] for t in picked["transactions"]] == ids[:3]
    without = cw.post(
        "finance/accounting/export", export_request(excludedInvoiceIds=ids[:3])
    ).json()
    assert [t["id"] for t in without["transactions"]] == ids[3:]
    cutoff = unposted[10]["invoiceDate"]
    early = cw.post("finance/accounting/export", export_request(thruDate=cutoff)).json()
    assert early["transactions"]
    assert all(t["documentDate"] <= cutoff for t in early["transactions"])
    everything = cw.post(
        "finance/accounting/export",
        export_request(exportExpensesFlag=True, exportProductsFlag=True),
    ).json()
    assert everything["expenses"] and everything["expenseBills"]
    assert everything["purchaseTransactions"] and everything["adjustmentTransactions"]
    products = cw.get("finance/accounting/unpostedprocurement", pageSize=1000).json()
    one = products[0]["unpostedProductId"]
    only = cw.post(
        "finance/accounting/export",
        export_request(exportInvoicesFlag=False, exportProductsFlag=True, includedProductIds=[one]),
    ).json()
    assert [p["id"] for p in only["purchaseTransactions"] + only["adjustmentTransactions"]] == [one]
    assert only["transactions"] == []


def test_condensed_exports_one_detail_per_account(cw: CwApi, books: None) -> None:
    detailed = cw.post("finance/accounting/export", export_request()).json()
    condensed = cw.post(
        "finance/accounting/export", export_request(summarizeInvoices="Condensed")
    ).json()
    for full, short in zip(detailed["transactions"], condensed["transactions"], strict=True):
        accounts = [d["accountNumber"] for d in short["detail"]]
        assert len(accounts) == len(set(accounts))
        assert sum(Decimal(str(d["total"])) for d in short["detail"]) == sum(
            Decimal(str(d["total"])) for d in full["detail"]
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"batchIdentifier": ""}, "batchIdentifier"),
        ({"batchIdentifier": "X" * 51}, "batchIdentifier"),
        ({"thruDate": "yesterday"}, "thruDate"),
        ({"summarizeInvoices": "Everything"}, "summarizeInvoices"),
        ({"includedInvoiceIds": ["1201"]}, "includedInvoiceIds"),
        ({"exportInvoicesFlag": "yes"}, "exportInvoicesFlag"),
    ],
)
def test_bad_export_requests(cw: CwApi, acme: None, overrides: dict[str, Any], field: str) -> None:
    response = cw.post("finance/accounting/export", export_request(**overrides))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidObject"
    assert body["errors"][0]["field"] == field


def batch_request(entry_ids: list[int], identifier: str = "20240131JD-I") -> dict[str, Any]:
    return {
        "batchIdentifier": identifier,
        "glInterfaceIdentifier": "ledgerbridge",
        "exportInvoicesFlag": True,
        "exportExpensesFlag": False,
        "exportProductsFlag": False,
        "summarizeExpenses": False,
        "processedRecordIds": entry_ids,
    }


def test_a_batch_posts_its_records_once(cw: CwApi, acme: None) -> None:
    created = cw.post("finance/accounting/batches", batch_request([88231]))
    assert created.status_code == 201
    assert [t["id"] for t in created.json()["transactions"]] == [1201]
    unposted = cw.get("finance/accounting/unpostedinvoices").json()
    assert [row["id"] for row in unposted] == [1202]
    (batch,) = cw.get(
        "finance/accounting/batches", conditions='batchIdentifier="20240131JD-I"'
    ).json()
    assert batch["closedFlag"] is True
    assert batch["exportInvoicesFlag"] is True
    assert cw.get(f"finance/accounting/batches/{batch['id']}").json() == batch
    invoice = cw.get("finance/invoices/1201").json()
    assert invoice["glBatch"] == {"id": batch["id"], "name": "20240131JD-I"}
    again = cw.post("finance/accounting/batches", batch_request([88231], "20240131JD-I2"))
    assert again.status_code == 400
    assert "already batched" in again.json()["errors"][0]["message"]
    assert cw.get("finance/accounting/batches/count").json() == {"count": 1}


def test_a_duplicate_batch_identifier_is_refused(cw: CwApi, acme: None) -> None:
    assert cw.post("finance/accounting/batches", batch_request([88231])).status_code == 201
    duplicate = cw.post("finance/accounting/batches", batch_request([88240], "20240131jd-i"))
    assert duplicate.status_code == 400
    body = duplicate.json()
    assert body["code"] == "InvalidObject"
    assert body["errors"][0]["code"] == "ObjectExists"
    assert body["errors"][0]["field"] == "batchIdentifier"
    assert [r["id"] for r in cw.get("finance/accounting/unpostedinvoices").json()] == [1202]


@pytest.mark.parametrize(
    ("entry_ids", "message"),
    [([], "at least one"), ([999], "not found"), (["88231"], "whole numbers")],
)
def test_bad_batch_requests(cw: CwApi, acme: None, entry_ids: list[Any], message: str) -> None:
    response = cw.post("finance/accounting/batches", batch_request(entry_ids))
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert cw.get("finance/accounting/batches/count").json() == {"count": 0}


def test_entries_of_the_wrong_kind_need_their_flag(cw: CwApi, books: None) -> None:
    expense = cw.get("finance/accounting/unpostedexpenses", pageSize=1).json()[0]
    response = cw.post("finance/accounting/batches", batch_request([expense["id"]]))
    assert response.status_code == 400
    assert "exportExpensesFlag" in response.json()["errors"][0]["message"]
    request = {**batch_request([expense["id"]], "E-1"), "exportExpensesFlag": True}
    assert cw.post("finance/accounting/batches", request).status_code == 201
    assert cw.get(f"finance/accounting/unpostedexpenses/{expense['id']}").status_code == 404


def test_deleting_a_batch_unposts_its_records(cw: CwApi, books: None) -> None:
    unposted = cw.get("finance/accounting/unpostedinvoices", pageSize=5).json()
    export = cw.post(
        "finance/accounting/export",
        export_request(includedInvoiceIds=[row["id"] for row in unposted]),
    ).json()
    entry_ids = [int(i) for t in export["transactions"] for i in t["glEntryIds"].split(",")]
    before = cw.get("finance/accounting/unpostedinvoices/count").json()["count"]
    assert cw.post("finance/accounting/batches", batch_request(entry_ids)).status_code == 201
    after = cw.get("finance/accounting/unpostedinvoices/count").json()["count"]
    assert after == before - 5
    batch = cw.get("finance/accounting/batches").json()[0]
    entries = cw.get(f"finance/accounting/batches/{batch['id']}/entries", pageSize=1000).json()
    assert sorted(entry["id"] for entry in entries) == sorted(entry_ids)
    assert cw.get(f"finance/accounting/batches/{batch['id']}/entries/count").json() == {
        "count": len(entry_ids)
    }
    reexport = cw.post(f"finance/accounting/batches/{batch['id']}/export", {}).json()
    assert reexport["transactions"] == export["transactions"]

    assert cw.delete(f"finance/accounting/batches/{batch['id']}").status_code == 204
    assert cw.get("finance/accounting/unpostedinvoices/count").json()["count"] == before
    assert cw.get(f"finance/accounting/batches/{batch['id']}").status_code == 404
    invoice = cw.get(f"finance/invoices/{unposted[0]['id']}").json()
    assert "glBatch" not in invoice
    assert invoice["unbatchedBatch"]["id"] == batch["id"]
    # the identifier is free again and the records can be batched anew
    assert cw.post("finance/accounting/batches", batch_request(entry_ids)).status_code == 201


def test_deleting_a_missing_batch_is_404(cw: CwApi, acme: None) -> None:
    assert cw.delete("finance/accounting/batches/42").status_code == 404


def test_closing_an_invoice_lists_it_and_reopening_removes_it(
    cw: CwApi, sim: Simulator, acme: None
) -> None:
    def patch(status_id: int) -> int:
        return cw.request(
            "PATCH",
            "finance/invoices/1201",
            json=[{"op": "replace", "path": "status", "value": {"id": status_id}}],
        ).status_code

    assert patch(1) == 200
    assert [r["id"] for r in cw.get("finance/accounting/unpostedinvoices").json()] == [1202]
    assert patch(4) == 200
    assert [r["id"] for r in cw.get("finance/accounting/unpostedinvoices").json()] == [1201, 1202]
    plain = cw.request("PATCH", "finance/invoices/1201", json={"status": {"id": 1}})
    assert plain.status_code == 400
    totals = cw.request(
        "PATCH", "finance/invoices/1201", json=[{"op": "replace", "path": "total", "value": 1}]
    )
    assert totals.status_code == 400
