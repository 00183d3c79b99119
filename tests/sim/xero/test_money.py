"""Payments, batch payments and allocations of credit notes, overpayments and prepayments."""

from decimal import Decimal

from ledgerbridge_sim.xero import app as xero_app
from tests.sim.xero.conftest import XeroApi, messages, read


def test_a_payment_settles_the_invoice_and_deleting_it_reopens(xero: XeroApi) -> None:
    invoice = xero.invoice()  # 110.00 with GST
    part = read(xero.pay(invoice["InvoiceID"], "10.00", Reference="EFT 1"))["Payments"][0]
    assert part["PaymentType"] == "ACCRECPAYMENT" and part["Status"] == "AUTHORISED"
    assert part["Invoice"]["AmountDue"] == Decimal("100.00")
    rest = read(xero.pay(invoice["InvoiceID"], "100.00"))["Payments"][0]
    paid = read(xero.get(f"Invoices/{invoice['InvoiceID']}"))["Invoices"][0]
    assert (paid["Status"], paid["AmountPaid"], paid["AmountDue"]) == ("PAID", Decimal("110.00"), 0)
    assert paid["FullyPaidOnDate"] == "/Date(1795132800000+0000)/"  # 2026-11-20
    assert {p["PaymentID"] for p in paid["Payments"]} == {part["PaymentID"], rest["PaymentID"]}
    deleted = read(xero.post(f"Payments/{rest['PaymentID']}", {"Status": "DELETED"}))["Payments"][0]
    assert deleted["Status"] == "DELETED"
    reopened = read(xero.get(f"Invoices/{invoice['InvoiceID']}"))["Invoices"][0]
    assert (reopened["Status"], reopened["AmountDue"]) == ("AUTHORISED", Decimal("100.00"))
    assert "FullyPaidOnDate" not in reopened


def test_payment_rules(xero: XeroApi) -> None:
    invoice = xero.invoice()
    assert messages(xero.pay(invoice["InvoiceID"], "110.01")) == [
        "Payment amount exceeds the amount outstanding on this document"
    ]
    draft = xero.invoice(Status="DRAFT")
    assert messages(xero.pay(draft["InvoiceID"], 1)) == [
        "Payments can only be made against Authorised documents"
    ]
    to_sales = xero.pay(invoice["InvoiceID"], 1, Account={"Code": "200"})
    assert messages(to_sales) == [
        "Account code '200' is not a bank account and does not have payments enabled."
    ]
    # Accounts with payments enabled take payments like a bank account.
    assert xero.pay(invoice["InvoiceID"], 1, Account={"Code": "855"}).status_code == 200
    by_number = xero.put(
        "Payments",
        {
            "Payments": [
                {
                    "Invoice": {"InvoiceNumber": invoice["InvoiceNumber"]},
                    "Account": {"Code": "090"},
                    "Amount": 2,
                    "Date": "2026-11-21",
                }
            ]
        },
    )
    assert by_number.status_code == 200
    reconciled = read(xero.pay(invoice["InvoiceID"], 3, IsReconciled=True))["Payments"][0]
    refused = xero.post(f"Payments/{reconciled['PaymentID']}", {"Status": "DELETED"})
    assert messages(refused) == ["This payment has been reconciled and cannot be deleted"]


def test_payments_in_a_batch_commit_separately_when_asked(xero: XeroApi) -> None:
    good, draft = xero.invoice(), xero.invoice(Status="DRAFT")
    body = {
        "Payments": [
            {
                "Invoice": {"InvoiceID": good["InvoiceID"]},
                "Account": {"Code": "090"},
                "Date": "2026-11-20",
                "Amount": 110,
            },
            {
                "Invoice": {"InvoiceID": draft["InvoiceID"]},
                "Account": {"Code": "090"},
                "Date": "2026-11-20",
                "Amount": 99,
            },
        ]
    }
    all_or_nothing = xero.put("Payments", body)
    assert all_or_nothing.status_code == 400
    assert read(xero.get(f"Invoices/{good['InvoiceID']}"))["Invoices"][0]["Status"] == "AUTHORISED"
    results = read(xero.put("Payments?summarizeErrors=false", body))["Payments"]
    assert [r["StatusAttributeString"] for r in results] == ["OK", "ERROR"]
    assert results[1]["HasValidationErrors"] is True
    assert results[1]["ValidationErrors"] == [
        {"Message": "Payments can only be made against Authorised documents"}
    ]
    assert read(xero.get(f"Invoices/{good['InvoiceID']}"))["Invoices"][0]["Status"] == "PAID"


def test_a_batch_payment_saves_all_its_payments_or_none(xero: XeroApi) -> None:
    first, second = xero.invoice(), xero.invoice()

    def batch(amount: str) -> dict[str, object]:
        return {
            "BatchPayments": [
                {
                    "Account": {"Code": "090"},
                    "Date": "2026-11-25",
                    "Reference": "Remit 5",
                    "Payments": [
                        {"Invoice": {"InvoiceID": first["InvoiceID"]}, "Amount": "110.00"},
                        {"Invoice": {"InvoiceID": second["InvoiceID"]}, "Amount": amount},
                    ],
                }
            ]
        }

    refused = xero.put("BatchPayments", batch("999.00"))
    assert messages(refused) == ["Payment amount exceeds the amount outstanding on this document"]
    assert read(xero.get("Payments"))["Payments"] == []
    made = read(xero.put("BatchPayments", batch("60.00")))["BatchPayments"][0]
    assert (made["Type"], made["Status"], made["TotalAmount"]) == (
        "RECBATCH",
        "AUTHORISED",
        Decimal("170.00"),
    )
    assert made["DateString"] == "2026-11-25T00:00:00"
    payments = read(
        xero.get("Payments", params={"where": f'BatchPaymentID==Guid("{made["BatchPaymentID"]}")'})
    )["Payments"]
    assert sorted(p["Amount"] for p in payments) == [Decimal("60.00"), Decimal("110.00")]
    deleted = read(xero.post(f"BatchPayments/{made['BatchPaymentID']}", {"Status": "DELETED"}))[
        "BatchPayments"
    ][0]
    assert deleted["Status"] == "DELETED"
    statuses = {
        read(xero.get(f"Invoices/{i['InvoiceID']}"))["Invoices"][0]["Status"]
        for i in (first, second)
    }
    assert statuses == {"AUTHORISED"}


def test_credit_note_allocation(xero: XeroApi) -> None:
    invoice = xero.invoice()  # 110.00
    note = read(
        xero.put(
            "CreditNotes",
            {
                "CreditNotes": [
                    {
                        "Type": "ACCRECCREDIT",
                        "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
                        "Status": "AUTHORISED",
                        "LineAmountTypes": "Inclusive",
                        "LineItems": [
                            {
                                "Description": "Credit",
                                "Quantity": 1,
                                "UnitAmount": 30,
                                "AccountCode": "200",
                            }
                        ],
                    }
                ]
            },
        )
    )["CreditNotes"][0]
    path = f"CreditNotes/{note['CreditNoteID']}/Allocations"
    too_much = xero.put(
        path,
        {
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 31, "Date": "2026-11-05"}
            ]
        },
    )
    assert messages(too_much) == [
        "The amount allocated exceeds the remaining credit on this document"
    ]
    made = read(
        xero.put(
            path,
            {
                "Allocations": [
                    {
                        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                        "Amount": 30,
                        "Date": "2026-11-05",
                    }
                ]
            },
        )
    )["Allocations"][0]
    assert made["Amount"] == Decimal("30.00") and made["CreditNote"]["Status"] == "PAID"
    credited = read(xero.get(f"Invoices/{invoice['InvoiceID']}"))["Invoices"][0]
    assert (credited["AmountCredited"], credited["AmountDue"]) == (
        Decimal("30.00"),
        Decimal("80.00"),
    )
    assert credited["CreditNotes"][0]["CreditNoteID"] == note["CreditNoteID"]
    # Money applied: the invoice can no longer be voided; undoing the allocation frees it.
    assert (
        "cannot be applied"
        in messages(xero.post(f"Invoices/{invoice['InvoiceID']}", {"Status": "VOIDED"}))[0]
    )
    undone = xero.request("DELETE", f"{path}/{made['AllocationID']}")
    assert read(undone)["Allocations"][0]["IsDeleted"] is True
    note_now = read(xero.get(f"CreditNotes/{note['CreditNoteID']}"))["CreditNotes"][0]
    assert (note_now["Status"], note_now["RemainingCredit"]) == ("AUTHORISED", Decimal("30.00"))
    assert (
        read(xero.post(f"Invoices/{invoice['InvoiceID']}", {"Status": "VOIDED"}))["Invoices"][0][
            "Status"
        ]
        == "VOIDED"
    )


def test_overpayments_and_prepayments_are_read_and_allocated(xero: XeroApi) -> None:
    invoice = xero.invoice()
    created = xero_app.seed(
        xero.sim,
        {
            "tenant": xero.tenant,
            "Overpayments": [
                {
                    "Type": "RECEIVE-OVERPAYMENT",
                    "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
                    "Date": "2026-11-01",
                    "LineItems": [
                        {
                            "Description": "Overpaid",
                            "Quantity": 1,
                            "UnitAmount": 25,
                            "AccountCode": "610",
                        }
                    ],
                }
            ],
            "Prepayments": [
                {
                    "Type": "RECEIVE-PREPAYMENT",
                    "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
                    "Date": "2026-11-01",
                    "LineItems": [
                        {
                            "Description": "Deposit",
                            "Quantity": 1,
                            "UnitAmount": 40,
                            "AccountCode": "200",
                        }
                    ],
                }
            ],
        },
    )
    assert created == {"Overpayments": 1, "Prepayments": 1}
    over = read(xero.get("Overpayments"))["Overpayments"][0]
    assert (over["RemainingCredit"], over["Status"]) == (Decimal("25.00"), "AUTHORISED")
    prepay = read(xero.get("Prepayments?page=1"))["Prepayments"][0]
    xero.put(
        f"Overpayments/{over['OverpaymentID']}/Allocations",
        {
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 25, "Date": "2026-11-02"}
            ]
        },
    )
    xero.put(
        f"Prepayments/{prepay['PrepaymentID']}/Allocations",
        [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 40, "Date": "2026-11-02"}],
    )
    now = read(xero.get(f"Invoices/{invoice['InvoiceID']}"))["Invoices"][0]
    assert now["AmountCredited"] == Decimal("65.00") and now["AmountDue"] == Decimal("45.00")
    assert len(now["Overpayments"]) == len(now["Prepayments"]) == 1
    assert (
        read(xero.get(f"Overpayments/{over['OverpaymentID']}"))["Overpayments"][0]["Status"]
        == "PAID"
    )
