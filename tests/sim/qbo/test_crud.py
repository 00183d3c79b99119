"""Create, read, full and sparse update, delete and void, SyncToken, requestid, envelopes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ledgerbridge_sim.state import Simulator
from tests.sim.qbo.conftest import QboApi, error_of, read, sales_line


def _invoice(api: QboApi, customer: str = "Acme Dental", **extra: object) -> dict[str, object]:
    customer_id = api.one("Customer", f"DisplayName = '{customer}'")["Id"]
    item_id = api.one("Item", "Name = 'Labour'")["Id"]
    return {"CustomerRef": {"value": customer_id}, "Line": [sales_line(item_id, 2, "150")], **extra}


def test_create_answers_the_entity_in_its_envelope_and_read_returns_it(
    us: QboApi, sim: Simulator
) -> None:
    sim.clock.set(datetime(2026, 11, 2, 18, 48, 27, 82000, tzinfo=UTC))
    response = us.post("customer", {"DisplayName": "Delta Dental", "CompanyName": "Delta"})
    assert response.status_code == 200
    assert response.headers["intuit_tid"]
    body = read(response)
    assert body["time"] == "2026-11-02T10:48:27.082-08:00"
    created = body["Customer"]
    assert created["SyncToken"] == "0" and created["domain"] == "QBO" and created["sparse"] is False
    assert created["MetaData"]["CreateTime"] == "2026-11-02T10:48:27-08:00"
    assert created["Active"] is True and created["Balance"] == Decimal("0")
    assert "realmId" not in created
    assert us.fetch("Customer", created["Id"]) == created


def test_full_update_clears_omitted_fields_and_sparse_update_keeps_them(us: QboApi) -> None:
    created = us.create(
        "Customer", {"DisplayName": "Echo Clinic", "Notes": "VIP", "CompanyName": "Echo"}
    )
    sparse = us.create(
        "Customer",
        {"Id": created["Id"], "SyncToken": created["SyncToken"], "sparse": True, "Notes": "Gold"},
    )
    assert sparse["SyncToken"] == "1"
    assert sparse["Notes"] == "Gold" and sparse["CompanyName"] == "Echo"
    full = us.create(
        "Customer", {"Id": created["Id"], "SyncToken": "1", "DisplayName": "Echo Clinic"}
    )
    assert full["SyncToken"] == "2"
    assert "Notes" not in full and "CompanyName" not in full
    assert full["MetaData"]["CreateTime"] == created["MetaData"]["CreateTime"]


def test_a_stale_sync_token_is_refused_with_5010_and_nothing_changes(us: QboApi) -> None:
    created = us.create("Customer", {"DisplayName": "Foxtrot Freight"})
    us.create("Customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "a"})
    stale = us.post(
        "customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "b"}
    )
    assert stale.status_code == 400
    error = error_of(stale)
    assert (error["code"], error["Message"]) == ("5010", "Stale Object Error")
    assert read(stale)["Fault"]["type"] == "ValidationFault"
    assert us.fetch("Customer", created["Id"])["Notes"] == "a"


def test_an_update_without_sync_token_is_missing_a_required_param(us: QboApi) -> None:
    created = us.create("Customer", {"DisplayName": "Golf Group"})
    response = us.post("customer", {"Id": created["Id"], "sparse": True, "Notes": "x"})
    assert error_of(response)["code"] == "2020"
    assert "SyncToken" in error_of(response)["Detail"]


def test_sparse_invoice_update_keeps_lines_and_recomputes_nothing_else(us: QboApi) -> None:
    invoice = us.create("Invoice", _invoice(us))
    updated = us.create(
        "Invoice",
        {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "DueDate": "2026-12-15"},
    )
    assert updated["DueDate"] == "2026-12-15"
    assert updated["TotalAmt"] == invoice["TotalAmt"] and updated["Line"] == invoice["Line"]


def test_delete_and_void_invoices(us: QboApi) -> None:
    doomed = us.create("Invoice", _invoice(us))
    deleted = us.post("invoice", {"Id": doomed["Id"], "SyncToken": "0"}, operation="delete")
    assert read(deleted)["Invoice"] == {"Id": doomed["Id"], "status": "Deleted", "domain": "QBO"}
    gone = us.get(f"invoice/{doomed['Id']}")
    assert error_of(gone)["code"] == "610"

    voided_one = us.create("Invoice", _invoice(us))
    voided = read(us.post("invoice", {"Id": voided_one["Id"], "SyncToken": "0"}, operation="void"))
    answer = voided["Invoice"]
    assert answer["TotalAmt"] == 0 and answer["Balance"] == 0 and answer["SyncToken"] == "1"
    assert answer["PrivateNote"] == "Voided"


def test_name_list_records_are_made_inactive_not_deleted(us: QboApi) -> None:
    customer = us.create("Customer", {"DisplayName": "Hotel Holdings"})
    refused = us.post("customer", {"Id": customer["Id"], "SyncToken": "0"}, operation="delete")
    assert refused.status_code == 400 and error_of(refused)["code"] == "2010"
    inactive = us.create(
        "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}
    )
    assert inactive["DisplayName"] == "Hotel Holdings (deleted)"
    # Inactive names leave queries unless asked for, and free the name for a new record.
    assert us.rows("select * from Customer where DisplayName LIKE 'Hotel%'") == []
    assert us.create("Customer", {"DisplayName": "Hotel Holdings"})["Id"] != customer["Id"]


def test_a_repeated_requestid_replays_the_first_answer_without_writing_again(
    us: QboApi, sim: Simulator
) -> None:
    body = _invoice(us, DocNumber="MSP-0001")
    first = us.post("invoice", body, requestid="7b0c7a0e-3f3e-4c64", minorversion=75)
    sim.clock.advance(timedelta(seconds=30))
    second = us.post("invoice", body, requestid="7b0c7a0e-3f3e-4c64", minorversion=75)
    assert first.status_code == second.status_code == 200
    assert read(second) == read(first)
    assert len(us.rows("select * from Invoice where DocNumber = 'MSP-0001'")) == 1
    third = us.post("invoice", body, requestid="another-request")
    assert error_of(third)["code"] == "6140"  # a new requestid really writes (and is refused)


def test_requestid_longer_than_fifty_characters_is_refused(us: QboApi) -> None:
    response = us.post("customer", {"DisplayName": "India"}, requestid="x" * 51)
    assert response.status_code == 400 and error_of(response)["code"] == "6000"


def test_minorversion_below_75_is_accepted(us: QboApi) -> None:
    response = us.get("query", query="select * from Term", minorversion=4)
    assert response.status_code == 200


def test_preferences_and_company_info(us: QboApi) -> None:
    preferences = read(us.get("preferences"))["Preferences"]
    assert preferences["TaxPrefs"]["PartnerTaxEnabled"] is True
    updated = us.create(
        "Preferences",
        {
            "SyncToken": preferences["SyncToken"],
            "sparse": True,
            "AccountingInfoPrefs": {"BookCloseDate": "2026-06-30"},
        },
    )
    assert updated["AccountingInfoPrefs"]["BookCloseDate"] == "2026-06-30"
    assert updated["AccountingInfoPrefs"]["TrackDepartments"] is True  # the section merged
    info = read(us.get(f"companyinfo/{us.realm}"))["CompanyInfo"]
    assert info["Country"] == "US" and info["CompanyName"] == "Demo MSP (US)"


def test_without_accept_json_the_answer_is_xml(us: QboApi) -> None:
    response = us.http.get(
        us.base + "invoice/999999", headers={"Authorization": us.headers["Authorization"]}
    )
    assert response.headers["content-type"].startswith("application/xml")
    assert '<Error code="610"' in response.text
