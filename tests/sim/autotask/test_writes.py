from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import HEADERS, AutotaskApi, read

pytestmark = pytest.mark.usefixtures("tenant")

INVOICE = 29684512
NEW_COMPANY = {
    "companyName": "Granite Credit Union",
    "companyType": 1,
    "phone": "(614) 555-0199",
    "ownerResourceID": 29682886,
}


@pytest.fixture(autouse=True)
def _frozen_clock(sim: Simulator) -> None:
    sim.clock.set(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


def invoice(api: AutotaskApi) -> dict[str, Any]:
    item: dict[str, Any] = read(api.get(f"Invoices/{INVOICE}"))["item"]
    return item


def test_create_answers_the_new_id_and_stamps_the_record(api: AutotaskApi) -> None:
    response = api.post("Companies", json={**NEW_COMPANY, "createDate": "1999-01-01"})
    assert response.status_code == 200
    new_id = response.json()["itemId"]
    assert new_id == 301
    company = api.get(f"Companies/{new_id}").json()["item"]
    assert company["companyName"] == "Granite Credit Union"
    assert company["createDate"] == "2026-03-02T09:30:00.000Z"  # read-only: the service's own
    assert company["createdByResourceID"] == 29682885  # the API user's resource
    assert company["impersonatorCreatorResourceID"] is None
    assert company["isTaxExempt"] is False
    assert company["userDefinedFields"] == []


def test_create_while_impersonating(api: AutotaskApi) -> None:
    headers = {**HEADERS, "ImpersonationResourceId": "29682886"}
    new_id = api.post("Companies", json=NEW_COMPANY, headers=headers).json()["itemId"]
    company = api.get(f"Companies/{new_id}").json()["item"]
    assert company["createdByResourceID"] == 29682886
    assert company["impersonatorCreatorResourceID"] == 29682885


def test_validation_failures_are_500_with_every_problem(api: AutotaskApi) -> None:
    response = api.post("Companies", json={"companyType": 99, "isActive": None, "phone": "x" * 101})
    assert response.status_code == 500
    errors = response.json()["errors"]
    assert "The value 99 is not a valid choice for 'companyType'." in errors
    assert "The field 'isActive' is a boolean and cannot be null." in errors
    assert "The field 'companyName' is required." in errors
    assert any("'phone'" in error and "limit is 100" in error for error in errors)


def test_references_must_exist(api: AutotaskApi) -> None:
    response = api.post("Companies", json={**NEW_COMPANY, "ownerResourceID": 1})
    assert response.status_code == 500
    assert "does not match an existing Resource" in response.json()["errors"][0]


def test_booleans_must_be_real_json_booleans(api: AutotaskApi) -> None:
    response = api.post("Companies", json={**NEW_COMPANY, "isActive": "true"})
    assert response.status_code == 500


def test_patch_changes_only_what_is_sent(api: AutotaskApi) -> None:
    before = api.get("Companies/174").json()["item"]
    response = api.patch("Companies", json={"ID": 174, "PHONE": "(614) 555-0000", "noSuch": 1})
    assert response.json() == {"itemId": 174}
    after = api.get("Companies/174").json()["item"]
    assert after["phone"] == "(614) 555-0000"
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {"phone", "lastActivityDate", "lastTrackedModifiedDateTime"}


def test_put_replaces_every_writable_field(api: AutotaskApi) -> None:
    response = api.put("Companies", json={"id": 250, **NEW_COMPANY})
    assert response.json() == {"itemId": 250}
    company = api.get("Companies/250").json()["item"]
    assert company["companyName"] == "Granite Credit Union"
    assert company["city"] is None  # not sent, so cleared
    assert company["isTaxExempt"] is False
    assert company["taxRegionID"] is None


def test_put_without_a_required_field_is_refused(api: AutotaskApi) -> None:
    response = api.put("Companies", json={"id": 250, "companyName": "Only a name"})
    assert response.status_code == 500
    assert "The field 'phone' is required." in response.json()["errors"]
    assert api.get("Companies/250").json()["item"]["companyName"] == "Summit Logistics LLC"


def test_user_defined_fields_are_updated_by_name(api: AutotaskApi) -> None:
    udfs = [{"name": "accounting reference", "value": "XERO-NEW"}]
    api.patch("Companies", json={"id": 250, "userDefinedFields": udfs})
    assert api.get("Companies/250").json()["item"]["userDefinedFields"] == [
        {"name": "Accounting Reference", "value": "XERO-NEW"}
    ]
    unknown = api.patch("Companies", json={"id": 250, "userDefinedFields": [{"name": "Nope"}]})
    assert unknown.status_code == 500


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "Invoices"),
        ("POST", "BillingItems"),
        ("POST", "Resources"),
        ("POST", "InvoiceTemplates"),
        ("PATCH", "Companies/174"),
        ("DELETE", "Companies/174"),
        ("POST", "Contacts"),
        ("PATCH", "Contacts"),
        ("GET", "Companies"),
    ],
)
def test_verbs_an_entity_does_not_support_are_405(api: AutotaskApi, method: str, path: str) -> None:
    response = api.request(method, path, json={"id": 174})
    assert response.status_code == 405
    assert response.json() == {
        "Message": f"The requested resource does not support http method '{method}'."
    }


def test_update_needs_an_existing_id(api: AutotaskApi) -> None:
    assert api.patch("Companies", json={"phone": "1"}).status_code == 500
    missing = api.patch("Companies", json={"id": 9999, "phone": "1"})
    assert missing.status_code == 500
    assert missing.json() == {"errors": ["No matching records found."]}


def test_invoice_paid_date_is_stored_date_only(api: AutotaskApi) -> None:
    response = api.patch("Invoices", json={"id": INVOICE, "paidDate": "2024-02-15"})
    assert response.json() == {"itemId": INVOICE}
    assert invoice(api)["paidDate"] == "2024-02-15T00:00:00.000Z"
    api.patch("Invoices", json={"id": INVOICE, "paidDate": "2024-02-16T23:30:00-05:00"})
    assert invoice(api)["paidDate"] == "2024-02-16T00:00:00.000Z"


def test_invoice_export_stamp_and_number(api: AutotaskApi) -> None:
    body = {
        "id": INVOICE,
        "webServiceDate": "2026-03-02T04:30:00-05:00",
        "invoiceNumber": "INV-0042",
    }
    assert api.patch("Invoices", json=body).status_code == 200
    stored = invoice(api)
    assert stored["webServiceDate"] == "2026-03-02T09:30:00.000Z"
    assert stored["invoiceNumber"] == "INV-0042"
    exported = api.ids("Invoices", [{"op": "exist", "field": "webServiceDate"}])
    assert INVOICE in exported


def test_setting_the_same_stamp_twice_is_harmless(api: AutotaskApi) -> None:
    body = {"id": INVOICE, "paidDate": "2024-02-15"}
    first, second = api.patch("Invoices", json=body), api.patch("Invoices", json=body)
    assert first.json() == second.json() == {"itemId": INVOICE}
    assert invoice(api)["paidDate"] == "2024-02-15T00:00:00.000Z"


def test_invoice_fields_other_than_the_three_cannot_change(api: AutotaskApi) -> None:
    response = api.patch(
        "Invoices", json={"id": INVOICE, "invoiceTotal": 1, "paidDate": "2024-02-15"}
    )
    assert response.status_code == 500
    assert response.json() == {
        "errors": ["The field 'invoiceTotal' of Invoices is read-only and cannot be changed."]
    }
    assert invoice(api)["paidDate"] is None  # nothing was written


def test_put_back_what_was_read_with_a_changed_stamp(api: AutotaskApi) -> None:
    record = api.get(f"Invoices/{INVOICE}").json()["item"]
    record["webServiceDate"] = "2026-03-02T09:30:00Z"
    response = api.put("Invoices", json=record)
    assert response.status_code == 200, response.text
    stored = invoice(api)
    assert stored["webServiceDate"] == "2026-03-02T09:30:00.000Z"
    assert stored["invoiceTotal"] == Decimal("1296.75")


def test_put_on_an_invoice_clears_writable_fields_left_out(api: AutotaskApi) -> None:
    api.put("Invoices", json={"id": INVOICE, "webServiceDate": "2026-03-02T09:30:00Z"})
    assert invoice(api)["invoiceNumber"] is None


def test_billing_items_take_only_a_web_service_date(api: AutotaskApi) -> None:
    ok = api.patch("BillingItems", json={"id": 29690001, "webServiceDate": "2026-03-02T09:00:00Z"})
    assert ok.status_code == 200
    refused = api.patch("BillingItems", json={"id": 29690001, "quantity": 2})
    assert refused.status_code == 500


def test_contacts_are_written_through_their_company(api: AutotaskApi) -> None:
    created = api.post(
        "Companies/250/Contacts", json={"firstName": "Ravi", "lastName": "Kim", "isActive": 1}
    )
    assert created.status_code == 200
    contact_id = created.json()["itemId"]
    assert api.get(f"Contacts/{contact_id}").json()["item"]["companyID"] == 250
    patched = api.patch("Companies/250/Contacts", json={"id": contact_id, "title": "Controller"})
    assert patched.json() == {"itemId": contact_id}
    wrong_parent = api.patch("Companies/174/Contacts", json={"id": contact_id, "title": "x"})
    assert wrong_parent.status_code == 500
    deleted = api.request("DELETE", f"Companies/250/Contacts/{contact_id}")
    assert deleted.json() == {"itemId": contact_id}
    assert api.get(f"Contacts/{contact_id}").status_code == 404
    again = api.request("DELETE", f"Companies/250/Contacts/{contact_id}")
    assert again.status_code == 500
    assert again.json() == {"errors": ["No matching records found."]}


def test_contact_under_a_missing_company(api: AutotaskApi) -> None:
    response = api.post(
        "Companies/9/Contacts", json={"firstName": "A", "lastName": "B", "isActive": 1}
    )
    assert response.status_code == 500


def test_purchase_order_with_items(api: AutotaskApi, sim: Simulator) -> None:
    from ledgerbridge_sim.autotask import app as autotask

    autotask.seed(sim, {"InventoryLocations": [{"id": 1, "locationName": "Main Warehouse"}]})
    order = api.post(
        "PurchaseOrders",
        json={"vendorID": 300, "status": 1, "shipToName": "Northwind", "shipToAddress1": "1 Way"},
    ).json()["itemId"]
    item = api.post(
        f"PurchaseOrders/{order}/Items",
        json={"quantity": 3, "unitCost": "212.4500", "inventoryLocationID": 1},
    )
    assert item.status_code == 200, item.text
    stored = read(api.get(f"PurchaseOrderItems/{item.json()['itemId']}"))["item"]
    assert stored["orderID"] == order
    assert stored["unitCost"] == Decimal("212.4500")
    assert stored["internalCurrencyUnitCost"] == Decimal("212.4500")


def test_expense_items_update_their_report(api: AutotaskApi) -> None:
    report = api.post(
        "ExpenseReports",
        json={"name": "Week 9", "submitterID": 29682886, "weekEnding": "2026-02-28"},
    ).json()["itemId"]
    line = {
        "description": "Parking",
        "expenseDate": "2026-02-26",
        "expenseCategory": 6,
        "paymentType": 1,
        "haveReceipt": True,
        "isBillableToCompany": False,
        "isReimbursable": True,
        "isRejected": False,
        "expenseCurrencyExpenseAmount": 12.5,
    }
    api.post(f"Expenses/{report}/Items", json=line)
    api.post(
        f"Expenses/{report}/Items", json={**line, "isReimbursable": False, "description": "Fuel"}
    )
    stored = read(api.get(f"ExpenseReports/{report}"))["item"]
    assert stored["internalCurrencyExpenseTotal"] == Decimal("25.0")
    assert stored["amountDue"] == Decimal("12.5")


def test_a_body_that_is_not_json(api: AutotaskApi) -> None:
    response = api.post(
        "Companies", content=b"{oops", headers={**HEADERS, "Content-Type": "application/json"}
    )
    assert response.status_code == 500
    assert response.json()["errors"]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", '"NaN"', '"1e"'])
def test_numbers_that_are_not_numbers_are_refused(api: AutotaskApi, amount: str) -> None:
    content = f'{{"id": 29684512, "invoiceTotal": {amount}}}'.encode()
    response = api.patch("Invoices", content=content)
    assert response.status_code == 500
    assert response.json()["errors"]
