"""Lists: paging, where, order, the explicit filters and If-Modified-Since."""

from datetime import timedelta

import pytest

from tests.sim.xero.conftest import XeroApi, read


@pytest.fixture
def invoices(xero: XeroApi) -> list[dict[str, object]]:
    made = []
    for index in range(7):
        status = "DRAFT" if index % 3 == 0 else "AUTHORISED"
        made.append(
            xero.invoice(Date=f"2026-10-{index + 1:02d}", Status=status, Reference=f"R{index}")
        )
        xero.sim.clock.advance(timedelta(minutes=1))
    return made


def numbers(response: object) -> list[str]:
    return [i["InvoiceNumber"] for i in read(response)["Invoices"]]  # type: ignore[arg-type]


def test_pages_of_a_given_size(xero: XeroApi, invoices: list[dict[str, object]]) -> None:
    second = read(xero.get("Invoices", params={"page": 2, "pageSize": 3}))
    assert second["pagination"] == {"page": 2, "pageSize": 3, "pageCount": 3, "itemCount": 7}
    assert [i["InvoiceNumber"] for i in second["Invoices"]] == ["INV-0004", "INV-0005", "INV-0006"]
    assert second["Invoices"][0]["LineItems"], "paged answers carry the lines"
    beyond = read(xero.get("Invoices", params={"page": 9}))
    assert beyond["Invoices"] == [] and beyond["pagination"]["pageSize"] == 100
    unpaged = read(xero.get("Invoices"))
    assert "pagination" not in unpaged and len(unpaged["Invoices"]) == 7
    assert all(i["LineItems"] == [] for i in unpaged["Invoices"]), "unpaged lists drop lines"
    assert (
        read(xero.get("Invoices", params={"page": 1, "pageSize": 5000}))["pagination"]["pageSize"]
        == 1000
    )


def test_where_expressions(xero: XeroApi, invoices: list[dict[str, object]]) -> None:
    contact = xero.contact_id()
    cases = {
        'Status=="AUTHORISED"': ["INV-0002", "INV-0003", "INV-0005", "INV-0006"],
        'Status!="AUTHORISED" AND Type=="ACCREC"': ["INV-0001", "INV-0004", "INV-0007"],
        "Date>=DateTime(2026,10,05) && Date<DateTime(2026,10,07)": ["INV-0005", "INV-0006"],
        f'Contact.ContactID==guid("{contact.upper()}") AND Reference=="R1"': ["INV-0002"],
        'Reference=="R0" OR (Reference.StartsWith("R6") AND Total>100)': ["INV-0001", "INV-0007"],
        'InvoiceNumber.Contains("000") AND NOT (Status=="DRAFT")': [
            "INV-0002",
            "INV-0003",
            "INV-0005",
            "INV-0006",
        ],
        "AmountDue>110": [],
    }
    for expression, expected in cases.items():
        assert numbers(xero.get("Invoices", params={"where": expression})) == expected, expression
    broken = xero.get("Invoices", params={"where": 'Status=="AUTHORISED" AND'})
    assert broken.status_code == 400
    assert read(broken)["Type"] == "QueryParseException" and read(broken)["ErrorNumber"] == 16


def test_order_and_explicit_filters(xero: XeroApi, invoices: list[dict[str, object]]) -> None:
    assert numbers(xero.get("Invoices", params={"order": "Date DESC"}))[:2] == [
        "INV-0007",
        "INV-0006",
    ]
    assert numbers(xero.get("Invoices", params={"order": "Status, InvoiceNumber DESC"}))[:3] == [
        "INV-0006",
        "INV-0005",
        "INV-0003",
    ]
    assert xero.get("Invoices", params={"order": "Date SIDEWAYS"}).status_code == 400
    ids = f"{invoices[0]['InvoiceID']},{invoices[2]['InvoiceID']}"
    assert numbers(xero.get("Invoices", params={"IDs": ids})) == ["INV-0001", "INV-0003"]
    assert numbers(xero.get("Invoices", params={"InvoiceNumbers": "INV-0004,inv-0005"})) == [
        "INV-0004",
        "INV-0005",
    ]
    assert numbers(xero.get("Invoices", params={"Statuses": "DRAFT"})) == [
        "INV-0001",
        "INV-0004",
        "INV-0007",
    ]
    assert len(numbers(xero.get("Invoices", params={"ContactIDs": xero.contact_id()}))) == 7
    assert (
        numbers(
            xero.get("Invoices", params={"ContactIDs": xero.contact_id("Contoso Dental Group")})
        )
        == []
    )


def test_if_modified_since(xero: XeroApi, invoices: list[dict[str, object]]) -> None:
    since = (xero.sim.clock.now() - timedelta(minutes=2, seconds=30)).strftime("%Y-%m-%dT%H:%M:%S")
    assert numbers(xero.get("Invoices", headers={"If-Modified-Since": since})) == [
        "INV-0006",
        "INV-0007",
    ]
    # A change moves a record into the window.
    xero.post(f"Invoices/{invoices[0]['InvoiceID']}", {"Reference": "changed"})
    assert numbers(xero.get("Invoices", headers={"If-Modified-Since": since})) == [
        "INV-0001",
        "INV-0006",
        "INV-0007",
    ]
    http_date = xero.sim.clock.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert numbers(xero.get("Invoices", headers={"If-Modified-Since": http_date})) == []


def test_records_by_id_number_and_code(xero: XeroApi, invoices: list[dict[str, object]]) -> None:
    by_number = read(xero.get("Invoices/INV-0003"))["Invoices"][0]
    assert by_number["InvoiceID"] == invoices[2]["InvoiceID"]
    assert (
        read(xero.get(f"Invoices/{invoices[2]['InvoiceID']}"))["Invoices"][0]["InvoiceNumber"]
        == "INV-0003"
    )
    assert read(xero.get("Items/MS-SEAT"))["Items"][0]["Name"] == "Managed services seat"
    assert read(xero.get("TaxRates/OUTPUT"))["TaxRates"][0]["EffectiveRate"] == 10
    missing = xero.get("Invoices/INV-9999")
    assert (
        missing.status_code == 404
        and missing.text == "The resource you're looking for cannot be found"
    )
    assert xero.get("NoSuchThing").status_code == 404


def test_contacts_search_and_archived(xero: XeroApi) -> None:
    found = read(xero.get("Contacts", params={"searchTerm": "dental"}))["Contacts"]
    assert [c["Name"] for c in found] == ["Contoso Dental Group"]
    xero.post(f"Contacts/{found[0]['ContactID']}", {"ContactStatus": "ARCHIVED"})
    names = [c["Name"] for c in read(xero.get("Contacts"))["Contacts"]]
    assert "Contoso Dental Group" not in names
    everyone = [
        c["Name"]
        for c in read(xero.get("Contacts", params={"includeArchived": "true"}))["Contacts"]
    ]
    assert "Contoso Dental Group" in everyone
