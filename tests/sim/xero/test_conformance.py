"""ACCEPTANCE 6: responses use the field names and types of Xero's OpenAPI document.

`data/xero_schema.json` is derived from the spec by `data/derive_schema.py`. Every key a
response carries must be a property of its schema (or a key the spec's own examples show, such
as `DateString`), with the property's JSON type, GUID format, enum value or `/Date(…)/` form.
"""

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.xero.conftest import XeroApi, read

SCHEMAS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "xero_schema.json").read_text()
)["schemas"]
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MS_DATE = re.compile(r"^/Date\(-?\d+(\+0000)?\)/$")


def problems(value: Any, schema_names: tuple[str, ...], where: str = "$") -> list[str]:
    """What in `value` breaks the (merged) schemas; empty when it conforms."""
    properties: dict[str, Any] = {}
    allowed: set[str] = set()
    for name in schema_names:
        properties.update(SCHEMAS[name]["properties"])
        allowed |= set(SCHEMAS[name]["example_keys"])
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {type(value).__name__}"]
    found: list[str] = []
    for key, item in value.items():
        if key in properties:
            found += _check(item, properties[key], f"{where}.{key}")
        elif key not in allowed:
            found.append(f"{where}.{key}: not in the spec's {'/'.join(schema_names)}")
    return found


def _check(value: Any, prop: dict[str, Any], where: str) -> list[str]:
    if "ref" in prop:
        target = SCHEMAS[prop["ref"]]
        if target["type"] == "object":
            return problems(value, (prop["ref"],), where)
        return _check(value, {k: v for k, v in target.items() if k != "properties"}, where)
    kind = prop["type"]
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [
            p for i, item in enumerate(value) for p in _check(item, prop["items"], f"{where}[{i}]")
        ]
    if kind == "object":
        return [] if isinstance(value, dict) else [f"{where}: expected an object"]
    if kind == "number" and not (isinstance(value, Decimal | int) and not isinstance(value, bool)):
        return [f"{where}: expected a number, got {value!r}"]
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return [f"{where}: expected an integer, got {value!r}"]
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{where}: expected a boolean, got {value!r}"]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r}"]
        if prop.get("format") == "uuid" and not GUID.match(value):
            return [f"{where}: {value!r} is not a GUID"]
        if prop.get("msdate") and not MS_DATE.match(value):
            return [f"{where}: {value!r} is not a /Date(…)/ value"]
        if "enum" in prop and value not in prop["enum"]:
            return [f"{where}: {value!r} is not one of the spec's values"]
    return []


def test_the_checker_catches_what_the_spec_forbids() -> None:
    # Guard against a checker that passes everything.
    assert problems({"InvoiceNumber": "INV-1"}, ("Invoice",)) == []
    assert problems({"InvoiceNumbr": "INV-1"}, ("Invoice",))
    assert problems({"Total": "12.00"}, ("Invoice",))
    assert problems({"Status": "OPEN"}, ("Invoice",))
    assert problems({"InvoiceID": "12"}, ("Invoice",))
    assert problems({"Date": "2026-11-02"}, ("Invoice",))
    assert problems({"LineItems": [{"Quantity": True}]}, ("Invoice",))


@pytest.fixture
def ledger(xero: XeroApi) -> dict[str, Any]:
    """A small ledger touching every resource whose answers we check."""
    invoice = xero.invoice(
        LineItems=[
            {
                "Description": "Seats",
                "Quantity": 3,
                "UnitAmount": "55.00",
                "AccountCode": "200",
                "DiscountRate": 10,
                "Tracking": [{"Name": "Region", "Option": "North"}],
            },
            {"ItemCode": "BACKUP-TB", "Quantity": 2},
        ]
    )
    payment = read(xero.pay(invoice["InvoiceID"], Decimal("50.00")))["Payments"][0]
    credit = read(
        xero.put(
            "CreditNotes",
            {
                "CreditNotes": [
                    {
                        "Type": "ACCRECCREDIT",
                        "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
                        "Date": "2026-11-03",
                        "Status": "AUTHORISED",
                        "LineItems": [
                            {
                                "Description": "Goodwill",
                                "Quantity": 1,
                                "UnitAmount": 10,
                                "AccountCode": "200",
                            }
                        ],
                    }
                ]
            },
        )
    )["CreditNotes"][0]
    allocation = xero.put(
        f"CreditNotes/{credit['CreditNoteID']}/Allocations",
        {
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 5, "Date": "2026-11-04"}
            ]
        },
    )
    return {"invoice": invoice, "payment": payment, "credit": credit, "allocation": allocation}


@pytest.mark.parametrize(
    ("path", "envelope", "schema"),
    [
        ("Invoices?page=1", "Invoices", "Invoice"),
        ("Invoices", "Invoices", "Invoice"),
        ("CreditNotes?page=1", "CreditNotes", "CreditNote"),
        ("Contacts", "Contacts", "Contact"),
        ("Items", "Items", "Item"),
        ("Accounts", "Accounts", "Account"),
        ("TaxRates", "TaxRates", "TaxRate"),
        ("Payments", "Payments", "Payment"),
        ("Organisation", "Organisations", "Organisation"),
        ("TrackingCategories", "TrackingCategories", "TrackingCategory"),
    ],
)
def test_read_answers_match_the_spec(
    xero: XeroApi, ledger: dict[str, Any], path: str, envelope: str, schema: str
) -> None:
    response = xero.get(path)
    assert response.status_code == 200
    body = read(response)
    assert body[envelope], "the sample must not be empty"
    assert problems(body, (envelope,)) == []
    for record in body[envelope]:
        assert problems(record, (schema,)) == []


def test_write_answers_and_allocations_match_the_spec(
    xero: XeroApi, ledger: dict[str, Any]
) -> None:
    assert problems(ledger["invoice"], ("Invoice",)) == []
    assert problems(ledger["payment"], ("Payment",)) == []
    assert problems(ledger["credit"], ("CreditNote",)) == []
    body = read(ledger["allocation"])
    assert problems(body, ("Allocations",)) == []
    assert problems(body["Allocations"][0], ("Allocation",)) == []


def test_other_resources_match_the_spec(
    xero: XeroApi, ledger: dict[str, Any], sim: Simulator
) -> None:
    batch = xero.put(
        "BatchPayments",
        {
            "BatchPayments": [
                {
                    "Account": {"Code": "090"},
                    "Date": "2026-11-21",
                    "Reference": "Remittance 7",
                    "Payments": [
                        {"Invoice": {"InvoiceID": ledger["invoice"]["InvoiceID"]}, "Amount": 10}
                    ],
                }
            ]
        },
    )
    journal = xero.put(
        "ManualJournals",
        {
            "ManualJournals": [
                {
                    "Narration": "Accrual",
                    "Date": "2026-11-30",
                    "Status": "POSTED",
                    "JournalLines": [
                        {"LineAmount": 100, "AccountCode": "429"},
                        {"LineAmount": -100, "AccountCode": "800"},
                    ],
                }
            ]
        },
    )
    order = xero.put(
        "PurchaseOrders",
        {
            "PurchaseOrders": [
                {
                    "Contact": {"Name": "Metro Hardware Supplies"},
                    "Date": "2026-11-05",
                    "DeliveryDate": "2026-11-12",
                    "LineItems": [
                        {"ItemCode": "HW-SWITCH-24", "Quantity": 2, "AccountCode": "310"}
                    ],
                }
            ]
        },
    )
    for response, envelope, schema in (
        (batch, "BatchPayments", "BatchPayment"),
        (journal, "ManualJournals", "ManualJournal"),
        (order, "PurchaseOrders", "PurchaseOrder"),
    ):
        assert response.status_code == 200, response.text
        body = read(response)
        assert problems(body, (envelope,)) == []
        assert problems(body[envelope][0], (schema,)) == []


def test_error_bodies_match_the_spec(xero: XeroApi) -> None:
    refused = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"Name": "Northwind Traders"},
                    "Status": "AUTHORISED",
                    "LineItems": [
                        {
                            "Description": "x",
                            "Quantity": 1,
                            "UnitAmount": 1,
                            "LineAmount": 2,
                            "AccountCode": "200",
                        }
                    ],
                }
            ]
        },
    )
    assert refused.status_code == 400
    body = read(refused)
    # Xero's Elements echo the whole invoice, so each is checked against Element and Invoice.
    assert problems({k: v for k, v in body.items() if k != "Elements"}, ("Error",)) == []
    assert body["ErrorNumber"] == 10 and body["Type"] == "ValidationException"
    for element in body["Elements"]:
        assert problems(element, ("Element", "Invoice")) == []
    partial = read(
        xero.put(
            "Contacts?summarizeErrors=false",
            {"Contacts": [{"Name": "Northwind Traders"}, {"Name": "Fresh Contact"}]},
        )
    )
    for contact in partial["Contacts"]:
        assert problems(contact, ("Contact",)) == []
