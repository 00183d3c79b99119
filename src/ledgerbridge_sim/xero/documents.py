"""Invoices, credit notes and purchase orders: line arithmetic, numbering, statuses.

Arithmetic (per `LineAmountTypes`):
- a line's amount is Quantity x UnitAmount less its discount, rounded to cents; a supplied
  `LineAmount` must equal it ("The line total … does not match the expected line total …");
- tax is worked out per line and rounded per line: Exclusive `amount x rate`, Inclusive
  `amount x rate / (100 + rate)` (the tax inside the amount), NoTax none; a supplied
  `TaxAmount` overrides it;
- SubTotal is the lines net of tax, Total = SubTotal + TotalTax, AmountDue = Total -
  AmountPaid - AmountCredited. UnitAmount keeps two decimals, four with `unitdp=4`.

Statuses: a new document is DRAFT, SUBMITTED or AUTHORISED; DRAFT/SUBMITTED may move to any of
those or DELETED; AUTHORISED may be VOIDED unless money is applied to it; PAID is set by the
system when nothing is due; VOIDED and DELETED are final. Lock dates bind non-draft documents.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.xero import ledger
from ledgerbridge_sim.xero.ledger import Call
from ledgerbridge_sim.xero.wire import (
    InvalidElementError,
    is_guid,
    parse_date,
    render_record,
    round_money,
    to_decimal,
)

NOT_VALID_FOR_MODIFICATION: Final = "Invoice not of valid status for modification"
HAS_MONEY_APPLIED: Final = (
    "This document cannot be edited as it has a payment or credit note allocated to it."
)
NOT_FOUND_BY_ID: Final = "The document with the supplied id was not found for this endpoint."
LINE_AMOUNT_TYPES: Final = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
DRAFTS: Final = ("DRAFT", "SUBMITTED")
# Fields Xero still lets you change once money is applied (or the document is PAID).
EDITABLE_WITH_MONEY: Final = {
    "Reference",
    "DueDate",
    "SentToContact",
    "ExpectedPaymentDate",
    "PlannedPaymentDate",
    "BrandingThemeID",
    "Url",
    "Status",
}


@dataclass(frozen=True)
class Kind:
    collection: str
    id_field: str
    number_field: str
    label: str
    types: tuple[str, ...]  # empty: the document has no Type (purchase orders)
    numbered_types: tuple[str, ...]  # types numbered automatically and uniquely
    prefix: str
    duplicate_number: str
    statuses: tuple[str, ...]
    sales_types: tuple[str, ...]


INVOICES: Final = Kind(
    "Invoices",
    "InvoiceID",
    "InvoiceNumber",
    "Invoice",
    ("ACCREC", "ACCPAY"),
    ("ACCREC",),
    "INV-",
    "Invoice # must be unique.",
    ("DRAFT", "SUBMITTED", "DELETED", "AUTHORISED", "PAID", "VOIDED"),
    ("ACCREC",),
)
CREDIT_NOTES: Final = Kind(
    "CreditNotes",
    "CreditNoteID",
    "CreditNoteNumber",
    "Credit Note",
    ("ACCRECCREDIT", "ACCPAYCREDIT"),
    ("ACCRECCREDIT",),
    "CN-",
    "Credit Note Number must be unique.",
    ("DRAFT", "SUBMITTED", "DELETED", "AUTHORISED", "PAID", "VOIDED"),
    ("ACCRECCREDIT",),
)
PURCHASE_ORDERS: Final = Kind(
    "PurchaseOrders",
    "PurchaseOrderID",
    "PurchaseOrderNumber",
    "Purchase Order",
    (),
    ("",),
    "PO-",
    "Order number must be unique",
    ("DRAFT", "SUBMITTED", "AUTHORISED", "BILLED", "DELETED"),
    (),
)
# Which dates get a `…String` twin: what the spec's response examples show per document.
DATE_TWINS: Final = {
    "Invoices": ("Date", "DueDate"),
    "CreditNotes": ("Date",),
    "PurchaseOrders": ("Date", "DeliveryDate"),
}
KINDS: Final = {kind.collection: kind for kind in (INVOICES, CREDIT_NOTES, PURCHASE_ORDERS)}


# -- lines ---------------------------------------------------------------------------------


def _line(
    call: Call,
    kind: Kind,
    doc_type: str,
    amount_types: str,
    raw: Any,
    previous: dict[str, dict[str, Any]],
    strict: bool,
) -> tuple[dict[str, Any], list[str]]:
    """One computed line and the problems found with it."""
    if not isinstance(raw, dict):
        return {}, ["A line item must be an object"]
    errors: list[str] = []
    sales = doc_type in kind.sales_types
    line: dict[str, Any] = {}
    line_id = raw.get("LineItemID")
    line["LineItemID"] = (
        line_id
        if isinstance(line_id, str) and line_id.lower() in previous
        else call.book.new_guid()
    )
    item = None
    if raw.get("ItemCode"):
        code = str(raw["ItemCode"])
        item = next(iter(call.book.having("Items", "Code", code)), None)
        if item is None:
            errors.append(f"Item code '{code}' is not valid")
    details: dict[str, Any] = {}
    if item is not None:
        details = (item.get("SalesDetails") if sales else item.get("PurchaseDetails")) or {}
        line["ItemCode"] = item["Code"]
        line["Item"] = {"ItemID": item["ItemID"], "Name": item.get("Name"), "Code": item["Code"]}
    description = raw.get("Description") or (
        item.get("Description" if sales else "PurchaseDescription") if item else None
    )
    line["Description"] = description
    try:
        quantity = round_money(to_decimal(raw.get("Quantity", 1), "Quantity"), 4)
        unit_source = raw.get("UnitAmount", details.get("UnitPrice"))
        supplied_line = (
            to_decimal(raw["LineAmount"], "LineAmount")
            if raw.get("LineAmount") is not None
            else None
        )
        if unit_source is None:
            unit_source = (
                supplied_line / quantity if supplied_line is not None and quantity else Decimal(0)
            )
        unit = round_money(to_decimal(unit_source, "UnitAmount"), call.unit_places)
        rate = raw.get("DiscountRate")
        discount_amount = raw.get("DiscountAmount")
        gross = quantity * unit
        if rate is not None:
            rate = to_decimal(rate, "DiscountRate")
            expected = round_money(gross * (Decimal(100) - rate) / Decimal(100))
            line["DiscountRate"] = rate
        elif discount_amount is not None:
            discount_amount = to_decimal(discount_amount, "DiscountAmount")
            expected = round_money(gross - discount_amount)
            line["DiscountAmount"] = discount_amount
        else:
            expected = round_money(gross)
    except InvalidElementError as invalid:
        return line, errors + invalid.messages
    if supplied_line is not None and supplied_line != expected:
        errors.append(
            f"The line total {round_money(supplied_line)} does not match the expected line "
            f"total {expected}"
        )
    line.update(Quantity=quantity, UnitAmount=unit, LineAmount=expected)
    if not description and strict:
        errors.append("The description field is mandatory for each line item.")

    account = None
    account_code = raw.get("AccountCode") or details.get("AccountCode")
    if raw.get("AccountID"):
        account = call.book.get("Accounts", raw["AccountID"])
        if account is None:
            errors.append(
                f"Account ID '{raw['AccountID']}' is not a valid account for this document."
            )
    elif account_code:
        account = ledger.account_by_code(call, account_code)
        if account is None:
            errors.append(f"Account code '{account_code}' is not a valid code for this document.")
    elif strict:
        errors.append("The account code or ID must be specified")
    if account is not None:
        if account.get("Status") != "ACTIVE":
            errors.append(f"Account code '{account['Code']}' has been archived, or deleted.")
        line["AccountCode"] = account["Code"]
        line["AccountID"] = account["AccountID"]

    tax_type = raw.get("TaxType") or details.get("TaxType")
    if not tax_type:
        tax_type = (account or {}).get("TaxType") or (
            call.tax().sales if sales else call.tax().purchases
        )
    rate_record = ledger.tax_rate(call, tax_type)
    if rate_record is None or not ledger.tax_fits_account(rate_record, account):
        code = (account or {}).get("Code", "")
        errors.append(f"The TaxType code '{tax_type}' cannot be used with account code '{code}'.")
        tax = Decimal(0)
    else:
        percent = ledger.effective_rate(rate_record)
        if amount_types == "Exclusive":
            tax = round_money(expected * percent / Decimal(100))
        elif amount_types == "Inclusive":
            tax = round_money(expected * percent / (Decimal(100) + percent))
        else:
            tax = Decimal(0)
    if raw.get("TaxAmount") is not None and amount_types != "NoTax":
        try:
            tax = round_money(to_decimal(raw["TaxAmount"], "TaxAmount"))
        except InvalidElementError as invalid:
            errors += invalid.messages
    line["TaxType"] = tax_type
    line["TaxAmount"] = tax

    tracking = raw.get("Tracking") or []
    if not isinstance(tracking, list) or len(tracking) > 2:
        errors.append("A line item can have a maximum of 2 tracking categories.")
    else:
        resolved, problems = _tracking(call, tracking)
        line["Tracking"] = resolved
        errors += problems
    line["_gross"] = gross
    return line, errors


def _tracking(call: Call, tracking: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    resolved: list[dict[str, Any]] = []
    problems: list[str] = []
    for entry in tracking:
        if not isinstance(entry, dict):
            problems.append("A tracking entry must be an object.")
            continue
        category = None
        if entry.get("TrackingCategoryID"):
            category = call.book.get("TrackingCategories", entry["TrackingCategoryID"])
        elif entry.get("Name"):
            category = _active_category(call, str(entry["Name"]))
        if category is None or category.get("Status") != "ACTIVE":
            problems.append(
                f"The tracking category '{entry.get('Name') or entry.get('TrackingCategoryID')}' "
                "does not exist or is not active."
            )
            continue
        option_key = entry.get("TrackingOptionID") or entry.get("Option")
        option = next(
            (
                o
                for o in category.get("Options", [])
                if o.get("Status") == "ACTIVE"
                and option_key is not None
                and (
                    str(o.get("TrackingOptionID")).lower() == str(option_key).lower()
                    or str(o.get("Name", "")).lower() == str(option_key).lower()
                )
            ),
            None,
        )
        if option is None:
            problems.append(
                f"The tracking option '{option_key}' does not exist in the tracking category "
                f"'{category['Name']}'."
            )
            continue
        resolved.append(
            {
                "TrackingCategoryID": category["TrackingCategoryID"],
                "TrackingOptionID": option["TrackingOptionID"],
                "Name": category["Name"],
                "Option": option["Name"],
            }
        )
    return resolved, problems


def _active_category(call: Call, name: str) -> dict[str, Any] | None:
    return call.book.find(
        "TrackingCategories",
        lambda c: str(c.get("Name", "")).lower() == name.lower() and c.get("Status") == "ACTIVE",
    )


def totals(lines: list[dict[str, Any]], amount_types: str) -> dict[str, Decimal]:
    line_total = sum((line["LineAmount"] for line in lines), Decimal(0))
    tax_total = sum((line["TaxAmount"] for line in lines), Decimal(0))
    discount = sum((round_money(line["_gross"]) - line["LineAmount"] for line in lines), Decimal(0))
    sub_total = line_total - tax_total if amount_types == "Inclusive" else line_total
    return {
        "SubTotal": sub_total,
        "TotalTax": tax_total,
        "Total": sub_total + tax_total,
        "TotalDiscount": discount,
    }


# -- numbering -----------------------------------------------------------------------------


def _next_number(call: Call, kind: Kind) -> str:
    counter: dict[str, int] = call.book.sim.system("xero").extra.setdefault("numbering", {})
    key = f"{call.book.tenant_id}:{kind.collection}"
    while True:
        counter[key] = counter.get(key, 0) + 1
        candidate = f"{kind.prefix}{counter[key]:04d}"
        if not call.book.having(kind.collection, kind.number_field, candidate):
            return candidate


def _numbered(call: Call, kind: Kind, number: object) -> list[dict[str, Any]]:
    """Live documents holding this number among the types whose numbers are unique."""
    return [
        r
        for r in call.book.having(kind.collection, kind.number_field, number)
        if r.get("Status") != "DELETED" and (not kind.types or r.get("Type") in kind.numbered_types)
    ]


def _number_taken(call: Call, kind: Kind, number: str, own_id: str | None) -> bool:
    return any(r.get(kind.id_field) != own_id for r in _numbered(call, kind, number))


# -- writing -------------------------------------------------------------------------------


def find_existing(call: Call, kind: Kind, element: dict[str, Any]) -> dict[str, Any] | None:
    """The record an element updates: by id, else (POST) by its unique number."""
    guid = element.get(kind.id_field)
    if guid:
        record = call.book.get(kind.collection, guid) if is_guid(guid) else None
        if record is None:
            raise InvalidElementError(NOT_FOUND_BY_ID)
        return record
    number = element.get(kind.number_field)
    doc_type = str(element.get("Type") or "").upper()
    if number and (not kind.types or not doc_type or doc_type in kind.numbered_types):
        found = _numbered(call, kind, number)
        return found[0] if found else None
    return None


def write(call: Call, kind: Kind, element: dict[str, Any], *, create_only: bool) -> dict[str, Any]:
    """Create or update one document; raises InvalidElementError with Xero's texts."""
    existing = find_existing(call, kind, element)
    if existing is not None and create_only:
        if element.get(kind.id_field):
            raise InvalidElementError(
                f"{kind.label} {element[kind.id_field]} already exists; update it with POST."
            )
        # PUT with a number already in use is a duplicate, not an update.
        raise InvalidElementError(kind.duplicate_number)
    if existing is None:
        return _create(call, kind, element)
    return _update(call, kind, existing, element)


def _status(kind: Kind, value: Any, default: str) -> str:
    status = str(value or default).upper()
    if status not in kind.statuses:
        raise InvalidElementError(f"'{value}' is not a valid {kind.label} status.")
    return status


def _amount_types(value: Any, default: str) -> str:
    if value is None:
        return default
    found = LINE_AMOUNT_TYPES.get(str(value).lower())
    if found is None:
        raise InvalidElementError(f"LineAmountTypes '{value}' is not valid.")
    return found


def _create(call: Call, kind: Kind, element: dict[str, Any]) -> dict[str, Any]:
    errors: list[str] = []
    doc_type = str(element.get("Type") or "").upper()
    if kind.types and doc_type not in kind.types:
        errors.append(f"{kind.label} Type must be one of {', '.join(kind.types)}.")
    status = _status(kind, element.get("Status"), "DRAFT")
    if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        errors.append(f"A new {kind.label.lower()} can only be DRAFT, SUBMITTED or AUTHORISED.")
    try:
        contact = ledger.contact_summary(ledger.contact_for_document(call, element.get("Contact")))
    except InvalidElementError as invalid:
        errors += invalid.messages
        contact = {"ContactID": None, "Name": None}
    record: dict[str, Any] = {
        kind.id_field: call.book.new_guid(),
        "Contact": contact,
        "CurrencyCode": element.get("CurrencyCode") or call.book.organisation.currency,
        "CurrencyRate": Decimal("1.000000"),
        "HasAttachments": False,
    }
    if kind.types:
        record["Type"] = doc_type
    return _apply_fields(call, kind, record, element, status, errors, is_new=True)


def _apply_fields(
    call: Call,
    kind: Kind,
    record: dict[str, Any],
    element: dict[str, Any],
    status: str,
    errors: list[str],
    *,
    is_new: bool,
) -> dict[str, Any]:
    doc_type = str(record.get("Type", ""))
    today = call.book.now().date()
    day = parse_date(element["Date"]) if element.get("Date") else record.get("Date", today)
    record["Date"] = day
    for field in (
        "DueDate",
        "ExpectedPaymentDate",
        "PlannedPaymentDate",
        "DeliveryDate",
        "ExpectedArrivalDate",
    ):
        if element.get(field):
            record[field] = parse_date(element[field], field)
    for field in (
        "Reference",
        "Url",
        "BrandingThemeID",
        "SentToContact",
        "DeliveryAddress",
        "AttentionTo",
        "Telephone",
        "DeliveryInstructions",
    ):
        if field in element:
            record[field] = element[field]
    amount_types = _amount_types(
        element.get("LineAmountTypes"), record.get("LineAmountTypes", "Exclusive")
    )
    record["LineAmountTypes"] = amount_types
    number = element.get(kind.number_field)
    if number:
        number = str(number).strip()
        if (not kind.types or doc_type in kind.numbered_types) and _number_taken(
            call, kind, number, record.get(kind.id_field) if not is_new else None
        ):
            errors.append(kind.duplicate_number)
        record[kind.number_field] = number
    elif is_new and (not kind.types or doc_type in kind.numbered_types):
        record[kind.number_field] = _next_number(call, kind)

    strict = status not in DRAFTS
    if "LineItems" in element or is_new:
        raw_lines = element.get("LineItems") or []
        if not isinstance(raw_lines, list):
            raise InvalidElementError("LineItems must be a list.")
        previous = {str(line["LineItemID"]).lower(): line for line in record.get("LineItems", [])}
        lines = []
        for raw in raw_lines:
            line, problems = _line(call, kind, doc_type, amount_types, raw, previous, strict)
            errors += problems
            lines.append(line)
    else:
        # Recompute the stored lines (the amount type or status may have changed).
        lines = []
        for stored in record.get("LineItems", []):
            raw = {
                key: value
                for key, value in stored.items()
                if key not in ("TaxAmount", "LineAmount", "Item")
            }
            raw["LineAmount"] = stored["LineAmount"]
            line, problems = _line(
                call,
                kind,
                doc_type,
                amount_types,
                raw,
                {stored["LineItemID"].lower(): stored},
                strict,
            )
            errors += problems
            lines.append(line)
    record.update(totals(lines, amount_types))
    record["LineItems"] = [{k: v for k, v in line.items() if k != "_gross"} for line in lines]
    record["IsDiscounted"] = record["TotalDiscount"] != 0
    if status not in DRAFTS:
        errors += ledger.lock_messages(call, day)
    if errors:
        raise InvalidElementError(*dict.fromkeys(errors))
    record["Status"] = status
    _settle(record, kind)
    if kind is INVOICES and status == "AUTHORISED" and record["AmountDue"] == 0:
        # Nothing to collect: Xero files a zero invoice as paid straight away.
        record["Status"], record["FullyPaidOnDate"] = "PAID", day
    call.book.put(kind.collection, record)
    if kind.types and status == "AUTHORISED":
        ledger.mark_contact_role(
            call, record["Contact"]["ContactID"], customer=doc_type in kind.sales_types
        )
    return record


def _settle(record: dict[str, Any], kind: Kind) -> None:
    """Recompute what is due (invoices) or left to use (credit notes)."""
    if kind is PURCHASE_ORDERS:
        return
    record.setdefault("Payments", [])
    record.setdefault("HasErrors", False)
    if kind is INVOICES:
        paid = record.setdefault("AmountPaid", Decimal(0))
        credited = record.setdefault("AmountCredited", Decimal(0))
        record["AmountDue"] = record["Total"] - paid - credited
        for listing in ("CreditNotes", "Prepayments", "Overpayments"):
            record.setdefault(listing, [])
        return
    # Credit notes: cash refunds (payments) and allocations both use up the credit.
    refunded = record.get("_Refunded", Decimal(0))
    allocated = sum(
        (a["Amount"] for a in record.get("Allocations", []) if not a.get("IsDeleted")),
        Decimal(0),
    )
    record["AppliedAmount"] = allocated
    record["RemainingCredit"] = record["Total"] - refunded - allocated
    record.setdefault("Allocations", [])
    record.setdefault("SentToContact", False)


def money_applied(record: dict[str, Any]) -> bool:
    used = (
        record.get("AmountPaid"),
        record.get("AmountCredited"),
        record.get("AppliedAmount"),
        record.get("_Refunded"),
    )
    return any(value for value in used)


def _update(
    call: Call, kind: Kind, existing: dict[str, Any], element: dict[str, Any]
) -> dict[str, Any]:
    current = str(existing.get("Status"))
    target = _status(kind, element.get("Status"), current)
    changes = {
        key
        for key, value in element.items()
        if key not in (kind.id_field, kind.number_field, "Type", "Contact")
        or (key == kind.number_field and value != existing.get(kind.number_field))
    }
    if current in ("VOIDED", "DELETED") or (
        kind is PURCHASE_ORDERS and current == "BILLED" and target != "BILLED"
    ):
        if changes - {"Status"} or target != current:
            raise InvalidElementError(NOT_VALID_FOR_MODIFICATION)
        return existing
    applied = money_applied(existing)
    if target != current:
        if target == "VOIDED":
            if current != "AUTHORISED":
                raise InvalidElementError(NOT_VALID_FOR_MODIFICATION)
            if applied:
                raise InvalidElementError(
                    f"The status VOIDED cannot be applied to the {kind.label.lower()} because it "
                    "has payments or credit notes allocated to it."
                )
        elif target == "DELETED" and current not in DRAFTS and kind is not PURCHASE_ORDERS:
            raise InvalidElementError(NOT_VALID_FOR_MODIFICATION)
        elif target in DRAFTS and current not in DRAFTS and kind is not PURCHASE_ORDERS:
            if applied:
                raise InvalidElementError(
                    f"The status {target} cannot be applied to the {kind.label.lower()} because "
                    "it has payments or credit notes allocated to it."
                )
            raise InvalidElementError(NOT_VALID_FOR_MODIFICATION)
        elif target == "PAID":
            raise InvalidElementError(NOT_VALID_FOR_MODIFICATION)
    if (applied or current == "PAID") and changes - EDITABLE_WITH_MONEY:
        raise InvalidElementError(HAS_MONEY_APPLIED)
    record = dict(existing)
    if target in ("VOIDED", "DELETED"):
        if target == "VOIDED":
            ledger.check_lock(call, existing["Date"])
        record["Status"] = target
        if kind is INVOICES:
            record["AmountDue"] = Decimal(0)
        elif kind is CREDIT_NOTES:
            record["RemainingCredit"] = Decimal(0)
        call.book.put(kind.collection, record)
        return record
    if element.get("Contact"):
        contact = ledger.contact_for_document(call, element["Contact"])
        record["Contact"] = ledger.contact_summary(contact)
    if current not in DRAFTS and existing.get("Date"):
        ledger.check_lock(call, existing["Date"])
    errors: list[str] = []
    kept_status = current if current == "PAID" else target
    return _apply_fields(call, kind, record, element, kept_status, errors, is_new=False)


# -- reading -------------------------------------------------------------------------------


def view(
    call: Call, kind: Kind, record: dict[str, Any], *, with_lines: bool = True
) -> dict[str, Any]:
    shown = dict(record)
    shown["Contact"] = ledger.contact_view(call, record.get("Contact"))
    if not with_lines:
        shown["LineItems"] = []
    if kind is CREDIT_NOTES:  # the spec's CreditNote has no discount totals
        shown.pop("TotalDiscount", None)
        shown.pop("IsDiscounted", None)
    return render_record(
        shown,
        unit_places=call.unit_places,
        utc_twins=kind is not PURCHASE_ORDERS,
        date_twins=DATE_TWINS[kind.collection],
    )


def element_echo(kind: Kind, element: dict[str, Any]) -> dict[str, Any]:
    """A failed element as Xero hands it back: what was sent, with the nil id."""
    echo = dict(element)
    if kind is not PURCHASE_ORDERS:
        echo.setdefault(kind.id_field, "00000000-0000-0000-0000-000000000000")
        echo["HasErrors"] = True
    return echo
