"""Line pricing, tax outside the US and automated sales tax in it, payments and credit memos."""

from decimal import Decimal
from typing import Any

from tests.sim.qbo.conftest import QboApi, error_of, read, sales_line


def _ids(api: QboApi, customer: str, item: str) -> tuple[str, str]:
    return (
        api.one("Customer", f"DisplayName = '{customer}'")["Id"],
        api.one("Item", f"Name = '{item}'")["Id"],
    )


def _tax_code(api: QboApi, name: str) -> str:
    return str(api.one("TaxCode", f"Name = '{name}'")["Id"])


def _rate_percents(api: QboApi, invoice: dict[str, Any]) -> dict[str, Decimal]:
    found = {}
    for line in invoice["TxnTaxDetail"]["TaxLine"]:
        rate = api.fetch("TaxRate", line["TaxLineDetail"]["TaxRateRef"]["value"])
        found[rate["Name"]] = line["Amount"]
    return found


def test_uk_vat_per_line_with_a_discount_and_subtotal_line(uk: QboApi) -> None:
    customer, item = _ids(uk, "Acme Dental", "Per Seat")
    standard, zero = _tax_code(uk, "20.0% S"), _tax_code(uk, "0.0% Z")
    invoice = uk.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer},
            "Line": [
                {**sales_line(item, 42, "55", standard), "Amount": Decimal("2310.00")},
                sales_line(item, 2, "12.50", zero),
                {
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
                },
            ],
        },
    )
    kinds = [line["DetailType"] for line in invoice["Line"]]
    assert kinds == [
        "SalesItemLineDetail",
        "SalesItemLineDetail",
        "SubTotalLineDetail",
        "DiscountLineDetail",
    ]
    assert invoice["Line"][2]["Amount"] == Decimal("2335.00")
    assert invoice["Line"][3]["Amount"] == Decimal("233.50")
    # VAT on the discounted standard-rated base: 2310 x 0.9 x 20 % = 415.80.
    assert _rate_percents(uk, invoice) == {"20.0% S": Decimal("415.80"), "0.0% Z": Decimal("0.00")}
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("415.80")
    assert invoice["TotalAmt"] == Decimal("2335.00") - Decimal("233.50") + Decimal("415.80")
    assert invoice["Balance"] == invoice["TotalAmt"]


def test_canada_tax_group_splits_into_one_tax_line_per_rate(ca: QboApi) -> None:
    customer, item = _ids(ca, "Birch Legal", "Labour")
    invoice = ca.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer},
            "Line": [sales_line(item, 3, "33.33", _tax_code(ca, "GST/PST BC"))],
        },
    )
    # 99.99 at GST 5 % and PST 7 %, each rounded once.
    assert _rate_percents(ca, invoice) == {"GST": Decimal("5.00"), "PST BC": Decimal("7.00")}
    assert invoice["TotalAmt"] == Decimal("111.99")
    line = invoice["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]
    assert line["NetAmountTaxable"] == Decimal("99.99") and line["PercentBased"] is True


def test_tax_inclusive_amounts_are_split_into_net_and_tax(uk: QboApi) -> None:
    customer, item = _ids(uk, "Acme Dental", "Labour")
    invoice = uk.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer},
            "GlobalTaxCalculation": "TaxInclusive",
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": Decimal("120.00"),
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item},
                        "TaxCodeRef": {"value": _tax_code(uk, "20.0% S")},
                    },
                }
            ],
        },
    )
    assert invoice["Line"][0]["Amount"] == Decimal("100.00")
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("20.00")
    assert invoice["TotalAmt"] == Decimal("120.00")


def test_outside_the_us_every_line_needs_a_tax_code(uk: QboApi) -> None:
    customer, item = _ids(uk, "Acme Dental", "Labour")
    response = uk.post(
        "invoice", {"CustomerRef": {"value": customer}, "Line": [sales_line(item, 1, "150")]}
    )
    error = error_of(response)
    assert error["code"] == "6000"
    assert "have a VAT rate" in error["Detail"]


def test_us_automated_sales_tax_follows_the_customer_state(us: QboApi) -> None:
    totals = {}
    for customer_name in ("Acme Dental", "Birch Legal", "Cedar Logistics"):  # CA, NY, TX
        customer, item = _ids(us, customer_name, "Labour")
        invoice = us.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer},
                "Line": [sales_line(item, 4, "100", "TAX"), sales_line(item, 1, "50", "NON")],
            },
        )
        totals[customer_name] = invoice["TxnTaxDetail"]["TotalTax"]
        assert invoice["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"][
            "NetAmountTaxable"
        ] == Decimal("400.00")
        assert invoice["TotalAmt"] == Decimal("450.00") + totals[customer_name]
    assert totals == {
        "Acme Dental": Decimal("29.00"),
        "Birch Legal": Decimal("35.50"),
        "Cedar Logistics": Decimal("33.00"),
    }


def test_us_tax_falls_back_to_the_company_state_and_honours_a_sent_total(us: QboApi) -> None:
    stateless = us.create("Customer", {"DisplayName": "Mike Media"})
    item = us.one("Item", "Name = 'Labour'")["Id"]
    body = {"CustomerRef": {"value": stateless["Id"]}, "Line": [sales_line(item, 2, "100", "TAX")]}
    assert us.create("Invoice", body)["TxnTaxDetail"]["TotalTax"] == Decimal("14.50")  # CA 7.25 %
    sent = us.create("Invoice", {**body, "TxnTaxDetail": {"TotalTax": 0}})
    assert sent["TxnTaxDetail"]["TotalTax"] == 0 and sent["TotalAmt"] == Decimal("200.00")
    exempt = us.create("Customer", {"DisplayName": "November Nonprofit", "Taxable": False})
    untaxed = us.create("Invoice", {**body, "CustomerRef": {"value": exempt["Id"]}})
    assert untaxed["TxnTaxDetail"]["TotalTax"] == 0
    assert untaxed["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}


def test_qty_times_unit_price_must_equal_amount(us: QboApi) -> None:
    customer, item = _ids(us, "Acme Dental", "Labour")
    wrong = {**sales_line(item, 3, "10"), "Amount": Decimal("31.00")}
    response = us.post("invoice", {"CustomerRef": {"value": customer}, "Line": [wrong]})
    assert error_of(response)["code"] == "6000"
    assert "Amount is not equal to UnitPrice * Qty" in error_of(response)["Detail"]
    derived = us.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": Decimal("90"),
                    "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 4},
                }
            ],
        },
    )
    assert derived["Line"][0]["SalesItemLineDetail"]["UnitPrice"] == Decimal("22.5")


def _us_invoice(api: QboApi, customer: str, amount: str) -> dict[str, Any]:
    customer_id, item = _ids(api, customer, "Labour")
    return api.create(
        "Invoice",
        {"CustomerRef": {"value": customer_id}, "Line": [sales_line(item, 1, amount, "NON")]},
    )


def _payment(customer: str, total: str, *links: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "CustomerRef": {"value": customer},
        "TotalAmt": Decimal(total),
        "Line": [
            {"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": txn_id, "TxnType": kind}]}
            for txn_id, kind, amount in links
        ],
    }


def test_payments_reduce_balances_and_keep_the_rest_unapplied(us: QboApi) -> None:
    first = _us_invoice(us, "Acme Dental", "2210")
    second = _us_invoice(us, "Acme Dental", "300")
    customer = first["CustomerRef"]["value"]
    assert us.fetch("Customer", customer)["Balance"] == Decimal("2510.00")
    payment = us.create(
        "Payment",
        _payment(
            customer, "2500", (first["Id"], "Invoice", "2210"), (second["Id"], "Invoice", "190")
        ),
    )
    assert payment["UnappliedAmt"] == Decimal("100.00")
    paid = us.fetch("Invoice", first["Id"])
    assert paid["Balance"] == 0 and paid["SyncToken"] == "1"
    assert paid["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert us.fetch("Invoice", second["Id"])["Balance"] == Decimal("110.00")
    assert us.fetch("Customer", customer)["Balance"] == Decimal("10.00")  # 110 owed - 100 credit

    # Deleting the payment reopens both invoices.
    us.post("payment", {"Id": payment["Id"], "SyncToken": "0"}, operation="delete")
    assert us.fetch("Invoice", first["Id"])["Balance"] == Decimal("2210.00")
    assert us.fetch("Invoice", first["Id"])["LinkedTxn"] == []
    assert us.fetch("Customer", customer)["Balance"] == Decimal("2510.00")


def test_payment_updates_move_the_application(us: QboApi) -> None:
    invoice = _us_invoice(us, "Acme Dental", "100")
    customer = invoice["CustomerRef"]["value"]
    payment = us.create("Payment", _payment(customer, "100", (invoice["Id"], "Invoice", "40")))
    updated = us.create(
        "Payment",
        {
            **_payment(customer, "100", (invoice["Id"], "Invoice", "100")),
            "Id": payment["Id"],
            "SyncToken": "0",
        },
    )
    assert updated["UnappliedAmt"] == 0
    assert us.fetch("Invoice", invoice["Id"])["Balance"] == 0
    voided = read(us.post("payment", {"Id": payment["Id"], "SyncToken": "1"}, operation="void"))
    assert voided["Payment"]["TotalAmt"] == 0
    assert us.fetch("Invoice", invoice["Id"])["Balance"] == Decimal("100.00")


def test_payment_rules(us: QboApi) -> None:
    invoice = _us_invoice(us, "Acme Dental", "100")
    customer = invoice["CustomerRef"]["value"]
    other = us.one("Customer", "DisplayName = 'Birch Legal'")["Id"]
    too_much = us.post("payment", _payment(customer, "150", (invoice["Id"], "Invoice", "150")))
    assert error_of(too_much)["code"] == "6000"
    wrong_customer = us.post("payment", _payment(other, "50", (invoice["Id"], "Invoice", "50")))
    assert error_of(wrong_customer)["code"] == "6000"
    over_applied = us.post("payment", _payment(customer, "10", (invoice["Id"], "Invoice", "50")))
    assert error_of(over_applied)["code"] == "6000"
    missing = us.post("payment", _payment(customer, "10", ("999999", "Invoice", "10")))
    assert error_of(missing)["code"] == "610"
    assert us.fetch("Invoice", invoice["Id"])["Balance"] == Decimal("100.00")
    unlinked = us.create("Payment", _payment(customer, "25"))
    assert unlinked["UnappliedAmt"] == Decimal("25.00")
    invoice_with_payment = us.create(
        "Payment", _payment(customer, "30", (invoice["Id"], "Invoice", "30"))
    )
    assert invoice_with_payment["UnappliedAmt"] == 0
    refused = us.post("invoice", {"Id": invoice["Id"], "SyncToken": "1"}, operation="delete")
    assert error_of(refused)["code"] == "6000"
    lowered = us.post(
        "invoice",
        {
            "Id": invoice["Id"],
            "SyncToken": "1",
            "sparse": True,
            "Line": [sales_line(us.one("Item", "Name = 'Labour'")["Id"], 1, "20", "NON")],
        },
    )
    assert error_of(lowered)["code"] == "6000"  # the total cannot drop below what was paid


def test_credit_memos_hold_remaining_credit_until_a_payment_uses_it(us: QboApi) -> None:
    invoice = _us_invoice(us, "Acme Dental", "100")
    customer, item = _ids(us, "Acme Dental", "Labour")
    credit = us.create(
        "CreditMemo",
        {"CustomerRef": {"value": customer}, "Line": [sales_line(item, 1, "30", "NON")]},
    )
    assert credit["RemainingCredit"] == Decimal("30.00") and credit["TotalAmt"] == Decimal("30.00")
    assert us.fetch("Customer", customer)["Balance"] == Decimal("70.00")
    payment = us.create(
        "Payment",
        _payment(
            customer, "70", (invoice["Id"], "Invoice", "100"), (credit["Id"], "CreditMemo", "30")
        ),
    )
    assert payment["UnappliedAmt"] == 0
    assert us.fetch("CreditMemo", credit["Id"])["RemainingCredit"] == 0
    assert us.fetch("Invoice", invoice["Id"])["Balance"] == 0
    assert us.fetch("Customer", customer)["Balance"] == 0


def test_a_stated_tax_amount_per_rate_overrides_the_computed_one(ca: QboApi) -> None:
    # A PSA rounds tax its own way; stating each rate's amount keeps the PSA's total.
    customer, item = _ids(ca, "Birch Legal", "Labour")
    form = {
        "CustomerRef": {"value": customer},
        "Line": [sales_line(item, 3, "33.33", _tax_code(ca, "GST/PST BC"))],
    }
    computed = ca.create("Invoice", form)
    gst, pst = (line["TaxLineDetail"]["TaxRateRef"] for line in computed["TxnTaxDetail"]["TaxLine"])
    stated = ca.create(
        "Invoice",
        {
            **form,
            "TxnTaxDetail": {
                "TaxLine": [
                    {
                        "Amount": Decimal("5.01"),
                        "DetailType": "TaxLineDetail",
                        "TaxLineDetail": {"TaxRateRef": gst},
                    },
                    {
                        "Amount": Decimal("7.00"),
                        "DetailType": "TaxLineDetail",
                        "TaxLineDetail": {"TaxRateRef": pst},
                    },
                ]
            },
        },
    )
    assert computed["TotalAmt"] == Decimal("111.99")
    assert _rate_percents(ca, stated) == {"GST": Decimal("5.01"), "PST BC": Decimal("7.00")}
    assert stated["TxnTaxDetail"]["TotalTax"] == Decimal("12.01")
    assert stated["TotalAmt"] == Decimal("112.00")
