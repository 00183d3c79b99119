"""Master data and journals: contacts, items, accounts, tax rates, tracking categories, manual
journals.

Rules kept (texts as Xero words them where sourced): contact names unique among ACTIVE contacts,
contact numbers unique; item codes at most 30 characters and unique; account codes and names
unique; at most two active tracking categories; manual journals must balance.
"""

from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.xero import defaults, documents, ledger
from ledgerbridge_sim.xero.ledger import Call
from ledgerbridge_sim.xero.wire import (
    InvalidElementError,
    is_guid,
    parse_date,
    round_money,
    to_decimal,
)

ITEM_CODE_TOO_LONG: Final = "Price List Item Code must not be more than 30 characters"
ITEM_NAME_TOO_LONG: Final = "Price List Item Name must not be more than 50 characters"
UNIQUE_ACCOUNT_NAME: Final = "Please enter a unique Name."
UNIQUE_ACCOUNT_CODE: Final = "Please enter a unique Code."
READ_ONLY: Final = {
    "UpdatedDateUTC",
    "ValidationErrors",
    "Warnings",
    "StatusAttributeString",
    "HasValidationErrors",
    "HasErrors",
    "HasAttachments",
}


def _writable(element: dict[str, Any], *extra: str) -> dict[str, Any]:
    return {key: value for key, value in element.items() if key not in READ_ONLY | set(extra)}


def _by_id(
    call: Call, collection: str, id_field: str, element: dict[str, Any]
) -> dict[str, Any] | None:
    guid = element.get(id_field)
    if not guid:
        return None
    found = call.book.get(collection, guid) if is_guid(guid) else None
    if found is None:
        raise InvalidElementError(documents.NOT_FOUND_BY_ID)
    return found


# -- contacts ------------------------------------------------------------------------------


def write_contact(call: Call, element: dict[str, Any], *, create_only: bool) -> dict[str, Any]:
    book = call.book
    if not any(element.get(key) for key in ("Name", "ContactID", "ContactNumber")):
        raise InvalidElementError(ledger.IDENTIFY_CONTACT)
    existing = None if create_only else _by_id(call, "Contacts", "ContactID", element)
    number = element.get("ContactNumber")
    if existing is None and number and not create_only:
        existing = next(iter(book.having("Contacts", "ContactNumber", number)), None)
    errors: list[str] = []
    record = dict(existing) if existing else defaults.contact_record(book, "", "", False, False)
    record.update(_writable(element, "ContactID", "IsCustomer", "IsSupplier", "Balances"))
    name = str(record.get("Name") or "").strip()
    if not name:
        raise InvalidElementError(ledger.IDENTIFY_CONTACT)
    record["Name"] = name
    status = str(record.get("ContactStatus") or "ACTIVE").upper()
    if status not in ("ACTIVE", "ARCHIVED", "GDPRREQUEST"):
        errors.append(f"'{status}' is not a valid ContactStatus.")
    record["ContactStatus"] = status
    own_id = record["ContactID"]
    if status == "ACTIVE" and any(
        c["ContactID"] != own_id and c.get("ContactStatus") == "ACTIVE"
        for c in book.having("Contacts", "Name", name)
    ):
        errors.append(
            f"The contact name {name} is already assigned to another contact. The contact name "
            "must be unique across all active contacts."
        )
    if number and any(
        c["ContactID"] != own_id for c in book.having("Contacts", "ContactNumber", number)
    ):
        errors.append(f"The contact number {number} is already assigned to another contact.")
    for field, longest in (("ContactNumber", 50), ("AccountNumber", 50)):
        if record.get(field) and len(str(record[field])) > longest:
            errors.append(f"{field} must not be more than {longest} characters long.")
    if errors:
        raise InvalidElementError(*errors)
    return book.put("Contacts", record)


# -- items ---------------------------------------------------------------------------------


def write_item(call: Call, element: dict[str, Any], *, create_only: bool) -> dict[str, Any]:
    book = call.book
    existing = None if create_only else _by_id(call, "Items", "ItemID", element)
    code = str(element.get("Code") or (existing or {}).get("Code") or "").strip()
    if not code:
        raise InvalidElementError("Item Code must be specified")
    errors: list[str] = []
    if len(code) > 30:
        errors.append(ITEM_CODE_TOO_LONG)
    same_code = next(iter(book.having("Items", "Code", code)), None)
    if existing is None and same_code is not None:
        if create_only:
            errors.append(f"Price List Item with Code '{code}' already exists")
        else:
            existing = same_code  # POST with a known code updates that item
    elif (
        existing is not None and same_code is not None and same_code["ItemID"] != existing["ItemID"]
    ):
        errors.append(f"Price List Item with Code '{code}' already exists")
    record: dict[str, Any] = dict(existing) if existing else {"ItemID": book.new_guid()}
    record.update(
        _writable(element, "ItemID", "IsSold", "IsPurchased", "QuantityOnHand", "TotalCostPool")
    )
    record["Code"] = code
    if record.get("Name") and len(str(record["Name"])) > 50:
        errors.append(ITEM_NAME_TOO_LONG)
    for field in ("SalesDetails", "PurchaseDetails"):
        details = record.get(field)
        if isinstance(details, dict):
            details = dict(details)
            if details.get("UnitPrice") is not None:
                try:
                    details["UnitPrice"] = to_decimal(details["UnitPrice"], "UnitPrice")
                except InvalidElementError as invalid:
                    errors += invalid.messages
            if (
                details.get("AccountCode")
                and ledger.account_by_code(call, details["AccountCode"]) is None
            ):
                code_text = details["AccountCode"]
                errors.append(f"Account code '{code_text}' is not a valid code for this document.")
            record[field] = details
    if errors:
        raise InvalidElementError(*errors)
    record["IsSold"] = bool(record.get("SalesDetails"))
    record["IsPurchased"] = bool(record.get("PurchaseDetails"))
    record["IsTrackedAsInventory"] = bool(record.get("InventoryAssetAccountCode"))
    return book.put("Items", record)


# -- accounts ------------------------------------------------------------------------------


def write_account(call: Call, element: dict[str, Any], *, create_only: bool) -> dict[str, Any]:
    book = call.book
    existing = None if create_only else _by_id(call, "Accounts", "AccountID", element)
    record: dict[str, Any] = dict(existing) if existing else {}
    record.update(_writable(element, "AccountID", "Class", "SystemAccount", "ReportingCodeName"))
    errors: list[str] = []
    code, name, kind = record.get("Code"), record.get("Name"), str(record.get("Type") or "")
    if not code:
        errors.append("Please enter a Code.")
    elif len(str(code)) > 10:
        errors.append("Code must not be more than 10 characters long.")
    if not name:
        errors.append("Please enter a Name.")
    if kind.upper() not in defaults.ACCOUNT_CLASS:
        errors.append(f"'{kind}' is not a valid account Type.")
    own_id = record.get("AccountID")
    if code and book.find(
        "Accounts",
        lambda a: a["AccountID"] != own_id and str(a.get("Code", "")).lower() == str(code).lower(),
    ):
        errors.append(UNIQUE_ACCOUNT_CODE)
    if name and book.find(
        "Accounts",
        lambda a: a["AccountID"] != own_id and str(a.get("Name", "")).lower() == str(name).lower(),
    ):
        errors.append(UNIQUE_ACCOUNT_NAME)
    if errors:
        raise InvalidElementError(*errors)
    if existing is None:
        extra = {key: value for key, value in record.items() if key not in ("Code", "Name", "Type")}
        record = defaults.account_record(
            book, str(code), str(name), kind.upper(), extra, call.tax()
        )
    else:
        record["Type"] = kind.upper()
        record["Class"] = defaults.ACCOUNT_CLASS[kind.upper()]
    return book.put("Accounts", record)


# -- tax rates -----------------------------------------------------------------------------


def write_tax_rate(call: Call, element: dict[str, Any], *, create_only: bool) -> dict[str, Any]:
    book = call.book
    name = str(element.get("Name") or "").strip()
    existing = None
    if not create_only:
        wanted = element.get("TaxType")
        existing = book.get("TaxRates", wanted) if wanted else None
        if existing is None and name:
            existing = book.find(
                "TaxRates", lambda t: str(t.get("Name", "")).lower() == name.lower()
            )
    if not name and existing is None:
        raise InvalidElementError("Please enter a Name.")
    if existing is None and book.find(
        "TaxRates", lambda t: str(t.get("Name", "")).lower() == name.lower()
    ):
        raise InvalidElementError(UNIQUE_ACCOUNT_NAME)
    components = element.get("TaxComponents")
    if components is None and existing is not None:
        parts = tuple((c["Name"], str(c["Rate"])) for c in existing.get("TaxComponents", []))
    elif isinstance(components, list) and components:
        try:
            parts = tuple(
                (str(c.get("Name") or "Tax"), str(to_decimal(c.get("Rate", 0), "Rate")))
                for c in components
            )
        except (AttributeError, InvalidElementError):
            raise InvalidElementError("Each tax component needs a Name and a Rate") from None
    else:
        raise InvalidElementError("A tax rate needs at least one tax component")
    if existing is not None:
        tax_type = str(existing["TaxType"])
    else:
        used = {str(t.get("TaxType")) for t in book.rows("TaxRates")}
        number = 1
        while f"TAX{number:03d}" in used:
            number += 1
        tax_type = f"TAX{number:03d}"
    status = str(element.get("Status") or (existing or {}).get("Status") or "ACTIVE").upper()
    record = defaults.tax_rate_record(
        tax_type,
        name or str((existing or {}).get("Name")),
        element.get("ReportTaxType") or (existing or {}).get("ReportTaxType") or "OUTPUT",
        parts,
        status=status,
    )
    return book.put("TaxRates", record)


# -- tracking categories -------------------------------------------------------------------


def write_tracking_category(
    call: Call, element: dict[str, Any], *, create_only: bool
) -> dict[str, Any]:
    book = call.book
    existing = (
        None if create_only else _by_id(call, "TrackingCategories", "TrackingCategoryID", element)
    )
    record: dict[str, Any] = (
        dict(existing)
        if existing
        else {"TrackingCategoryID": book.new_guid(), "Options": [], "Status": "ACTIVE"}
    )
    name = str(element.get("Name") or record.get("Name") or "").strip()
    if not name:
        raise InvalidElementError("Please enter a Name.")
    if len(name) > 100:
        raise InvalidElementError(
            "Tracking category names must not be more than 100 characters long."
        )
    own_id = record["TrackingCategoryID"]
    if book.find(
        "TrackingCategories",
        lambda c: (
            c["TrackingCategoryID"] != own_id
            and c.get("Status") != "DELETED"
            and str(c.get("Name", "")).lower() == name.lower()
        ),
    ):
        raise InvalidElementError("For each specified tracking category the name must be unique.")
    status = str(element.get("Status") or record.get("Status") or "ACTIVE").upper()
    active = [
        c
        for c in book.rows("TrackingCategories")
        if c.get("Status") == "ACTIVE" and c["TrackingCategoryID"] != own_id
    ]
    if status == "ACTIVE" and len(active) >= 2:
        raise InvalidElementError("An organisation can only have 2 active tracking categories.")
    record.update(Name=name, Status=status)
    return book.put("TrackingCategories", record)


def add_tracking_options(call: Call, category_id: str, element: dict[str, Any]) -> dict[str, Any]:
    category = call.book.get("TrackingCategories", category_id)
    if category is None:
        raise InvalidElementError(documents.NOT_FOUND_BY_ID)
    name = str(element.get("Name") or "").strip()
    if not name or len(name) > 100:
        raise InvalidElementError("Tracking option names must be 1 to 100 characters long.")
    if any(str(o.get("Name", "")).lower() == name.lower() for o in category.get("Options", [])):
        raise InvalidElementError("For each specified tracking option the name must be unique.")
    option = {"TrackingOptionID": call.book.new_guid(), "Name": name, "Status": "ACTIVE"}
    call.book.put(
        "TrackingCategories", {**category, "Options": [*category.get("Options", []), option]}
    )
    return {**option, "TrackingCategoryID": category["TrackingCategoryID"]}


# -- manual journals -----------------------------------------------------------------------


def write_manual_journal(
    call: Call, element: dict[str, Any], *, create_only: bool
) -> dict[str, Any]:
    book = call.book
    existing = None if create_only else _by_id(call, "ManualJournals", "ManualJournalID", element)
    current = str((existing or {}).get("Status") or "")
    target = str(element.get("Status") or current or "DRAFT").upper()
    if target not in ("DRAFT", "POSTED", "DELETED", "VOIDED"):
        raise InvalidElementError(f"'{target}' is not a valid manual journal status.")
    allowed = {
        "": {"DRAFT", "POSTED"},
        "DRAFT": {"DRAFT", "POSTED", "DELETED"},
        "POSTED": {"POSTED", "VOIDED"},
    }.get(current, set())
    if target not in allowed:
        raise InvalidElementError("Manual journal not of valid status for modification")
    record: dict[str, Any] = (
        dict(existing)
        if existing
        else {"ManualJournalID": book.new_guid(), "HasAttachments": False}
    )
    if target in ("DELETED", "VOIDED"):
        if target == "VOIDED":
            ledger.check_lock(call, record["Date"])
        record["Status"] = target
        return book.put("ManualJournals", record)
    if current == "POSTED" and set(element) - {"ManualJournalID", "Status", "Narration", "Url"}:
        raise InvalidElementError("Manual journal not of valid status for modification")
    narration = element.get("Narration", record.get("Narration"))
    errors: list[str] = []
    if not narration:
        errors.append("Narration must be specified")
    day = (
        parse_date(element["Date"])
        if element.get("Date")
        else record.get("Date") or book.now().date()
    )
    amount_types = documents._amount_types(
        element.get("LineAmountTypes"), record.get("LineAmountTypes", "NoTax")
    )
    lines = record.get("JournalLines", [])
    if "JournalLines" in element:
        lines = []
        for raw in element.get("JournalLines") or []:
            line, problems = _journal_line(call, raw, amount_types)
            errors += problems
            lines.append(line)
    debits = sum((line["LineAmount"] for line in lines if line["LineAmount"] > 0), Decimal(0))
    credits = sum((line["LineAmount"] for line in lines if line["LineAmount"] < 0), Decimal(0))
    if debits + credits != 0:
        errors.append(f"The total debits ({debits:.2f}) must equal total credits ({credits:.2f})")
    if len(lines) < 2:
        errors.append("A manual journal needs at least two lines")
    if target == "POSTED":
        errors += ledger.lock_messages(call, day)
    if errors:
        raise InvalidElementError(*dict.fromkeys(errors))
    record.update(
        Narration=narration,
        Date=day,
        Status=target,
        LineAmountTypes=amount_types,
        JournalLines=lines,
        ShowOnCashBasisReports=element.get(
            "ShowOnCashBasisReports", record.get("ShowOnCashBasisReports", True)
        ),
        Url=element.get("Url", record.get("Url")),
    )
    return book.put("ManualJournals", record)


def _journal_line(call: Call, raw: Any, amount_types: str) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(raw, dict):
        return {"LineAmount": Decimal(0)}, ["A journal line must be an object"]
    errors: list[str] = []
    try:
        amount = round_money(to_decimal(raw.get("LineAmount"), "LineAmount"))
    except InvalidElementError as invalid:
        return {"LineAmount": Decimal(0)}, invalid.messages
    code = raw.get("AccountCode")
    account = ledger.account_ref(call, {"Code": code, "AccountID": raw.get("AccountID")})
    if account is None or account.get("Status") != "ACTIVE":
        errors.append(
            f"Account code '{code}' has been removed as it does not match a recognised account."
        )
    line: dict[str, Any] = {
        "LineAmount": amount,
        "Description": raw.get("Description"),
        "IsBlank": False,
    }
    tax = Decimal(0)
    if account is not None:
        line.update(AccountCode=account["Code"], AccountID=account["AccountID"])
        tax_type = raw.get("TaxType") or account.get("TaxType")
        rate = ledger.tax_rate(call, tax_type)
        if rate is None:
            code = account["Code"]
            errors.append(
                f"The TaxType code '{tax_type}' cannot be used with account code '{code}'."
            )
        else:
            line["TaxType"] = tax_type
            percent = ledger.effective_rate(rate)
            if amount_types == "Exclusive":
                tax = round_money(amount * percent / Decimal(100))
            elif amount_types == "Inclusive":
                tax = round_money(amount * percent / (Decimal(100) + percent))
    line["TaxAmount"] = tax
    return line, errors
