"""Contacts, items, accounts, tax rates, tracking categories, manual journals, purchase orders."""

from decimal import Decimal

from tests.sim.xero.conftest import XeroApi, messages, read


def test_contact_names_and_numbers_are_unique(xero: XeroApi) -> None:
    made = read(
        xero.put("Contacts", {"Contacts": [{"Name": "Acme Clinic", "ContactNumber": "CW-174"}]})
    )["Contacts"][0]
    assert made["ContactStatus"] == "ACTIVE" and made["ContactNumber"] == "CW-174"
    taken = xero.put("Contacts", {"Contacts": [{"Name": "acme clinic"}]})
    assert messages(taken) == [
        "The contact name acme clinic is already assigned to another contact. The contact name "
        "must be unique across all active contacts."
    ]
    number = xero.put("Contacts", {"Contacts": [{"Name": "Other", "ContactNumber": "CW-174"}]})
    assert messages(number) == ["The contact number CW-174 is already assigned to another contact."]
    # POST with the contact number updates that contact; it is found by number too.
    updated = read(
        xero.post(
            "Contacts",
            {"Contacts": [{"ContactNumber": "CW-174", "EmailAddress": "ap@acme.example"}]},
        )
    )["Contacts"][0]
    assert (
        updated["ContactID"] == made["ContactID"] and updated["EmailAddress"] == "ap@acme.example"
    )
    assert read(xero.get("Contacts/CW-174"))["Contacts"][0]["ContactID"] == made["ContactID"]
    # An archived contact's name is free for a new one.
    xero.post(f"Contacts/{made['ContactID']}", {"ContactStatus": "ARCHIVED"})
    assert xero.put("Contacts", {"Contacts": [{"Name": "Acme Clinic"}]}).status_code == 200


def test_item_codes(xero: XeroApi) -> None:
    too_long = xero.put("Items", {"Items": [{"Code": "X" * 31, "Name": "Long"}]})
    assert messages(too_long) == ["Price List Item Code must not be more than 30 characters"]
    assert xero.put("Items", {"Items": [{"Code": "X" * 30, "Name": "Fits"}]}).status_code == 200
    duplicate = xero.put("Items", {"Items": [{"Code": "ms-seat"}]})
    assert messages(duplicate) == ["Price List Item with Code 'ms-seat' already exists"]
    updated = read(
        xero.post(
            "Items",
            {
                "Items": [
                    {
                        "Code": "MS-SEAT",
                        "SalesDetails": {"UnitPrice": "59.50", "AccountCode": "200"},
                    }
                ]
            },
        )
    )["Items"][0]
    assert updated["SalesDetails"]["UnitPrice"] == Decimal("59.50") and updated["IsSold"] is True
    assert xero.invoice(LineItems=[{"ItemCode": "MS-SEAT", "Quantity": 2}])["SubTotal"] == Decimal(
        "119.00"
    )


def test_accounts(xero: XeroApi) -> None:
    made = read(
        xero.put("Accounts", {"Code": "201", "Name": "Managed Services Revenue", "Type": "REVENUE"})
    )["Accounts"][0]
    assert (made["Class"], made["TaxType"], made["Status"]) == ("REVENUE", "OUTPUT", "ACTIVE")
    assert messages(xero.put("Accounts", {"Code": "202", "Name": "sales", "Type": "REVENUE"})) == [
        "Please enter a unique Name."
    ]
    assert messages(
        xero.put("Accounts", {"Code": "200", "Name": "Another", "Type": "REVENUE"})
    ) == ["Please enter a unique Code."]
    renamed = read(
        xero.post(f"Accounts/{made['AccountID']}", {"Accounts": [{"Name": "MSP Revenue"}]})
    )["Accounts"][0]
    assert renamed["Name"] == "MSP Revenue"
    archived = xero.post(f"Accounts/{made['AccountID']}", {"Accounts": [{"Status": "ARCHIVED"}]})
    assert read(archived)["Accounts"][0]["Status"] == "ARCHIVED"
    refused = xero.put(
        "Invoices",
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"Name": "A"},
                    "Status": "AUTHORISED",
                    "LineItems": [
                        {"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "201"}
                    ],
                }
            ]
        },
    )
    assert messages(refused) == ["Account code '201' has been archived, or deleted."]
    banks = read(xero.get("Accounts", params={"where": 'Type=="BANK"'}))["Accounts"]
    assert [a["Code"] for a in banks] == ["090", "091"]


def test_tax_rates_and_tracking(xero: XeroApi) -> None:
    rate = read(
        xero.put(
            "TaxRates",
            {
                "TaxRates": [
                    {"Name": "Luxury Tax", "TaxComponents": [{"Name": "LCT", "Rate": "33"}]}
                ]
            },
        )
    )["TaxRates"][0]
    assert (rate["TaxType"], rate["EffectiveRate"]) == ("TAX001", Decimal("33"))
    invoice = xero.invoice(
        LineItems=[
            {
                "Description": "Car",
                "Quantity": 1,
                "UnitAmount": 100,
                "AccountCode": "200",
                "TaxType": "TAX001",
            }
        ]
    )
    assert invoice["TotalTax"] == Decimal("33.00")
    categories = read(xero.get("TrackingCategories"))["TrackingCategories"]
    assert [c["Name"] for c in categories] == ["Region", "Service Line"]
    third = xero.put("TrackingCategories", {"Name": "Department"})
    assert messages(third) == ["An organisation can only have 2 active tracking categories."]
    region = categories[0]["TrackingCategoryID"]
    option = read(
        xero.put(f"TrackingCategories/{region}/Options", {"Options": [{"Name": "Central"}]})
    )["Options"][0]
    assert option["Name"] == "Central"
    tagged = xero.invoice(
        LineItems=[
            {
                "Description": "x",
                "Quantity": 1,
                "UnitAmount": 1,
                "AccountCode": "200",
                "Tracking": [
                    {"TrackingCategoryID": region, "TrackingOptionID": option["TrackingOptionID"]}
                ],
            }
        ]
    )
    assert tagged["LineItems"][0]["Tracking"][0]["Option"] == "Central"
    three = [{"Name": "Region", "Option": "North"}] * 3
    assert messages(
        xero.put(
            "Invoices",
            {
                "Invoices": [
                    {
                        "Type": "ACCREC",
                        "Contact": {"Name": "A"},
                        "LineItems": [
                            {
                                "Description": "x",
                                "Quantity": 1,
                                "UnitAmount": 1,
                                "AccountCode": "200",
                                "Tracking": three,
                            }
                        ],
                    }
                ]
            },
        )
    ) == ["A line item can have a maximum of 2 tracking categories."]


def test_manual_journals_must_balance(xero: XeroApi) -> None:
    lopsided = xero.put(
        "ManualJournals",
        {
            "ManualJournals": [
                {
                    "Narration": "Accrual",
                    "JournalLines": [
                        {"LineAmount": 100, "AccountCode": "429"},
                        {"LineAmount": -10, "AccountCode": "800"},
                    ],
                }
            ]
        },
    )
    assert messages(lopsided) == ["The total debits (100.00) must equal total credits (-10.00)"]
    unknown = xero.put(
        "ManualJournals",
        {
            "ManualJournals": [
                {
                    "Narration": "x",
                    "JournalLines": [
                        {"LineAmount": 1, "AccountCode": "476"},
                        {"LineAmount": -1, "AccountCode": "800"},
                    ],
                }
            ]
        },
    )
    assert messages(unknown) == [
        "Account code '476' has been removed as it does not match a recognised account."
    ]
    posted = read(
        xero.put(
            "ManualJournals",
            {
                "ManualJournals": [
                    {
                        "Narration": "COGS",
                        "Date": "2026-11-30",
                        "Status": "POSTED",
                        "JournalLines": [
                            {"LineAmount": "310.00", "AccountCode": "310"},
                            {"LineAmount": "-310.00", "AccountCode": "630"},
                        ],
                    }
                ]
            },
        )
    )["ManualJournals"][0]
    assert (posted["Status"], posted["LineAmountTypes"]) == ("POSTED", "NoTax")
    voided = read(xero.post(f"ManualJournals/{posted['ManualJournalID']}", {"Status": "VOIDED"}))[
        "ManualJournals"
    ][0]
    assert voided["Status"] == "VOIDED"


def test_purchase_orders(xero: XeroApi) -> None:
    order = read(
        xero.put(
            "PurchaseOrders",
            {
                "PurchaseOrders": [
                    {
                        "Contact": {"Name": "Metro Hardware Supplies"},
                        "Date": "2026-11-05",
                        "LineItems": [{"ItemCode": "HW-SWITCH-24", "Quantity": 2}],
                    }
                ]
            },
        )
    )["PurchaseOrders"][0]
    assert (order["PurchaseOrderNumber"], order["Status"], order["SubTotal"]) == (
        "PO-0001",
        "DRAFT",
        Decimal("620.00"),
    )
    assert order["LineItems"][0]["AccountCode"] == "310"  # from the item's purchase details
    again = xero.put(
        "PurchaseOrders",
        {
            "PurchaseOrders": [
                {
                    "PurchaseOrderNumber": "PO-0001",
                    "Contact": {"Name": "Metro Hardware Supplies"},
                    "LineItems": [],
                }
            ]
        },
    )
    assert messages(again) == ["Order number must be unique"]
    assert (
        read(xero.get("PurchaseOrders/PO-0001"))["PurchaseOrders"][0]["PurchaseOrderID"]
        == order["PurchaseOrderID"]
    )
    authorised = read(
        xero.post(f"PurchaseOrders/{order['PurchaseOrderID']}", {"Status": "AUTHORISED"})
    )["PurchaseOrders"][0]
    assert authorised["Status"] == "AUTHORISED"
    listed = read(
        xero.get(
            "PurchaseOrders",
            params={"Status": "AUTHORISED", "DateFrom": "2026-11-01", "DateTo": "2026-11-30"},
        )
    )
    assert [p["PurchaseOrderNumber"] for p in listed["PurchaseOrders"]] == ["PO-0001"]
