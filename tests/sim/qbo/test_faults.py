"""Each business rule answers with QuickBooks' Fault code and text."""

from datetime import UTC, datetime, timedelta
from typing import Any

from ledgerbridge_sim import oauth
from ledgerbridge_sim.state import Simulator
from tests.sim.qbo.conftest import UK, QboApi, error_of, read, sales_line


def _invoice_body(api: QboApi, **extra: Any) -> dict[str, Any]:
    customer = api.one("Customer", "DisplayName = 'Acme Dental'")["Id"]
    item = api.one("Item", "Name = 'Labour'")["Id"]
    return {"CustomerRef": {"value": customer}, "Line": [sales_line(item, 1, "150")], **extra}


def test_display_names_are_unique_across_customers_vendors_and_employees(us: QboApi) -> None:
    for entity, taken in (
        ("customer", "Northwind Distribution"),  # a vendor's name
        ("vendor", "acme dental"),  # a customer's, in another case
        ("employee", "Birch Legal"),
    ):
        response = us.post(entity, {"DisplayName": taken})
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "6240"
        assert error["Message"] == "Duplicate Name Exists Error"
        assert "Another customer, vendor or employee is already using this name" in error["Detail"]
    built = us.post("employee", {"GivenName": "Dana", "FamilyName": "Whitfield"})
    assert error_of(built)["code"] == "6240"  # the name built from its parts clashes too


def test_item_names_are_unique(us: QboApi) -> None:
    income = us.one("Account", "Name = 'Services'")["Id"]
    response = us.post(
        "item", {"Name": "labour", "Type": "Service", "IncomeAccountRef": {"value": income}}
    )
    assert error_of(response)["code"] == "6240"


def test_references_to_missing_or_inactive_records_are_object_not_found(us: QboApi) -> None:
    missing = us.post("invoice", {**_invoice_body(us), "CustomerRef": {"value": "999999"}})
    error = error_of(missing)
    assert (error["code"], error["Message"]) == ("610", "Object Not Found")
    assert error["element"] == "CustomerRef"

    customer = us.create("Customer", {"DisplayName": "Juliet Joinery"})
    us.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    inactive = us.post("invoice", {**_invoice_body(us), "CustomerRef": {"value": customer["Id"]}})
    assert error_of(inactive)["code"] == "610"
    assert "made inactive" in error_of(inactive)["Detail"]


def test_an_id_that_cannot_exist_is_an_invalid_reference(us: QboApi) -> None:
    response = us.post("invoice", {**_invoice_body(us), "CustomerRef": {"value": "ACME"}})
    error = error_of(response)
    assert (error["code"], error["Message"]) == ("2500", "Invalid Reference Id")


def test_required_params_are_2020(us: QboApi) -> None:
    no_lines = us.post("invoice", {"CustomerRef": _invoice_body(us)["CustomerRef"]})
    assert error_of(no_lines)["code"] == "2020"
    assert error_of(no_lines)["Detail"] == "Required parameter Line is missing in the request"
    no_customer = us.post("invoice", {"Line": _invoice_body(us)["Line"]})
    assert error_of(no_customer)["element"] == "CustomerRef"
    no_name = us.post("item", {"Type": "Service"})
    assert error_of(no_name)["code"] == "2020"


def test_doc_number_longer_than_21_characters_is_a_string_length_error(us: QboApi) -> None:
    response = us.post("invoice", _invoice_body(us, DocNumber="MSP-2026-0000000000001"))
    error = error_of(response)
    assert error["code"] == "2050" and error["element"] == "DocNumber"
    assert error["Detail"].endswith("Min:0 Max:21 supported. Supplied length:22")
    assert us.rows("select * from Invoice") == []


def test_string_lengths_on_names(us: QboApi) -> None:
    response = us.post("item", {"Name": "x" * 101, "Type": "Service"})
    assert error_of(response)["code"] == "2050"
    assert "Supplied length:101" in error_of(response)["Detail"]


def test_duplicate_doc_numbers_are_refused_while_the_company_refuses_them(us: QboApi) -> None:
    us.create("Invoice", _invoice_body(us, DocNumber="MSP-26-000123"))
    duplicate = us.post("invoice", _invoice_body(us, DocNumber="MSP-26-000123"))
    error = error_of(duplicate)
    assert (error["code"], error["Message"]) == ("6140", "Duplicate Document Number Error")
    # Another entity's numbers are its own.
    credit = us.post("creditmemo", _invoice_body(us, DocNumber="MSP-26-000123"))
    assert credit.status_code == 200

    preferences = read(us.get("preferences"))["Preferences"]
    names = preferences["OtherPrefs"]["NameValue"]
    allowed = [
        {**pair, "Value": "false"} if pair["Name"] == "WarnDuplicateInvoiceNumber" else pair
        for pair in names
    ]
    us.create(
        "Preferences",
        {"SyncToken": preferences["SyncToken"], "OtherPrefs": {"NameValue": allowed}},
    )
    assert us.post("invoice", _invoice_body(us, DocNumber="MSP-26-000123")).status_code == 200


def test_doc_numbers_are_assigned_when_omitted(us: QboApi) -> None:
    first = us.create("Invoice", _invoice_body(us))
    second = us.create("Invoice", _invoice_body(us))
    assert int(second["DocNumber"]) == int(first["DocNumber"]) + 1


def test_transactions_on_or_before_the_closing_date_are_refused(us: QboApi) -> None:
    open_invoice = us.create("Invoice", _invoice_body(us, TxnDate="2026-07-01"))
    preferences = read(us.get("preferences"))["Preferences"]
    us.create(
        "Preferences",
        {
            "SyncToken": preferences["SyncToken"],
            "AccountingInfoPrefs": {"BookCloseDate": "2026-06-30"},
        },
    )
    on_close = us.post("invoice", _invoice_body(us, TxnDate="2026-06-30"))
    assert on_close.status_code == 400
    assert error_of(on_close)["code"] == "6000"
    assert "closing date (2026-06-30)" in error_of(on_close)["Detail"]
    moved_back = us.post(
        "invoice",
        {"Id": open_invoice["Id"], "SyncToken": "0", "sparse": True, "TxnDate": "2026-05-01"},
    )
    assert error_of(moved_back)["code"] == "6000"
    assert us.post("invoice", _invoice_body(us, TxnDate="2026-07-01")).status_code == 200


def test_a_bad_token_gets_the_lower_case_401_body(us: QboApi, sim: Simulator) -> None:
    sim.clock.set(datetime(2026, 11, 2, 17, 0, tzinfo=UTC))
    response = us.http.get(
        us.base + "customer/1",
        headers={"Authorization": "Bearer not-a-token", "Accept": "application/json"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    body = read(response)
    assert body["fault"]["type"] == "AUTHENTICATION"
    error = body["fault"]["error"][0]
    assert error["code"] == "3200"
    assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert body["time"] == int(datetime(2026, 11, 2, 17, 0, tzinfo=UTC).timestamp() * 1000)
    assert "Fault" not in body


def test_an_expired_token_gets_401(us: QboApi, sim: Simulator) -> None:
    sim.clock.set(datetime(2026, 11, 2, 17, 0, tzinfo=UTC))
    token = oauth.issue_tokens(sim, "qbo", (us.realm,))["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    assert us.http.get(us.base + "preferences", headers=headers).status_code == 200
    sim.clock.advance(timedelta(hours=1))
    assert us.http.get(us.base + "preferences", headers=headers).status_code == 401


def test_a_token_for_another_realm_is_forbidden(us: QboApi) -> None:
    response = us.http.get(f"/qbo/v3/company/{UK}/preferences", headers=us.headers)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "3100"
    assert "ApplicationAuthorizationFailed" in error["Message"]
