from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import AutotaskApi, read

pytestmark = pytest.mark.usefixtures("tenant")

ADMIN = "/autotask/_admin/"


def test_invoice_processing_turns_posted_items_into_an_invoice(
    api: AutotaskApi, sim: Simulator
) -> None:
    sim.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    response = api.http.post(ADMIN + "processInvoices", json={"invoiceDate": "2026-03-02"})
    assert response.status_code == 200
    [invoice_id] = response.json()["invoiceIds"]
    invoice = read(api.get(f"Invoices/{invoice_id}"))["item"]
    assert invoice["companyID"] == 174
    assert invoice["batchID"] == 1002
    assert invoice["invoiceNumber"] == "10236"
    assert invoice["invoiceTotal"] == Decimal("37.50")
    assert invoice["invoiceDateTime"] == "2026-03-02T05:00:00.000Z"
    assert invoice["dueDate"] == "2026-04-01T00:00:00.000Z"  # Net 30 from the template
    assert invoice["webServiceDate"] is None
    assert api.get("BillingItems/29690004").json()["item"]["invoiceID"] == invoice_id
    again = api.http.post(ADMIN + "processInvoices", json={})
    assert again.json() == {"invoiceIds": []}


def test_voiding_returns_the_items_to_the_pool(api: AutotaskApi) -> None:
    response = api.http.post(ADMIN + "voidInvoice", json={"id": 29684513, "resourceID": 29682886})
    assert response.json() == {"itemId": 29684513}
    invoice = api.get("Invoices/29684513").json()["item"]
    assert invoice["isVoided"] is True
    assert invoice["voidedByResourceID"] == 29682886
    assert api.get("BillingItems/29690003").json()["item"]["invoiceID"] is None
    missing = api.http.post(ADMIN + "voidInvoice", json={"id": 1})
    assert missing.status_code == 500


def test_admin_routes_are_post_only(api: AutotaskApi) -> None:
    assert api.http.get(ADMIN + "processInvoices").status_code == 405
    assert api.http.post(ADMIN + "nothing").status_code == 404
