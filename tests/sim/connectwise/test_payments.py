"""Invoice payments: the balance and the payments always agree; a payment never exceeds it."""

import json
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge_sim.connectwise.app import seed
from ledgerbridge_sim.state import Simulator

from .conftest import CwApi
from .test_accounting import acme_records


@pytest.fixture
def acme(sim: Simulator) -> None:
    seed(sim, acme_records())


def decimal_json(response: Any) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def invoice(cw: CwApi, invoice_id: int = 1201) -> Any:
    return decimal_json(cw.get(f"finance/invoices/{invoice_id}"))


def pay(cw: CwApi, amount: Any, invoice_id: int = 1201, **extra: Any) -> Any:
    body = {
        "type": "Payment",
        "amount": amount,
        "paymentDate": "2024-02-15T00:00:00Z",
        "invoice": {"id": invoice_id},
        **extra,
    }
    return cw.post(f"finance/invoices/{invoice_id}/payments", body)


def test_a_payment_reduces_the_balance(cw: CwApi, acme: None) -> None:
    response = pay(cw, 100)
    assert response.status_code == 201
    payment = decimal_json(response)
    assert payment["amount"] == Decimal("100")
    assert payment["paymentDate"] == "2024-02-15T00:00:00Z"
    assert payment["invoice"] == {
        "id": 1201,
        "identifier": "1201",
        "billingType": "Agreement",
        "applyToType": "Agreement",
    }
    assert payment["appliedBy"] == "apiuser"
    assert payment["_info"]["dateEntered"] == "2026-02-02T09:00:00Z"
    after = invoice(cw)
    assert (after["payments"], after["balance"]) == (Decimal("100"), Decimal("114.00"))
    assert after["_info"]["lastUpdated"] == "2026-02-02T09:00:00Z"


def test_payments_up_to_the_balance_and_no_further(cw: CwApi, acme: None) -> None:
    assert pay(cw, 214.01).status_code == 400
    assert pay(cw, 200).status_code == 201
    too_much = pay(cw, 14.01)
    assert too_much.status_code == 400
    error = too_much.json()["errors"][0]
    assert error["field"] == "amount"
    assert "14.00" in error["message"]
    assert pay(cw, 14).status_code == 201
    assert invoice(cw)["balance"] == 0
    assert pay(cw, 0.01).status_code == 400
    listed = decimal_json(cw.get("finance/invoices/1201/payments"))
    assert sum(row["amount"] for row in listed) == invoice(cw)["payments"] == Decimal("214")
    assert cw.get("finance/invoices/1201/payments/count").json() == {"count": len(listed)}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "Payment"}, "amount"),
        ({"type": "Payment", "amount": "10"}, "amount"),
        ({"type": "Payment", "amount": -5}, "amount"),
        ({"type": "Payment", "amount": 0}, "amount"),
        ({"type": "Payment", "amount": 10.005}, "amount"),
        ({"amount": 10}, "type"),
        ({"type": "", "amount": 10}, "type"),
        ({"type": "Payment", "amount": 10, "paymentDate": "soon"}, "paymentDate"),
        ({"type": "Payment", "amount": 10, "invoice": {"id": 1202}}, "invoice/id"),
    ],
)
def test_invalid_payments_are_refused(
    cw: CwApi, acme: None, body: dict[str, Any], field: str
) -> None:
    response = cw.post("finance/invoices/1201/payments", body)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidObject"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert invoice(cw)["balance"] == Decimal("214.0")


def test_a_body_that_is_not_json_is_refused(cw: CwApi, acme: None) -> None:
    response = cw.request(
        "POST", "finance/invoices/1201/payments", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    garbled = cw.http.post(
        "/connectwise/v4_6_release/apis/3.0/finance/invoices/1201/payments",
        content=b"{amount: 1",
        headers=cw.headers,
    )
    assert garbled.status_code == 400
    assert garbled.json()["code"] == "ConnectWiseApi"


def test_paying_a_missing_invoice_is_404(cw: CwApi, acme: None) -> None:
    assert pay(cw, 1, invoice_id=999).status_code == 404


def test_deleting_a_payment_restores_the_balance(cw: CwApi, acme: None) -> None:
    payment = pay(cw, 50).json()
    assert invoice(cw)["balance"] == Decimal("164.00")
    assert cw.get(f"finance/invoices/1201/payments/{payment['id']}").json()["id"] == payment["id"]
    assert cw.delete(f"finance/invoices/1201/payments/{payment['id']}").status_code == 204
    after = invoice(cw)
    assert (after["payments"], after["balance"]) == (0, Decimal("214.00"))
    assert cw.get(f"finance/invoices/1201/payments/{payment['id']}").status_code == 404


def test_a_credit_memo_applies_through_the_credit_reference(cw: CwApi, acme: None) -> None:
    applied = pay(cw, 53.5, credit={"id": 1202})
    assert applied.status_code == 201
    assert applied.json()["credit"]["id"] == 1202
    paid = invoice(cw)
    assert (paid["credits"], paid["payments"], paid["balance"]) == (
        Decimal("53.5"),
        0,
        Decimal("160.50"),
    )
    memo = invoice(cw, 1202)
    assert memo["balance"] == 0
    assert pay(cw, 1, credit={"id": 1202}).status_code == 400  # nothing left to apply
    assert pay(cw, 1, credit={"id": 1201}).status_code == 400  # not a credit memo
    cw.delete(f"finance/invoices/1201/payments/{applied.json()['id']}")
    assert invoice(cw, 1202)["balance"] == Decimal("-53.50")
    assert invoice(cw)["balance"] == Decimal("214.00")


def test_the_same_payment_twice_is_two_payments(cw: CwApi, acme: None) -> None:
    # No idempotency keys: a client that retries a timed-out POST pays twice (psa-apis §3.3).
    assert pay(cw, 10).status_code == 201
    assert pay(cw, 10).status_code == 201
    assert invoice(cw)["payments"] == Decimal("20")
