"""Seeding, generating and reading the simulator's Xero state through the control API."""

from decimal import Decimal

import httpx

from ledgerbridge_sim.state import Simulator
from tests.sim.xero.conftest import UK, XeroApi, read


def test_seed_writes_xero_json_through_the_rules(sim_http: httpx.Client, sim: Simulator) -> None:
    response = sim_http.post(
        "/_sim/seed",
        json={
            "xero": {
                "tenant": UK,
                "Contacts": [{"Name": "Harbour Legal", "ContactNumber": "AT-9"}],
                "Invoices": [
                    {
                        "Type": "ACCREC",
                        "InvoiceNumber": "OLD-1",
                        "Contact": {"ContactNumber": "AT-9"},
                        "Date": "2026-01-15",
                        "Status": "AUTHORISED",
                        "LineItems": [
                            {
                                "Description": "Support",
                                "Quantity": 3,
                                "UnitAmount": 99.99,
                                "AccountCode": "200",
                            }
                        ],
                    }
                ],
                "Payments": [
                    {
                        "Invoice": {"InvoiceNumber": "OLD-1"},
                        "Account": {"Code": "090"},
                        "Date": "2026-02-01",
                        "Amount": 100,
                    }
                ],
                "Organisation": {"EndOfYearLockDate": "2026-03-31"},
            }
        },
    )
    assert response.json()["created"]["xero"] == {
        "Contacts": 1,
        "Invoices": 1,
        "Payments": 1,
        "Organisation": 1,
    }
    state = read(sim_http.get("/_sim/state/xero/Invoices"))
    invoice = state["records"][0]
    assert invoice["_TenantID"] == UK and invoice["InvoiceNumber"] == "OLD-1"
    assert invoice["Total"] == Decimal("359.96")  # 299.97 + 20 % VAT (59.99)
    assert invoice["AmountDue"] == Decimal("259.96")
    api = XeroApi(sim_http, sim, UK)
    org = read(api.get("Organisation"))["Organisations"][0]
    assert org["EndOfYearLockDate"] == "/Date(1774915200000+0000)/"  # 2026-03-31 00:00 UTC


def test_a_seed_that_breaks_a_rule_says_why(sim: Simulator) -> None:
    from ledgerbridge_sim.xero import app as xero_app

    try:
        xero_app.seed(sim, {"Items": [{"Code": "C" * 31}]})
    except ValueError as error:
        assert "must not be more than 30 characters" in str(error)
    else:
        raise AssertionError("the seed should have been refused")


def test_generate_makes_a_consistent_ledger(sim_http: httpx.Client, sim: Simulator) -> None:
    created = sim_http.post(
        "/_sim/seed", json={"generate": {"system": "xero", "invoices": 60, "seed": 7}}
    ).json()["created"]["xero"]
    assert created["Invoices"] == 60 and created["Contacts"] >= 3 and created["Payments"] > 10
    invoices = read(sim_http.get("/_sim/state/xero/Invoices"))["records"]
    assert len(invoices) == 60
    for invoice in invoices:
        lines = sum((line["LineAmount"] for line in invoice["LineItems"]), Decimal(0))
        assert invoice["SubTotal"] == lines
        assert invoice["Total"] == invoice["SubTotal"] + invoice["TotalTax"]
        assert (
            invoice["AmountDue"]
            == invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"]
        )
        assert (invoice["Status"] == "PAID") == (
            invoice["AmountDue"] == 0 and invoice["Status"] != "DRAFT"
        )
    payments = read(sim_http.get("/_sim/state/xero/Payments"))["records"]
    assert len(payments) == created["Payments"]
    # The same seed makes the same ledger.
    again = Simulator()
    from ledgerbridge_sim.xero import app as xero_app

    assert xero_app.generate(again, invoices=60, seed=7) == created
