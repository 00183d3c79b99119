"""Every list the issue names answers as the API does: array, count, one record by id."""

import pytest

from ledgerbridge_sim.connectwise.app import generate
from ledgerbridge_sim.state import Simulator

from .conftest import CwApi

LISTS = [
    "system/members",
    "company/companies",
    "company/contacts",
    "finance/invoices",
    "finance/accounting/unpostedinvoices",
    "finance/accounting/unpostedprocurement",
    "finance/accounting/unpostedexpenses",
    "finance/glaccounts",
    "finance/taxCodes",
    "finance/billingTerms",
    "finance/billingStatuses",
    "procurement/catalog",
    "procurement/purchaseorders",
    "procurement/adjustments",
    "procurement/warehouses",
]


@pytest.fixture
def books(sim: Simulator) -> None:
    generate(sim, invoices=80, seed=4)


@pytest.mark.parametrize("path", LISTS)
def test_list_count_and_one(cw: CwApi, books: None, path: str) -> None:
    rows = cw.get(path, pageSize=1000).json()
    assert isinstance(rows, list) and rows
    assert cw.get(f"{path}/count").json() == {"count": len(rows)}
    first = rows[0]
    assert isinstance(first["id"], int)
    assert cw.get(f"{path}/{first['id']}").json() == first
    assert cw.get(f"{path}/{first['id']}", fields="id").json() == {"id": first["id"]}


def test_purchase_order_line_items_are_children(cw: CwApi, books: None) -> None:
    po = cw.get("procurement/purchaseorders", pageSize=1).json()[0]
    items = cw.get(f"procurement/purchaseorders/{po['id']}/lineitems").json()
    assert items and all(item["purchaseOrderId"] == po["id"] for item in items)
    assert [item["lineNumber"] for item in items] == list(range(1, len(items) + 1))
    one = cw.get(f"procurement/purchaseorders/{po['id']}/lineitems/{items[0]['id']}")
    assert one.json() == items[0]
    other = cw.get("procurement/purchaseorders", pageSize=2).json()[1]
    assert (
        cw.get(f"procurement/purchaseorders/{other['id']}/lineitems/{items[0]['id']}").status_code
        == 404
    )
    assert cw.get("procurement/purchaseorders/1/lineitems").status_code == 404


def test_adjustment_details_are_children(cw: CwApi, books: None) -> None:
    adjustment = cw.get("procurement/adjustments", pageSize=1).json()[0]
    details = cw.get(f"procurement/adjustments/{adjustment['id']}/details").json()
    assert [d["id"] for d in details] == [d["id"] for d in adjustment["adjustmentDetails"]]


def test_references_carry_info_hrefs(cw: CwApi, books: None) -> None:
    invoice = cw.get("finance/invoices", pageSize=1).json()[0]
    href = invoice["company"]["_info"]["company_href"]
    assert href.endswith(f"/company/companies/{invoice['company']['id']}")
    assert invoice["date"].endswith("T00:00:00Z")
    assert set(invoice["_info"]) >= {"lastUpdated", "updatedBy"}


def test_system_info(cw: CwApi) -> None:
    info = cw.get("system/info").json()
    assert info["version"].startswith("v2025.1")
    assert info["isCloud"] is True
