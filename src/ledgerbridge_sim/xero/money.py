"""Money applied to documents: payments, batch payments and allocations of credit.

A payment needs an AUTHORISED document and a bank account (or one with payments enabled), may
not exceed what is outstanding, and may not fall into a locked period. Paying off an invoice
makes it PAID (with `FullyPaidOnDate`); deleting the payment reopens it. A batch payment saves
all its payments or none. Credit notes, overpayments and prepayments are allocated to invoices
of the same contact and side (sales/purchases), at most their remaining credit and the
invoice's amount due.
"""

from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.xero import documents, ledger
from ledgerbridge_sim.xero.ledger import Call
from ledgerbridge_sim.xero.wire import (
    InvalidElementError,
    is_guid,
    parse_date,
    render_record,
    to_decimal,
)

ONLY_AUTHORISED: Final = "Payments can only be made against Authorised documents"
EXCEEDS_OUTSTANDING: Final = "Payment amount exceeds the amount outstanding on this document"
RECONCILED: Final = "This payment has been reconciled and cannot be deleted"
PAYMENT_TYPES: Final = {
    "ACCREC": "ACCRECPAYMENT",
    "ACCPAY": "ACCPAYPAYMENT",
    "ACCRECCREDIT": "ARCREDITPAYMENT",
    "ACCPAYCREDIT": "APCREDITPAYMENT",
    "RECEIVE-OVERPAYMENT": "AROVERPAYMENTPAYMENT",
    "SPEND-OVERPAYMENT": "APOVERPAYMENTPAYMENT",
    "RECEIVE-PREPAYMENT": "ARPREPAYMENTPAYMENT",
    "SPEND-PREPAYMENT": "APPREPAYMENTPAYMENT",
}
# Document element name → (collection, id field, number field, label)
TARGETS: Final = {
    "Invoice": ("Invoices", "InvoiceID", "InvoiceNumber", "Invoice"),
    "CreditNote": ("CreditNotes", "CreditNoteID", "CreditNoteNumber", "Credit Note"),
    "Prepayment": ("Prepayments", "PrepaymentID", None, "Prepayment"),
    "Overpayment": ("Overpayments", "OverpaymentID", None, "Overpayment"),
}
CREDIT_SOURCES: Final = {
    "CreditNotes": ("CreditNote", "CreditNoteID", "CreditNoteNumber", "CreditNotes"),
    "Overpayments": ("Overpayment", "OverpaymentID", None, "Overpayments"),
    "Prepayments": ("Prepayment", "PrepaymentID", None, "Prepayments"),
}
SALES_TYPES: Final = {
    "ACCREC",
    "ACCRECCREDIT",
    "RECEIVE-OVERPAYMENT",
    "RECEIVE-PREPAYMENT",
    "AROVERPAYMENT",
    "ARPREPAYMENT",
}


def _target(call: Call, element: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for name, (collection, id_field, number_field, label) in TARGETS.items():
        reference = element.get(name)
        number = element.get(number_field) if number_field else None
        if not isinstance(reference, dict) and not number:
            continue
        reference = reference if isinstance(reference, dict) else {}
        number = reference.get(number_field) if number_field else None
        number = number or (element.get(number_field) if number_field else None)
        found = None
        if reference.get(id_field):
            guid = reference[id_field]
            found = call.book.get(collection, guid) if is_guid(guid) else None
        elif number and number_field:
            live = call.book.having(collection, number_field, number)
            found = next((r for r in live if r.get("Status") != "DELETED"), None)
        if found is None:
            raise InvalidElementError(
                f"An existing {label} with the specified {id_field} could not be found"
            )
        return collection, found
    raise InvalidElementError(
        "A payment must name the Invoice, CreditNote, Prepayment or Overpayment."
    )


def outstanding(collection: str, document: dict[str, Any]) -> Decimal:
    key = "AmountDue" if collection == "Invoices" else "RemainingCredit"
    value = document.get(key, Decimal(0))
    return value if isinstance(value, Decimal) else Decimal(str(value))


def recount_credit(record: dict[str, Any]) -> None:
    """Remaining credit of a credit note, overpayment or prepayment after a change."""
    refunded = record.get("_Refunded", Decimal(0))
    allocated = sum(
        (a["Amount"] for a in record.get("Allocations", []) if not a.get("IsDeleted")),
        Decimal(0),
    )
    record["AppliedAmount"] = allocated
    record["RemainingCredit"] = record["Total"] - refunded - allocated
    if record["RemainingCredit"] == 0 and record.get("Status") == "AUTHORISED":
        record["Status"] = "PAID"
    elif record["RemainingCredit"] > 0 and record.get("Status") == "PAID":
        record["Status"] = "AUTHORISED"


def _settle_invoice(invoice: dict[str, Any], day: Any) -> None:
    invoice["AmountDue"] = invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"]
    if invoice["AmountDue"] == 0 and invoice.get("Status") == "AUTHORISED":
        invoice["Status"], invoice["FullyPaidOnDate"] = "PAID", day
    elif invoice["AmountDue"] > 0 and invoice.get("Status") == "PAID":
        invoice["Status"], invoice["FullyPaidOnDate"] = "AUTHORISED", None


# -- payments ------------------------------------------------------------------------------


def create_payment(
    call: Call, element: dict[str, Any], *, batch_id: str | None = None
) -> dict[str, Any]:
    errors: list[str] = []
    collection, document = _target(call, element)
    account = ledger.account_ref(call, element.get("Account"))
    if account is None:
        errors.append("Account could not be found")
    elif account.get("Type") != "BANK" and not account.get("EnablePaymentsToAccount"):
        errors.append(
            f"Account code '{account.get('Code')}' is not a bank account and does not have "
            "payments enabled."
        )
    day = parse_date(element["Date"]) if element.get("Date") else call.book.now().date()
    if element.get("Amount") is None:
        raise InvalidElementError("Amount must be specified")
    amount = to_decimal(element["Amount"], "Amount")
    if amount <= 0:
        errors.append("Payment amount must be greater than zero")
    if document.get("Status") != "AUTHORISED":
        errors.append(ONLY_AUTHORISED)
    elif amount > outstanding(collection, document):
        errors.append(EXCEEDS_OUTSTANDING)
    errors += ledger.lock_messages(call, day)
    if errors:
        raise InvalidElementError(*dict.fromkeys(errors))
    assert account is not None
    name = next(key for key, spec in TARGETS.items() if spec[0] == collection)
    _, id_field, number_field, _label = TARGETS[name]
    payment: dict[str, Any] = {
        "PaymentID": call.book.new_guid(),
        "Date": day,
        "Amount": amount,
        "BankAmount": amount,
        "CurrencyRate": Decimal("1.000000"),
        "Reference": element.get("Reference"),
        "IsReconciled": bool(element.get("IsReconciled", False)),
        "Status": "AUTHORISED",
        "PaymentType": PAYMENT_TYPES.get(str(document.get("Type")), "ACCRECPAYMENT"),
        "Account": {"AccountID": account["AccountID"], "Code": account.get("Code")},
        "BatchPaymentID": batch_id,
        "HasAccount": True,
        "HasValidationErrors": False,
        name: {id_field: document[id_field]}
        | ({number_field: document.get(number_field)} if number_field else {}),
    }
    call.book.put("Payments", payment)
    updated = dict(document)
    entry = {
        "PaymentID": payment["PaymentID"],
        "Date": day,
        "Amount": amount,
        "Reference": payment["Reference"],
        "CurrencyRate": payment["CurrencyRate"],
        "HasAccount": True,
        "HasValidationErrors": False,
    }
    updated["Payments"] = [*document.get("Payments", []), entry]
    if collection == "Invoices":
        updated["AmountPaid"] = document["AmountPaid"] + amount
        _settle_invoice(updated, day)
    else:
        updated["_Refunded"] = document.get("_Refunded", Decimal(0)) + amount
        recount_credit(updated)
        if updated["Status"] == "PAID" and collection == "CreditNotes":
            updated["FullyPaidOnDate"] = day
    call.book.put(collection, updated)
    return payment


def delete_payment(call: Call, payment: dict[str, Any]) -> dict[str, Any]:
    if payment.get("Status") == "DELETED":
        raise InvalidElementError("This payment has already been deleted")
    if payment.get("IsReconciled"):
        raise InvalidElementError(RECONCILED)
    ledger.check_lock(call, payment["Date"])
    for name, (collection, id_field, _number, _label) in TARGETS.items():
        reference = payment.get(name)
        if not isinstance(reference, dict):
            continue
        document = call.book.get(collection, reference.get(id_field))
        if document is None:
            continue
        updated = dict(document)
        updated["Payments"] = [
            p for p in document.get("Payments", []) if p.get("PaymentID") != payment["PaymentID"]
        ]
        if collection == "Invoices":
            updated["AmountPaid"] = document["AmountPaid"] - payment["Amount"]
            _settle_invoice(updated, None)
        else:
            updated["_Refunded"] = document.get("_Refunded", Decimal(0)) - payment["Amount"]
            recount_credit(updated)
            if updated["Status"] != "PAID":
                updated.pop("FullyPaidOnDate", None)
        call.book.put(collection, updated)
    deleted = {**payment, "Status": "DELETED"}
    call.book.put("Payments", deleted)
    return deleted


def write_payment(call: Call, element: dict[str, Any], *, create_only: bool) -> dict[str, Any]:
    guid = element.get("PaymentID")
    if guid and not create_only:
        payment = call.book.get("Payments", guid) if is_guid(guid) else None
        if payment is None:
            raise InvalidElementError(documents.NOT_FOUND_BY_ID)
        if str(element.get("Status", "")).upper() == "DELETED":
            return delete_payment(call, payment)
        raise InvalidElementError("A payment can only be deleted: send its Status as DELETED.")
    return create_payment(call, element)


def payment_view(call: Call, payment: dict[str, Any]) -> dict[str, Any]:
    shown = dict(payment)
    for name, (collection, id_field, _number, _label) in TARGETS.items():
        reference = payment.get(name)
        if isinstance(reference, dict):
            document = call.book.get(collection, reference.get(id_field)) or {}
            summary = {
                key: document.get(key)
                for key in (
                    "Type",
                    id_field,
                    "InvoiceNumber"
                    if name == "Invoice"
                    else "CreditNoteNumber"
                    if name == "CreditNote"
                    else "_",
                    "Status",
                    "Total",
                    "CurrencyCode",
                    "AmountDue" if name == "Invoice" else "RemainingCredit",
                )
                if key != "_"
            }
            summary["Contact"] = ledger.contact_view(call, document.get("Contact"))
            shown[name] = summary
    return render_record(shown, utc_twins=True)


# -- batch payments ------------------------------------------------------------------------


def write_batch(call: Call, element: dict[str, Any], *, create_only: bool) -> dict[str, Any]:
    guid = element.get("BatchPaymentID")
    if guid and not create_only:
        batch = call.book.get("BatchPayments", guid) if is_guid(guid) else None
        if batch is None:
            raise InvalidElementError(documents.NOT_FOUND_BY_ID)
        if str(element.get("Status", "")).upper() != "DELETED":
            raise InvalidElementError(
                "A batch payment can only be deleted: send its Status as DELETED."
            )
        if batch.get("Status") == "DELETED":
            raise InvalidElementError("This batch payment has already been deleted")
        for entry in batch.get("Payments", []):
            payment = call.book.get("Payments", entry["PaymentID"])
            if payment is not None and payment.get("Status") != "DELETED":
                delete_payment(call, payment)
        deleted = {**batch, "Status": "DELETED"}
        call.book.put("BatchPayments", deleted)
        return deleted
    return _create_batch(call, element)


def _create_batch(call: Call, element: dict[str, Any]) -> dict[str, Any]:
    errors: list[str] = []
    account = ledger.account_ref(call, element.get("Account"))
    if account is None:
        raise InvalidElementError("Account could not be found")
    for field, longest in (("Particulars", 12), ("Code", 12), ("Narrative", 18)):
        if element.get(field) and len(str(element[field])) > longest:
            errors.append(f"{field} must not be more than {longest} characters long")
    raw_payments = element.get("Payments")
    if not isinstance(raw_payments, list) or not raw_payments:
        raise InvalidElementError("A batch payment needs at least one payment")
    day = parse_date(element["Date"]) if element.get("Date") else call.book.now().date()
    batch_id = call.book.new_guid()
    made: list[dict[str, Any]] = []
    sides: set[bool] = set()
    for raw in raw_payments:
        if not isinstance(raw, dict):
            errors.append("Each payment must be an object")
            continue
        merged = {"Account": {"AccountID": account["AccountID"]}, "Date": day.isoformat(), **raw}
        try:
            payment = create_payment(call, merged, batch_id=batch_id)
        except InvalidElementError as invalid:
            errors += invalid.messages
            continue
        invoice = call.book.get("Invoices", payment.get("Invoice", {}).get("InvoiceID"))
        sides.add(invoice is not None and invoice.get("Type") == "ACCREC")
        made.append(payment)
    if len(sides) > 1:
        errors.append("A batch payment cannot mix sales invoices and bills")
    if errors:
        raise InvalidElementError(*dict.fromkeys(errors))
    total = sum((p["Amount"] for p in made), Decimal(0))
    batch = {
        "BatchPaymentID": batch_id,
        "Account": {"AccountID": account["AccountID"], "Code": account.get("Code")},
        "Date": day,
        "Reference": element.get("Reference"),
        "Particulars": element.get("Particulars"),
        "Code": element.get("Code"),
        "Details": element.get("Details"),
        "Narrative": element.get("Narrative"),
        "Type": "RECBATCH" if sides == {True} else "PAYBATCH",
        "Status": "AUTHORISED",
        "TotalAmount": total,
        "IsReconciled": False,
        "Payments": [
            {
                "PaymentID": p["PaymentID"],
                "Amount": p["Amount"],
                "Invoice": p.get("Invoice"),
                "Reference": p.get("Reference"),
            }
            for p in made
        ],
    }
    call.book.put("BatchPayments", batch)
    return batch


# -- allocations ---------------------------------------------------------------------------


def allocate(
    call: Call, collection: str, source_id: str, element: dict[str, Any]
) -> dict[str, Any]:
    name, id_field, number_field, listing = CREDIT_SOURCES[collection]
    source = call.book.get(collection, source_id)
    if source is None:
        raise InvalidElementError(documents.NOT_FOUND_BY_ID)
    reference = element.get("Invoice")
    invoice = None
    if isinstance(reference, dict) and reference.get("InvoiceID"):
        invoice = (
            call.book.get("Invoices", reference["InvoiceID"])
            if is_guid(reference["InvoiceID"])
            else None
        )
    if invoice is None:
        raise InvalidElementError(
            "An existing Invoice with the specified InvoiceID could not be found"
        )
    errors: list[str] = []
    if element.get("Amount") is None:
        raise InvalidElementError("Amount must be specified")
    amount = to_decimal(element["Amount"], "Amount")
    day = parse_date(element["Date"]) if element.get("Date") else call.book.now().date()
    if source.get("Status") != "AUTHORISED":
        errors.append(f"The {name} must be AUTHORISED before it can be allocated")
    if invoice.get("Status") != "AUTHORISED":
        errors.append(ONLY_AUTHORISED)
    if (str(source.get("Type")) in SALES_TYPES) != (invoice.get("Type") == "ACCREC"):
        errors.append(f"The {name} and the invoice must both be sales or both be purchases")
    if source.get("Contact", {}).get("ContactID") != invoice.get("Contact", {}).get("ContactID"):
        errors.append(f"The {name} and the invoice must belong to the same contact")
    if amount <= 0:
        errors.append("Allocation amount must be greater than zero")
    if amount > outstanding(collection, source):
        errors.append("The amount allocated exceeds the remaining credit on this document")
    if amount > invoice.get("AmountDue", Decimal(0)):
        errors.append(EXCEEDS_OUTSTANDING)
    errors += ledger.lock_messages(call, day)
    if errors:
        raise InvalidElementError(*dict.fromkeys(errors))
    allocation = {
        "AllocationID": call.book.new_guid(),
        "Amount": amount,
        "Date": day,
        "Invoice": {
            "InvoiceID": invoice["InvoiceID"],
            "InvoiceNumber": invoice.get("InvoiceNumber"),
        },
        "IsDeleted": False,
    }
    updated = dict(source)
    updated["Allocations"] = [*source.get("Allocations", []), allocation]
    recount_credit(updated)
    if updated["Status"] == "PAID":
        updated["FullyPaidOnDate"] = day
    call.book.put(collection, updated)
    credit = {
        id_field: source[id_field],
        "AppliedAmount": amount,
        "Total": source.get("Total"),
        "Date": day,
        "_AllocationID": allocation["AllocationID"],
    }
    if number_field:
        credit[number_field] = source.get(number_field)
    changed = dict(invoice)
    changed[listing] = [*invoice.get(listing, []), credit]
    changed["AmountCredited"] = invoice["AmountCredited"] + amount
    _settle_invoice(changed, day)
    call.book.put("Invoices", changed)
    return allocation_view(call, collection, updated, allocation)


def delete_allocation(
    call: Call, collection: str, source_id: str, allocation_id: str
) -> dict[str, Any]:
    _name, _id_field, _number, listing = CREDIT_SOURCES[collection]
    source = call.book.get(collection, source_id)
    if source is None:
        raise InvalidElementError(documents.NOT_FOUND_BY_ID)
    allocation = next(
        (
            a
            for a in source.get("Allocations", [])
            if str(a["AllocationID"]).lower() == allocation_id.lower() and not a.get("IsDeleted")
        ),
        None,
    )
    if allocation is None:
        raise InvalidElementError(documents.NOT_FOUND_BY_ID)
    ledger.check_lock(call, allocation["Date"])
    removed = {**allocation, "IsDeleted": True}
    updated = dict(source)
    updated["Allocations"] = [
        removed if a is allocation else a for a in source.get("Allocations", [])
    ]
    recount_credit(updated)
    if updated["Status"] != "PAID":
        updated.pop("FullyPaidOnDate", None)
    call.book.put(collection, updated)
    invoice = call.book.get("Invoices", allocation["Invoice"]["InvoiceID"])
    if invoice is not None:
        changed = dict(invoice)
        changed[listing] = [
            c
            for c in invoice.get(listing, [])
            if c.get("_AllocationID") != allocation["AllocationID"]
        ]
        changed["AmountCredited"] = invoice["AmountCredited"] - allocation["Amount"]
        _settle_invoice(changed, None)
        call.book.put("Invoices", changed)
    return allocation_view(call, collection, updated, removed)


def allocation_view(
    call: Call, collection: str, source: dict[str, Any], allocation: dict[str, Any]
) -> dict[str, Any]:
    name, id_field, number_field, _listing = CREDIT_SOURCES[collection]
    shown = dict(allocation)
    invoice = call.book.get("Invoices", allocation["Invoice"]["InvoiceID"]) or {}
    shown["Invoice"] = {
        key: invoice.get(key)
        for key in (
            "InvoiceID",
            "InvoiceNumber",
            "Type",
            "Status",
            "Total",
            "AmountDue",
            "AmountCredited",
        )
    }
    summary = {
        key: source.get(key) for key in (id_field, "Type", "Status", "Total", "RemainingCredit")
    }
    if number_field:
        summary[number_field] = source.get(number_field)
    shown[name] = summary
    return render_record(shown)
