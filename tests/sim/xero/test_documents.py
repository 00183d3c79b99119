"""Invoices and credit notes: arithmetic per LineAmountTypes, numbering, statuses, rules."""

from decimal import Decimal
from typing import Any

import pytest

from tests.sim.xero.conftest import XeroApi, messages, read


def line(**fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"Description": "Service", "Quantity": 1, "AccountCode": "200"}
    found.update(fields)
    return found


@pytest.mark.parametrize(
    ("amount_types", "sub_total", "tax", "total"),
    [
        # Two lines of 33.33 at AU GST 10 %: tax rounds per line (3.33 + 3.33), not on the sum.
        ("Exclusive", "66.66", "6.66", "73.32"),
        # Inclusive: the tax inside 33.33 is 3.03 per line; the subtotal is what is left.
        ("Inclusive", "60.60", "6.06", "66.66"),
        ("NoTax", "66.66", "0.00", "66.66"),
    ],
)
def test_totals_follow_the_line_amount_type(
    xero: XeroApi, amount_types: str, sub_total: str, tax: str, total: str
) -> None:
    invoice = xero.invoice(
        LineAmountTypes=amount_types,
        LineItems=[line(UnitAmount="33.33", TaxType="OUTPUT"), line(UnitAmount="33.33")],
    )
    assert invoice["LineAmountTypes"] == amount_types
    assert (invoice["SubTotal"], invoice["TotalTax"], invoice["Total"]) == (
        Decimal(sub_total),
        Decimal(tax),
        Decimal(total),
    )
    assert invoice["AmountDue"] == Decimal(total)
    assert invoice["AmountPaid"] == invoice["AmountCredited"] == 0


def test_discounts_quantities_and_unit_decimals(xero: XeroApi) -> None:
    invoice = xero.invoice(
        LineItems=[
            line(Quantity="2.5", UnitAmount="19.99", DiscountRate=15),
            line(Quantity=3, UnitAmount=10, DiscountAmount="1.50"),
        ]
    )
    first, second = invoice["LineItems"]
    assert first["LineAmount"] == Decimal("42.48")  # 2.5 x 19.99 = 49.975, less 15 % = 42.47875
    assert second["LineAmount"] == Decimal("28.50")
    assert invoice["TotalDiscount"] == Decimal("9.00")  # 49.98 - 42.48 + 1.50
    assert invoice["IsDiscounted"] is True
    # Unit amounts keep two decimals unless the caller opts into four.
    two = xero.invoice(LineItems=[line(UnitAmount="1.23456")])
    assert two["LineItems"][0]["UnitAmount"] == Decimal("1.23")
    response = xero.put(
        "Invoices?unitdp=4",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"Name": "Northwind Traders"},
                    "LineItems": [line(Quantity=1000, UnitAmount="0.01234")],
                }
            ]
        },
    )
    four = read(response)["Invoices"][0]
    assert four["LineItems"][0]["UnitAmount"] == Decimal("0.0123")
    assert four["LineItems"][0]["LineAmount"] == Decimal("12.30")


def test_a_supplied_line_total_must_match_quantity_times_unit(xero: XeroApi) -> None:
    ok = xero.invoice(LineItems=[line(Quantity=3, UnitAmount="9.99", LineAmount="29.97")])
    assert ok["LineItems"][0]["LineAmount"] == Decimal("29.97")
    refused = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"Name": "Northwind Traders"},
                    "LineItems": [line(Quantity=3, UnitAmount="9.99", LineAmount="29.98")],
                }
            ]
        },
    )
    assert refused.status_code == 400
    assert messages(refused) == [
        "The line total 29.98 does not match the expected line total 29.97"
    ]


def test_item_codes_fill_the_line_from_the_item(xero: XeroApi) -> None:
    invoice = xero.invoice(LineItems=[{"ItemCode": "MS-SEAT", "Quantity": 42}])
    filled = invoice["LineItems"][0]
    assert filled["UnitAmount"] == Decimal("55.00")
    assert filled["AccountCode"] == "200" and filled["TaxType"] == "OUTPUT"
    assert filled["Item"]["Code"] == "MS-SEAT"
    assert invoice["Total"] == Decimal("2541.00")
    unknown = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"Name": "X"},
                    "LineItems": [{"ItemCode": "NOPE", "Quantity": 1}],
                }
            ]
        },
    )
    assert "Item code 'NOPE' is not valid" in messages(unknown)


def test_country_tax_rates_apply(xero: XeroApi, sim_http: Any, sim: Any) -> None:
    from tests.sim.xero.conftest import NZ, UK, US
    from tests.sim.xero.conftest import XeroApi as Api

    expected = {NZ: ("OUTPUT2", "15.00"), UK: ("OUTPUT2", "20.00"), US: ("TAX001", "8.88")}
    for tenant, (tax_type, tax) in expected.items():
        api = Api(sim_http, sim, tenant)
        invoice = api.invoice(LineItems=[line(UnitAmount=100)])
        assert invoice["LineItems"][0]["TaxType"] == tax_type
        assert invoice["TotalTax"] == Decimal(tax)
        assert invoice["CurrencyCode"] == {NZ: "NZD", UK: "GBP", US: "USD"}[tenant]


def test_sales_invoice_numbers_are_unique_and_allocated_when_omitted(xero: XeroApi) -> None:
    first = xero.invoice()
    second = xero.invoice()
    assert first["InvoiceNumber"] == "INV-0001" and second["InvoiceNumber"] == "INV-0002"
    duplicate = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "InvoiceNumber": "inv-0001",
                    "Contact": {"Name": "Northwind Traders"},
                    "LineItems": [line(UnitAmount=1)],
                }
            ]
        },
    )
    assert duplicate.status_code == 400 and messages(duplicate) == ["Invoice # must be unique."]
    # Bills carry the supplier's number, which need not be unique.
    for _ in range(2):
        bill = xero.invoice(
            Type="ACCPAY",
            InvoiceNumber="SUP-77",
            Contact={"Name": "Metro Hardware Supplies"},
            LineItems=[line(UnitAmount=10, AccountCode="429")],
        )
        assert bill["InvoiceNumber"] == "SUP-77" and bill["TotalTax"] == Decimal("1.00")


def test_post_updates_by_id_and_by_number(xero: XeroApi) -> None:
    draft = xero.invoice(Status="DRAFT", InvoiceNumber="MSP-9")
    by_id = read(xero.post(f"Invoices/{draft['InvoiceID']}", {"Reference": "PO 1"}))["Invoices"][0]
    assert by_id["Reference"] == "PO 1" and by_id["InvoiceID"] == draft["InvoiceID"]
    by_number = read(
        xero.post(
            "Invoices",
            {"Invoices": [{"InvoiceNumber": "MSP-9", "LineItems": [line(UnitAmount=250)]}]},
        )
    )["Invoices"][0]
    assert by_number["InvoiceID"] == draft["InvoiceID"] and by_number["SubTotal"] == Decimal(
        "250.00"
    )
    # Lines left out of an update are removed; the one named by LineItemID keeps its id.
    kept = by_number["LineItems"][0]["LineItemID"]
    again = read(
        xero.post(
            f"Invoices/{draft['InvoiceID']}",
            {"LineItems": [line(LineItemID=kept, UnitAmount=5), line(UnitAmount=6)]},
        )
    )["Invoices"][0]
    assert [li["LineItemID"] == kept for li in again["LineItems"]] == [True, False]
    missing = xero.post(
        "Invoices",
        {"Invoices": [{"InvoiceID": "0c1d2e3f-0000-4000-8000-000000000000", "Reference": "x"}]},
    )
    assert messages(missing) == [
        "The document with the supplied id was not found for this endpoint."
    ]


def test_status_transitions(xero: XeroApi) -> None:
    def move(invoice: dict[str, Any], status: str) -> Any:
        return xero.post(f"Invoices/{invoice['InvoiceID']}", {"Status": status})

    draft = xero.invoice(Status="DRAFT")
    assert read(move(draft, "SUBMITTED"))["Invoices"][0]["Status"] == "SUBMITTED"
    assert read(move(draft, "AUTHORISED"))["Invoices"][0]["Status"] == "AUTHORISED"
    assert messages(move(draft, "DRAFT")) == ["Invoice not of valid status for modification"]
    assert messages(move(draft, "DELETED")) == ["Invoice not of valid status for modification"]
    voided = read(move(draft, "VOIDED"))["Invoices"][0]
    assert voided["Status"] == "VOIDED" and voided["AmountDue"] == 0
    assert messages(move(draft, "AUTHORISED")) == ["Invoice not of valid status for modification"]

    doomed = xero.invoice(Status="SUBMITTED")
    assert read(move(doomed, "DELETED"))["Invoices"][0]["Status"] == "DELETED"
    assert messages(
        xero.put(
            "Invoices",
            {
                "Invoices": [
                    {
                        "Type": "ACCREC",
                        "Status": "PAID",
                        "Contact": {"Name": "A"},
                        "LineItems": [line(UnitAmount=1)],
                    }
                ]
            },
        )
    ) == ["A new invoice can only be DRAFT, SUBMITTED or AUTHORISED."]

    paid_in_part = xero.invoice()
    assert xero.pay(paid_in_part["InvoiceID"], 10).status_code == 200
    assert messages(move(paid_in_part, "VOIDED")) == [
        "The status VOIDED cannot be applied to the invoice because it has payments or credit "
        "notes allocated to it."
    ]
    edit = xero.post(f"Invoices/{paid_in_part['InvoiceID']}", {"LineItems": [line(UnitAmount=500)]})
    assert messages(edit) == [
        "This document cannot be edited as it has a payment or credit note allocated to it."
    ]
    # Some fields stay editable with money applied.
    noted = xero.post(f"Invoices/{paid_in_part['InvoiceID']}", {"Reference": "Paid by card"})
    assert read(noted)["Invoices"][0]["Reference"] == "Paid by card"


def test_line_validation_texts(xero: XeroApi) -> None:
    def refused(**fields: Any) -> list[str]:
        body = {
            "Type": "ACCREC",
            "Contact": {"Name": "Northwind Traders"},
            "Status": "AUTHORISED",
            "LineItems": [line(UnitAmount=1, **fields)],
        }
        response = xero.put("Invoices", {"Invoices": [body]})
        assert response.status_code == 400
        return messages(response)

    assert refused(AccountCode="999") == [
        "Account code '999' is not a valid code for this document."
    ]
    assert refused(TaxType="INPUT") == [
        "The TaxType code 'INPUT' cannot be used with account code '200'."
    ]
    assert refused(Description=None) == ["The description field is mandatory for each line item."]
    assert refused(Tracking=[{"Name": "Region", "Option": "Mars"}]) == [
        "The tracking option 'Mars' does not exist in the tracking category 'Region'."
    ]
    # Drafts may be incomplete.
    draft = xero.invoice(
        Status="DRAFT", LineItems=[{"Description": "TBC", "Quantity": 1, "UnitAmount": 1}]
    )
    assert draft["Status"] == "DRAFT"


def test_contacts_named_on_documents(xero: XeroApi) -> None:
    created = xero.invoice(Contact={"Name": "Brand New Client Ltd"})
    contacts = read(xero.get("Contacts", params={"where": 'Name=="Brand New Client Ltd"'}))[
        "Contacts"
    ]
    assert [c["ContactID"] for c in contacts] == [created["Contact"]["ContactID"]]
    assert contacts[0]["IsCustomer"] is True
    unnamed = xero.put(
        "Invoices",
        {"Invoices": [{"Type": "ACCREC", "Contact": {}, "LineItems": [line(UnitAmount=1)]}]},
    )
    assert messages(unnamed) == [
        "The Contact must contain at least 1 of the following elements to identify the contact: "
        "Name, ContactID, ContactNumber"
    ]
    xero.post(f"Contacts/{created['Contact']['ContactID']}", {"ContactStatus": "ARCHIVED"})
    archived = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": created["Contact"]["ContactID"]},
                    "LineItems": [line(UnitAmount=1)],
                }
            ]
        },
    )
    assert messages(archived) == [
        "The contact must be un-archived before creating new invoices or credit notes."
    ]


def test_lock_dates_refuse_approved_documents_on_or_before_them(xero: XeroApi) -> None:
    from ledgerbridge_sim.xero import app as xero_app

    open_before = xero.invoice(Date="2026-06-15")
    xero_app.seed(
        xero.sim,
        {
            "tenant": xero.tenant,
            "Organisation": {"PeriodLockDate": "2026-06-30", "EndOfYearLockDate": "2026-03-31"},
        },
    )
    org = read(xero.get("Organisation"))["Organisations"][0]
    assert org["PeriodLockDate"] == "/Date(1782777600000+0000)/"
    on_lock = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Date": "2026-06-30",
                    "Status": "AUTHORISED",
                    "Contact": {"Name": "A"},
                    "LineItems": [line(UnitAmount=1)],
                }
            ]
        },
    )
    assert messages(on_lock) == [
        "The document date cannot be before the period lock date, currently set at 30-Jun-2026"
    ]
    both = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Date": "2026-01-10",
                    "Status": "AUTHORISED",
                    "Contact": {"Name": "A"},
                    "LineItems": [line(UnitAmount=1)],
                }
            ]
        },
    )
    assert messages(both) == [
        "The document date cannot be before the period lock date, currently set at 30-Jun-2026",
        "The document date cannot be before the end of year lock date, currently set at "
        "31-Mar-2026",
    ]
    # Drafts are still allowed, and the day after the lock is open.
    assert xero.invoice(Date="2026-06-30", Status="DRAFT")["Status"] == "DRAFT"
    assert xero.invoice(Date="2026-07-01")["Status"] == "AUTHORISED"
    # Voiding or paying a document in the locked period is refused too.
    voided = xero.post(f"Invoices/{open_before['InvoiceID']}", {"Status": "VOIDED"})
    assert "period lock date" in messages(voided)[0]
    assert (
        "period lock date" in messages(xero.pay(open_before["InvoiceID"], 1, Date="2026-06-01"))[0]
    )
    # An adviser may write into the period lock, never into the end-of-year lock.
    xero.sim.settings["xero"]["adviser"] = True
    assert xero.invoice(Date="2026-06-30")["Status"] == "AUTHORISED"
    year_end = {
        "Type": "ACCREC",
        "Date": "2026-03-31",
        "Status": "AUTHORISED",
        "Contact": {"Name": "A"},
        "LineItems": [line(UnitAmount=1)],
    }
    assert messages(xero.put("Invoices", {"Invoices": [year_end]})) == [
        "The document date cannot be before the end of year lock date, currently set at 31-Mar-2026"
    ]


def test_credit_notes_number_and_total_like_invoices(xero: XeroApi) -> None:
    body = {
        "Type": "ACCRECCREDIT",
        "Contact": {"Name": "Northwind Traders"},
        "Status": "AUTHORISED",
        "LineItems": [line(UnitAmount=20)],
    }
    note = read(xero.put("CreditNotes", {"CreditNotes": [body]}))["CreditNotes"][0]
    assert note["CreditNoteNumber"] == "CN-0001"
    assert (note["Total"], note["RemainingCredit"]) == (Decimal("22.00"), Decimal("22.00"))
    fetched = read(xero.get("CreditNotes/CN-0001"))["CreditNotes"][0]
    assert fetched["CreditNoteID"] == note["CreditNoteID"]
