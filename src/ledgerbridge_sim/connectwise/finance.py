"""Invoice payments and invoice PATCH: the balance always equals total - payments - credits.

A payment may not exceed the balance [U: the real rule is undocumented]. A `credit` reference
applies a credit memo instead: the invoice's `credits` rise and the memo's balance moves toward
zero by the same amount. Deleting a payment undoes it.
"""

from decimal import Decimal
from typing import Any

from ledgerbridge_sim.connectwise import accounting, listing
from ledgerbridge_sim.connectwise import conditions as cq
from ledgerbridge_sim.connectwise.accounting import ZERO, money
from ledgerbridge_sim.connectwise.errors import invalid_object, not_found
from ledgerbridge_sim.connectwise.http import Call, Reply, Router
from ledgerbridge_sim.connectwise.resources import add_list

INVOICING = "Finance/Invoicing"
# Fields a PATCH may change on an invoice; totals only move through lines and payments.
PATCHABLE = {
    "status",
    "reference",
    "customerPO",
    "internalNotes",
    "topComment",
    "bottomComment",
    "dueDate",
    "attention",
}


def _invoice(call: Call, key: str = "parentId") -> dict[str, Any]:
    invoice = call.state.collection("invoices").get(call.path_params[key])
    if invoice is None:
        raise not_found("Invoice", call.path_params[key])
    return invoice


def invoice_reference(invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": invoice["id"],
        "identifier": invoice.get("invoiceNumber", str(invoice["id"])),
        "billingType": invoice.get("type", "Standard"),
        "applyToType": invoice.get("applyToType", "All"),
    }


def rebalance(invoice: dict[str, Any], now: str, who: str) -> None:
    invoice["balance"] = money(
        invoice.get("total", ZERO) - invoice.get("payments", ZERO) - invoice.get("credits", ZERO)
    )
    info = invoice.setdefault("_info", {})
    info["lastUpdated"], info["updatedBy"] = now, who


def _payments_of(call: Call) -> list[dict[str, Any]]:
    invoice_id = _invoice(call)["id"]
    return [
        payment
        for payment in call.state.collection("payments").values()
        if (payment.get("invoice") or {}).get("id") == invoice_id
    ]


def create_payment(call: Call) -> Reply:
    resource = "payment"
    invoice = _invoice(call)
    body = call.json()
    if not isinstance(body, dict):
        raise invalid_object(resource, [("InvalidObject", "", "The body must be a JSON object")])
    problems: list[tuple[str, str, str]] = []
    kind = body.get("type")
    if not isinstance(kind, str) or not kind.strip():
        problems.append(("MissingRequiredField", "type", "type is required"))
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, Decimal)):
        problems.append(
            ("MissingRequiredField", "amount", "amount is required and must be a number")
        )
        amount = ZERO
    amount = Decimal(amount)
    if amount <= 0:
        problems.append(("InvalidField", "amount", "amount must be greater than zero"))
    elif amount != money(amount):
        problems.append(("InvalidField", "amount", "amount may have at most two decimals"))
    posted_invoice = body.get("invoice")
    if isinstance(posted_invoice, dict) and posted_invoice.get("id") not in (None, invoice["id"]):
        problems.append(("InvalidField", "invoice/id", "invoice id does not match the URL"))
    payment_date = call.now_text()
    if body.get("paymentDate") is not None:
        moment = cq.parse_date(str(body["paymentDate"]))
        if moment is None:
            problems.append(("InvalidField", "paymentDate", "paymentDate is not a date-time"))
        else:
            payment_date = cq.canonical_date(moment)
    credit_memo = None
    if body.get("credit") is not None:
        credit_id = (body["credit"] or {}).get("id") if isinstance(body["credit"], dict) else None
        credit_memo = call.state.collection("invoices").get(credit_id) if credit_id else None
        if credit_memo is None or credit_memo.get("type") != "CreditMemo":
            problems.append(("InvalidField", "credit/id", "credit must name a credit memo"))
            credit_memo = None
        elif amount > -credit_memo.get("balance", ZERO):
            problems.append(
                (
                    "InvalidField",
                    "amount",
                    f"amount exceeds the credit memo's unapplied {-credit_memo['balance']}",
                )
            )
    balance = invoice.get("balance", ZERO)
    if amount > 0 and amount > balance:
        # [U] overpayment handling is undocumented (psa-apis §6 q3); refusing keeps books honest.
        problems.append(
            (
                "InvalidField",
                "amount",
                f"Payment amount {amount} cannot exceed the invoice balance of {balance}.",
            )
        )
    if problems:
        raise invalid_object(resource, problems)

    now, who = call.now_text(), call.member.get("identifier", "apiuser")
    if credit_memo is not None:
        invoice["credits"] = invoice.get("credits", ZERO) + amount
        credit_memo["credits"] = credit_memo.get("credits", ZERO) - amount
        rebalance(credit_memo, now, who)
    else:
        invoice["payments"] = invoice.get("payments", ZERO) + amount
    rebalance(invoice, now, who)
    payments = call.state.collection("payments")
    payment: dict[str, Any] = {
        "id": max(payments, default=0) + 1,
        "type": kind,
        "source": body.get("source") or "API",
        "invoice": invoice_reference(invoice),
        "amount": amount,
        "paymentDate": payment_date,
        "appliedBy": who,
        "balance": invoice["balance"],
        "invoiceBalance": invoice["balance"],
        "invoiceTotal": invoice.get("total", ZERO),
        "_info": {"dateEntered": now, "enteredBy": who, "lastUpdated": now, "updatedBy": who},
    }
    if credit_memo is not None:
        payment["credit"] = invoice_reference(credit_memo)
    payments[payment["id"]] = payment
    return Reply(201, payment)


def delete_payment(call: Call) -> Reply:
    invoice = _invoice(call)
    payment = call.state.collection("payments").get(call.path_params["id"])
    if payment is None or (payment.get("invoice") or {}).get("id") != invoice["id"]:
        raise not_found("Payment", call.path_params["id"])
    now, who = call.now_text(), call.member.get("identifier", "apiuser")
    amount = payment["amount"]
    credit = payment.get("credit")
    if credit:
        invoice["credits"] = invoice.get("credits", ZERO) - amount
        memo = call.state.collection("invoices").get(credit["id"])
        if memo is not None:
            memo["credits"] = memo.get("credits", ZERO) + amount
            rebalance(memo, now, who)
    else:
        invoice["payments"] = invoice.get("payments", ZERO) - amount
    rebalance(invoice, now, who)
    del call.state.collection("payments")[payment["id"]]
    return Reply(204)


def one_payment(call: Call) -> Reply:
    invoice = _invoice(call)
    payment = call.state.collection("payments").get(call.path_params["id"])
    if payment is None or (payment.get("invoice") or {}).get("id") != invoice["id"]:
        raise not_found("Payment", call.path_params["id"])
    return listing.one_reply(call, payment, "payments")


def patch_invoice(call: Call) -> Reply:
    """PATCH takes CW's op array; a closed status lists the invoice as unposted."""
    resource = "invoice"
    invoice = _invoice(call, "id")
    operations = call.json()
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise invalid_object(
            resource,
            [("InvalidObject", "", "PATCH takes a list of {op, path, value} operations")],
        )
    state = call.state
    changes: dict[str, Any] = {}
    for operation in operations:
        op, path = str(operation.get("op", "")).lower(), str(operation.get("path", ""))
        field = next((name for name in PATCHABLE if name.lower() == path.strip("/").lower()), None)
        if op not in ("add", "replace", "remove"):
            raise invalid_object(resource, [("InvalidField", "op", f"op '{op}' is not supported")])
        if field is None:
            raise invalid_object(
                resource, [("InvalidField", path, f"{path} cannot be changed through PATCH")]
            )
        value = None if op == "remove" else operation.get("value")
        if field == "status":
            status_id = value.get("id") if isinstance(value, dict) else None
            status = state.collection("billingStatuses").get(status_id) if status_id else None
            if status is None:
                raise invalid_object(
                    resource, [("InvalidField", "status/id", "status must name a billing status")]
                )
            value = {
                "id": status["id"],
                "name": status["name"],
                "isClosed": bool(status.get("closedFlag")),
            }
        changes[field] = value
    for field, value in changes.items():
        if value is None:
            invoice.pop(field, None)
        else:
            invoice[field] = value
    rebalance(invoice, call.now_text(), call.member.get("identifier", "apiuser"))
    if "status" in changes:
        if invoice["status"]["isClosed"]:
            accounting.close_invoice(state, invoice)
        else:
            state.collection("unpostedInvoices").pop(invoice["id"], None)
    elif invoice["id"] in state.collection("unpostedInvoices"):
        state.collection("unpostedInvoices")[invoice["id"]] = accounting.unposted_invoice(
            state, invoice
        )
    return Reply(200, invoice)


def register(router: Router) -> None:
    path = "finance/invoices/{parentId}/payments"
    add_list(router, path, "payments", INVOICING, "Payment", _payments_of)
    router.add("POST", path, create_payment, INVOICING)
    router.add("GET", f"{path}/{{id}}", one_payment, INVOICING)
    router.add("DELETE", f"{path}/{{id}}", delete_payment, INVOICING)
    router.add("PATCH", "finance/invoices/{id}", patch_invoice, INVOICING)
