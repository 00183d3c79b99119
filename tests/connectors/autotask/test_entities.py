"""Vendor JSON → typed values, from payloads reconstructed from Autotask's documentation."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge.connectors.autotask import entities as e

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return e.decode((FIXTURES / name).read_bytes())


def test_decode_keeps_money_exact() -> None:
    assert e.decode(b'{"invoiceTotal": 0.1, "n": 3}') == {"invoiceTotal": Decimal("0.1"), "n": 3}


def test_zone_information() -> None:
    zone = e.parse_zone_information(load("zone_information.json"))
    assert zone == e.ZoneInformation(
        "America West",
        "http://127.0.0.1:8900/autotask/zone5/ATServicesRest/",
        "http://127.0.0.1:8900/autotask/ui5/",
        123456,
    )
    # The Swagger spells the same fields in PascalCase.
    assert e.parse_zone_information({"ZoneName": "EU", "Url": "https://x/", "CI": 1}).url == (
        "https://x/"
    )
    with pytest.raises(e.VendorDataError, match="no url"):
        e.parse_zone_information({"zoneName": "EU"})


def test_invoice_page() -> None:
    body = load("invoices_page.json")
    invoice, credit = (e.parse_invoice(item) for item in body["items"])
    assert invoice.id == 29684512
    assert invoice.invoice_number == "T20240131.0001"
    assert invoice.company_id == 174
    assert invoice.total == Decimal("1082.50")
    assert invoice.total_tax == Decimal("82.50")
    assert invoice.invoice_date == datetime(2024, 1, 31, 5, tzinfo=UTC)
    assert invoice.due_date == date(2024, 3, 1)
    assert invoice.from_date == date(2024, 1, 1)
    assert invoice.payment_term_id == 1
    assert invoice.order_number == "PO-7781"
    assert invoice.paid_date is None and invoice.web_service_date is None
    assert not invoice.is_voided and not invoice.is_credit
    assert credit.is_credit and credit.total == Decimal("-108.25")
    assert credit.order_number == ""  # null reads as empty text

    details = e.parse_page_details(body)
    assert details.count == 2 and details.request_count == 500
    assert details.next_page_url is not None
    assert "/Invoices/query/next?paging=" in details.next_page_url
    assert details.prev_page_url is None


def test_paid_invoice_dates() -> None:
    invoice = e.parse_invoice(load("invoice_paid.json")["item"])
    assert invoice.paid_date == date(2024, 2, 15)  # date only, time dropped
    assert invoice.web_service_date == datetime(2024, 1, 2, 14, 3, 7, 123000, tzinfo=UTC)
    assert invoice.total == Decimal(500)


def test_billing_items_keep_seven_decimal_quantities() -> None:
    first, second = (e.parse_billing_item(item) for item in load("billing_items.json")["items"])
    assert first.quantity == Decimal("2.5") and first.rate == Decimal("150.00")
    assert first.extended_price == Decimal("375.00")
    assert first.tax_dollars == Decimal("30.94")
    assert first.total_amount == Decimal("405.94")
    assert first.non_billable is False  # 0/1 integer on the wire
    assert first.ticket_id == 31 and first.project_id is None
    assert second.quantity == Decimal("12.0000125")
    assert second.rate == Decimal("52.083333")
    assert second.purchase_order_number == "PO-7781"


def test_companies_pick_the_bill_to_address() -> None:
    billed, plain = (e.parse_company(item) for item in load("companies.json")["items"])
    assert billed.name == "Riverside Dental Group"
    assert billed.address_lines == ("PO Box 88",)
    assert (billed.city, billed.postal_code, billed.country_id) == ("Austin", "78701", 237)
    assert billed.tax_id == "74-1234567" and billed.tax_region_id == 3
    assert plain.address_lines == ("1 Main St",)
    assert plain.is_tax_exempt and plain.tax_id == ""
    row = e.Row(load("companies.json")["items"][0])
    assert e.user_defined_fields(row) == {"Xero Contact": "RDG"}


def test_contacts_is_active_is_an_integer() -> None:
    active, inactive = (e.parse_contact(item) for item in load("contacts.json")["items"])
    assert active.is_active and active.is_primary
    assert active.name == "Dana Ruiz" and active.email == "accounts@riverside.example"
    assert not inactive.is_active
    assert inactive.phone == "512-555-0199"  # falls back to the mobile


def test_products_taxes_terms() -> None:
    (product,) = (e.parse_product(item) for item in load("products.json")["items"])
    assert product.unit_price == Decimal("1149.99")
    assert len(product.sku) > 50  # long product ids survive
    state, city = (e.parse_tax(item) for item in load("taxes.json")["items"])
    assert state.rate_percent == Decimal("6.25") and city.rate_percent == Decimal("2.0")
    assert state.tax_region_id == 3 and state.tax_category_id == 2
    taxable, exempt = (e.parse_tax_category(item) for item in load("tax_categories.json")["items"])
    assert taxable.is_active and not exempt.is_active
    net30, receipt = (e.parse_payment_term(item) for item in load("payment_terms.json")["items"])
    assert net30.due_in_days == 30 and receipt.due_in_days == 0


def test_entity_fields_and_picklists() -> None:
    fields = e.parse_entity_fields(load("invoice_fields.json"))
    term = fields["paymentterm"]
    assert term.is_pick_list and term.label_for(1) == "Net 30"
    assert term.label_for("2") == "Due on receipt" and term.label_for(9) is None
    assert not fields["duedate"].is_queryable
    assert fields["companyid"].reference_entity_type == "Company"
    assert fields["companyid"].picklist == ()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("zone_unknown_user", "Zone information could not be determined"),
        ("validation", "you must assign both"),
        ("permission", "adequate permissions"),
        ("thread_threshold", "thread threshold of 3 threads"),
        ("method_not_allowed", "does not support http method 'GET'"),
    ],
)
def test_error_messages(name: str, text: str) -> None:
    case = json.loads((FIXTURES / "errors.json").read_text())[name]
    (message,) = e.error_messages(case["body"])
    assert text in message


def test_error_messages_odd_shapes() -> None:
    assert e.error_messages(None) == []
    assert e.error_messages({"errors": [{"message": "boom"}, None, ""]}) == ["boom"]
    assert e.error_messages({"errors": "single"}) == ["single"]


def test_bad_vendor_values_say_where() -> None:
    with pytest.raises(e.VendorDataError, match="Invoice 5: invoiceTotal should be a number"):
        e.parse_invoice({"id": 5, "companyID": 1, "invoiceTotal": "lots"})
    with pytest.raises(e.VendorDataError, match="has no companyID"):
        e.parse_invoice({"id": 5})
    with pytest.raises(e.VendorDataError, match="should be a number"):
        e.parse_invoice({"id": 5, "companyID": 1, "invoiceTotal": 1.5})  # a float is a decode bug
    with pytest.raises(e.VendorDataError, match="not a date"):
        e.parse_invoice({"id": 5, "companyID": 1, "paidDate": "soon"})
