"""The accounting (GL) interface: unposted lists, the side-effect-free export, and batches.

State kept beside the vendor-shaped records:

- `invoiceLines` (collection): the detail lines of every invoice; a line's id is its GL entry id.
- `glEntries` (collection): GL entry id → {"recordType": invoice|expense|procurement,
  "recordId": the unposted record's id}. Expenses have one entry (their own id); procurement has
  one per PO line or adjustment detail.
- `extra["batch_contents"]`: batch id → the unposted records it took and their GL entry ids.

A closed, never-batched invoice appears in `unpostedInvoices` (its unposted id is the invoice id,
which is also its `billingLogId`). Creating a batch with any of a record's GL entry ids takes the
whole record out of its unposted list and sets `Invoice.glBatch`; deleting the batch puts every
record back. The export never changes anything.
"""

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ledgerbridge_sim.connectwise import conditions as cq
from ledgerbridge_sim.connectwise.errors import invalid_object, not_found
from ledgerbridge_sim.connectwise.http import Call, Reply, Router
from ledgerbridge_sim.connectwise.resources import add_list
from ledgerbridge_sim.state import SystemState

ACCOUNTING = "Finance/Accounting Interface"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
LEVEL_WORDS = ("One", "Two", "Three", "Four", "Five", "Six")
# The unposted records name the six tax levels after the jurisdictions CW gives them.
LEVEL_PREFIXES = ("state", "county", "city", "country", "composite", "levelSix")
AR_ACCOUNT, TAX_ACCOUNT, AP_ACCOUNT, INVENTORY_ACCOUNT = "1200", "2200", "2000", "1400"
UNPOSTED = {
    "invoice": "unpostedInvoices",
    "expense": "unpostedExpenses",
    "procurement": "unpostedProcurement",
}


def money(value: Decimal) -> Decimal:
    """CW's totals: two decimals, halves away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def lines_of(state: SystemState, invoice_id: int) -> list[dict[str, Any]]:
    index: dict[int, list[dict[str, Any]]] = state.extra.setdefault("lines_by_invoice", {})
    return index.get(invoice_id, [])


def index_line(state: SystemState, line: dict[str, Any]) -> None:
    index: dict[int, list[dict[str, Any]]] = state.extra.setdefault("lines_by_invoice", {})
    index.setdefault(line["invoiceId"], []).append(line)


# --- tax ------------------------------------------------------------------------------------------


def tax_levels(
    tax_code: dict[str, Any] | None, lines: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per level: rate, taxable base and the tax, each level rounded to cents (as CW rounds)."""
    if tax_code is None:
        return []
    levels = []
    for number, word in enumerate(LEVEL_WORDS, start=1):
        rate = tax_code.get(f"level{word}Rate")
        if not rate:
            continue
        services = tax_code.get(f"level{word}ServicesFlag", True)
        products = tax_code.get(f"level{word}ProductsFlag", True)
        base = sum(
            (
                line["total"]
                for line in lines
                if line.get("taxableFlag")
                and (products if line.get("kind") == "Product" else services)
            ),
            ZERO,
        )
        levels.append(
            {
                "taxLevel": number,
                "taxRate": Decimal(rate),
                "taxableAmount": money(base),
                "taxAmount": money(base * Decimal(rate) / 100),
                "taxCodeXref": tax_code.get(f"level{word}TaxCodeXref", ""),
                "agencyXref": tax_code.get(f"level{word}AgencyXref", ""),
                "caption": tax_code.get(f"level{word}Caption", ""),
            }
        )
    return levels


def _tax_code(state: SystemState, reference: Any) -> dict[str, Any] | None:
    if not isinstance(reference, dict) or reference.get("id") is None:
        return None
    return state.collection("taxCodes").get(int(reference["id"]))


# --- unposted records -----------------------------------------------------------------------------


def unposted_invoice(state: SystemState, invoice: dict[str, Any]) -> dict[str, Any]:
    """The UnpostedInvoice CW lists for a closed invoice."""
    lines = lines_of(state, invoice["id"])
    levels = tax_levels(_tax_code(state, invoice.get("taxCode")), lines)
    company = invoice.get("company") or {}
    terms = state.collection("billingTerms").get(
        int((invoice.get("billingTerms") or {}).get("id") or 0)
    )
    record: dict[str, Any] = {
        "id": invoice["id"],
        "billingLogId": invoice["id"],
        "invoiceNumber": invoice.get("invoiceNumber", str(invoice["id"])),
        "invoiceType": invoice.get("type", "Standard"),
        "invoiceDate": invoice.get("date"),
        "dueDate": invoice.get("dueDate"),
        "dueDays": str((terms or {}).get("dueDays", 30)),
        "description": invoice.get("reference") or invoice.get("topComment") or "",
        "company": company,
        "billToCompany": invoice.get("billToCompany", company),
        "shipToCompany": invoice.get("shipToCompany", company),
        "accountNumber": AR_ACCOUNT,
        "billingTerms": invoice.get("billingTerms"),
        "currency": invoice.get("currency"),
        "taxCode": invoice.get("taxCode"),
        "subTotal": invoice.get("subtotal", ZERO),
        "total": invoice.get("total", ZERO),
        "salesTaxAmount": invoice.get("salesTax", ZERO),
        "invoiceTaxableFlag": bool(invoice.get("taxableFlag", False)),
        "itemTaxableFlag": any(line.get("taxableFlag") for line in lines),
        "avalaraTaxFlag": False,
        "locationId": invoice.get("locationId", 1),
        "departmentId": invoice.get("departmentId", 1),
        "createdBy": (invoice.get("_info") or {}).get("enteredBy", "apiuser"),
        "dateClosed": (invoice.get("_info") or {}).get("lastUpdated", invoice.get("date")),
    }
    by_level = {level["taxLevel"]: level for level in levels}
    for number, prefix in enumerate(LEVEL_PREFIXES, start=1):
        level = by_level.get(number)
        record[f"{prefix}TaxFlag"] = level is not None
        record[f"{prefix}TaxXref"] = level["taxCodeXref"] if level else ""
        record[f"{prefix}TaxAmount"] = level["taxAmount"] if level else ZERO
    return {key: value for key, value in record.items() if value is not None}


def register_unposted(
    state: SystemState, kind: str, record: dict[str, Any], entry_ids: Iterable[int]
) -> None:
    state.collection(UNPOSTED[kind])[record["id"]] = record
    entries = state.collection("glEntries")
    for entry_id in entry_ids:
        entries[entry_id] = {"id": entry_id, "recordType": kind, "recordId": record["id"]}


def entry_ids_of(state: SystemState, kind: str, record: dict[str, Any]) -> list[int]:
    if kind == "invoice":
        return [line["id"] for line in lines_of(state, record["id"])]
    if kind == "expense":
        return [record["id"]]
    holder: dict[int, list[int]] = state.extra.setdefault("procurement_entries", {})
    return holder.get(record["id"], [])


def close_invoice(state: SystemState, invoice: dict[str, Any]) -> None:
    """A closed billing status puts the invoice in the unposted list, GL entries per line."""
    if invoice.get("glBatch") or invoice["id"] in state.collection("unpostedInvoices"):
        return
    record = unposted_invoice(state, invoice)
    register_unposted(state, "invoice", record, entry_ids_of(state, "invoice", record))


def reconcile(state: SystemState) -> None:
    """After explicit seeding: index lines, list closed unbatched invoices, register entries."""
    state.extra["lines_by_invoice"] = {}
    for line in state.collection("invoiceLines").values():
        index_line(state, line)
    for invoice in state.collection("invoices").values():
        if (invoice.get("status") or {}).get("isClosed"):
            close_invoice(state, invoice)
    entries = state.collection("glEntries")
    for kind, collection in UNPOSTED.items():
        for record in state.collection(collection).values():
            for entry_id in entry_ids_of(state, kind, record):
                entries.setdefault(
                    entry_id, {"id": entry_id, "recordType": kind, "recordId": record["id"]}
                )


# --- the GL export --------------------------------------------------------------------------------


def _ref(value: Any, *keys: str) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {key: value[key] for key in ("id", *keys) if key in value}


def _customer(state: SystemState, company_ref: dict[str, Any]) -> dict[str, Any]:
    company = state.collection("companies").get(int(company_ref.get("id") or 0)) or {}
    terms = (
        state.collection("billingTerms").get(
            int((company.get("billingTerms") or {}).get("id") or 0)
        )
        or {}
    )
    tax_code = _tax_code(state, company.get("taxCode"))
    levels = tax_levels(tax_code, [])
    return {
        "company": _ref(company_ref, "identifier", "name"),
        "accountNumber": company.get("accountNumber", ""),
        "billingTerms": _ref(company.get("billingTerms"), "name"),
        "billingTermsXref": terms.get("termsXref", ""),
        "dueDays": terms.get("dueDays", 0),
        "currency": _ref(company.get("currency"), "currencyCode"),
        "taxCode": _ref(company.get("taxCode"), "name"),
        "taxable": bool(levels),
        "taxAgencyXref": levels[0]["agencyXref"] if levels else "",
        "taxGroupRate": sum((level["taxRate"] for level in levels), Decimal(0)),
        "taxLevels": [
            {
                "taxLevel": level["taxLevel"],
                "taxRate": level["taxRate"],
                "taxCodeXref": level["taxCodeXref"],
                "agencyXref": level["agencyXref"],
            }
            for level in levels
        ],
        "addressLine1": company.get("addressLine1", ""),
        "city": company.get("city", ""),
        "state": company.get("state", ""),
        "zip": company.get("zip", ""),
    }


def _transaction(state: SystemState, unposted: dict[str, Any], summarize: str) -> dict[str, Any]:
    invoice = state.collection("invoices").get(unposted["id"]) or {}
    lines = lines_of(state, unposted["id"])
    tax_code = _tax_code(state, unposted.get("taxCode"))
    levels = tax_levels(tax_code, lines)
    terms = (
        state.collection("billingTerms").get(
            int((unposted.get("billingTerms") or {}).get("id") or 0)
        )
        or {}
    )
    details = [
        {
            "id": line["id"],
            "accountNumber": line.get("accountNumber", "4000"),
            "salesCode": line.get("salesCode", ""),
            "item": _ref(line.get("item"), "identifier"),
            "itemDescription": line.get("description", ""),
            "quantity": line.get("quantity"),
            "itemPrice": line.get("price"),
            "itemCost": line.get("cost"),
            "cost": money((line.get("cost") or ZERO) * (line.get("quantity") or ZERO)),
            "total": line["total"],
            "taxableFlag": bool(line.get("taxableFlag")),
            "taxCode": _ref(unposted.get("taxCode")),
            "taxLevels": [
                {"taxLevel": level["taxLevel"], "taxableFlag": bool(line.get("taxableFlag"))}
                for level in levels
            ],
            "invoiceSummaryOption": summarize,
            "costAccountNumber": line.get("costAccountNumber", "5000"),
            "inventoryAccountNumber": line.get("inventoryAccountNumber", INVENTORY_ACCOUNT),
            "documentDate": unposted.get("invoiceDate"),
        }
        for line in lines
    ]
    if summarize == "Condensed":
        details = _condensed(details)
    is_credit = unposted.get("invoiceType") == "CreditMemo"
    return {
        "id": unposted["id"],
        "documentType": "CreditMemo" if is_credit else "Invoice",
        "documentNumber": unposted.get("invoiceNumber"),
        "documentDate": unposted.get("invoiceDate"),
        "dueDate": unposted.get("dueDate"),
        "dueDays": terms.get("dueDays", 0),
        "glEntryIds": ",".join(str(line["id"]) for line in lines),
        "company": _ref(unposted.get("company"), "identifier", "name"),
        "companyAccountNumber": (
            state.collection("companies").get(int((unposted.get("company") or {}).get("id") or 0))
            or {}
        ).get("accountNumber", ""),
        "accountNumber": unposted.get("accountNumber", AR_ACCOUNT),
        "glClass": "",
        "glTypeId": "AR",
        "memo": invoice.get("reference", ""),
        "description": unposted.get("description", ""),
        "billingType": unposted.get("invoiceType"),
        "currency": _ref(unposted.get("currency"), "currencyCode"),
        "taxCode": _ref(unposted.get("taxCode")),
        "taxable": bool(levels) and unposted.get("salesTaxAmount", ZERO) != ZERO,
        "salesTax": unposted.get("salesTaxAmount", ZERO),
        "total": unposted.get("total", ZERO),
        "taxableTotal": max((level["taxableAmount"] for level in levels), default=ZERO),
        "taxAccountNumber": TAX_ACCOUNT,
        "taxLevels": [
            {
                "taxLevel": level["taxLevel"],
                "taxAmount": level["taxAmount"],
                "taxableAmount": level["taxableAmount"],
                "taxCodeXref": level["taxCodeXref"],
                "agencyXref": level["agencyXref"],
            }
            for level in levels
        ],
        "detail": details,
    }


def _condensed(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One detail per revenue account, as the Condensed summary option posts them."""
    by_account: dict[str, dict[str, Any]] = {}
    for detail in details:
        merged = by_account.get(detail["accountNumber"])
        if merged is None:
            # [U] what the real Condensed export says on a merged line is not documented; the
            # sales code (or the account) names the revenue, one unit of the whole amount.
            by_account[detail["accountNumber"]] = {
                **detail,
                "item": None,
                "itemDescription": detail.get("salesCode") or f"Revenue {detail['accountNumber']}",
                "quantity": Decimal(1),
                "itemPrice": detail["total"],
            }
        else:
            merged["total"] += detail["total"]
            merged["cost"] += detail["cost"]
            merged["itemPrice"] = merged["total"]
    return list(by_account.values())


def _expense_rows(
    state: SystemState, expenses: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    bills: dict[str, dict[str, Any]] = {}
    members = {m["id"]: m for m in state.collection("members").values()}
    for expense in expenses:
        member = members.get(int((expense.get("member") or {}).get("id") or 0), {})
        vendor_number = member.get("vendorNumber", "")
        total = expense.get("total", ZERO)
        rows.append(
            {
                "id": expense["id"],
                "documentType": "Expense",
                "documentDate": expense.get("dateExpense"),
                "member": _ref(expense.get("member"), "identifier"),
                "vendorNumber": vendor_number,
                "accountNumber": expense.get("accountNumber", "6100"),
                "apAccountNumber": expense.get("creditAccount", AP_ACCOUNT),
                "total": total,
                "offset": {
                    "id": expense["id"],
                    "accountNumber": expense.get("creditAccount", AP_ACCOUNT),
                    "total": -total,
                },
            }
        )
        key = f"{vendor_number}-{(expense.get('dateExpense') or '')[:7]}"
        bill = bills.setdefault(
            key,
            {
                "id": expense["id"],
                "documentNumber": f"EXP-{key}",
                "member": _ref(expense.get("member"), "identifier"),
                "vendorNumber": vendor_number,
                "apAccountNumber": AP_ACCOUNT,
                "total": ZERO,
                "detail": [],
            },
        )
        bill["total"] += total
        bill["detail"].append(
            {
                "id": [expense["id"]],
                "accountNumber": expense.get("accountNumber", "6100"),
                "reimbursable": expense.get("classification") == "Reimbursable",
                "billable": bool(expense.get("billableAmount")),
                "total": total,
            }
        )
    return rows, list(bills.values())


def _procurement_rows(
    state: SystemState, rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    purchases, adjustments, vendors = [], [], {}
    for row in rows:
        if row.get("procurementType") == "Adjustment":
            adjustment = (
                state.collection("adjustments").get(int(row.get("adjustmentId") or 0)) or {}
            )
            adjustments.append(
                {
                    "id": row.get("unpostedProductId"),
                    "documentType": "Adjustment",
                    "adjustmentDescription": adjustment.get("reason", row.get("description", "")),
                    "accountNumber": "5100",
                    "adjustmentDetail": [
                        {
                            "id": detail["id"],
                            "item": _ref(detail.get("catalogItem"), "identifier"),
                            "quantity": detail.get("quantityAdjusted"),
                            "cost": detail.get("unitCost"),
                            "total": money(
                                (detail.get("unitCost") or ZERO)
                                * (detail.get("quantityAdjusted") or ZERO)
                            ),
                            "inventoryAccountNumber": INVENTORY_ACCOUNT,
                        }
                        for detail in adjustment.get("adjustmentDetails", [])
                    ],
                }
            )
            continue
        po = (
            state.collection("purchaseOrders").get(
                int((row.get("purchaseOrder") or {}).get("id") or 0)
            )
            or {}
        )
        vendor = row.get("vendor") or {}
        vendor_company = state.collection("companies").get(int(vendor.get("id") or 0)) or {}
        vendor_number = vendor_company.get("vendorIdentifier", "")
        vendors[vendor.get("id")] = {
            "vendor": _ref(vendor, "identifier", "name"),
            "vendorNumber": vendor_number,
            "accountNumber": vendor_company.get("accountNumber", ""),
            "billingTerms": _ref(row.get("billingTerms"), "name"),
            "dueDays": 30,
        }
        items = [
            line
            for line in state.collection("purchaseOrderLineItems").values()
            if line.get("purchaseOrderId") == po.get("id")
        ]
        purchases.append(
            {
                "id": row.get("unpostedProductId"),
                "documentNumber": po.get("poNumber", ""),
                "documentDate": row.get("purchaseDate"),
                "vendorNumber": vendor_number,
                "vendorInvoiceNumber": row.get("vendorInvoiceNumber", ""),
                "vendorInvoiceDate": row.get("vendorInvoiceDate"),
                "apAccountNumber": AP_ACCOUNT,
                "freightAmount": row.get("freightCost", ZERO),
                "taxTotal": row.get("taxTotal", ZERO),
                "total": row.get("total", ZERO),
                "purchaseDetail": [
                    {
                        "id": line["id"],
                        "lineNumber": line.get("lineNumber"),
                        "item": _ref(line.get("product"), "identifier"),
                        "description": line.get("description", ""),
                        "quantity": line.get("quantity"),
                        "cost": line.get("unitCost"),
                        "total": money(
                            (line.get("unitCost") or ZERO) * (line.get("quantity") or ZERO)
                        ),
                        "inventoryAccountNumber": INVENTORY_ACCOUNT,
                        "serialNumbers": line.get("serialNumbers", ""),
                    }
                    for line in items
                ],
                "purchaseDetailTax": [],
                "taxLevels": [],
            }
        )
    return purchases, adjustments, list(vendors.values())


def build_export(
    state: SystemState,
    invoices: list[dict[str, Any]],
    expenses: list[dict[str, Any]],
    procurement: list[dict[str, Any]],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """A GLExport of these unposted records (ordered by id, so the same input gives the same)."""
    summarize = settings.get("summarizeInvoices") or "Default"
    if summarize == "Default":
        summarize = "Detailed"
    invoices = sorted(invoices, key=lambda row: row["id"])
    customers: dict[Any, dict[str, Any]] = {}
    for unposted in invoices:
        company = unposted.get("company") or {}
        if company.get("id") not in customers:
            customers[company.get("id")] = _customer(state, company)
    expense_rows, expense_bills = _expense_rows(state, sorted(expenses, key=lambda r: r["id"]))
    purchases, adjustments, vendors = _procurement_rows(
        state, sorted(procurement, key=lambda r: r["id"])
    )
    return {
        "exportSettings": settings,
        "vendors": vendors,
        "customers": list(customers.values()),
        "transactions": [_transaction(state, row, summarize) for row in invoices],
        "expenses": expense_rows,
        "expenseBills": expense_bills,
        "purchaseTransactions": purchases,
        "adjustmentTransactions": adjustments,
        "inventoryTransfers": [],
    }


# --- handlers -------------------------------------------------------------------------------------


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise invalid_object(
            "exportAccountingBatchRequest",
            [("InvalidField", name, f"{name} must be true or false")],
        )
    return value


def _id_list(body: dict[str, Any], name: str, resource: str, kind: type = int) -> list[Any]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(
        isinstance(item, kind) and not isinstance(item, bool) for item in value
    ):
        wanted = "whole numbers" if kind is int else "strings"
        raise invalid_object(
            resource, [("InvalidField", name, f"{name} must be a list of {wanted}")]
        )
    return value


def _batch_identifier(body: dict[str, Any], resource: str) -> str:
    identifier = body.get("batchIdentifier")
    if not isinstance(identifier, str) or not identifier.strip():
        raise invalid_object(
            resource, [("MissingRequiredField", "batchIdentifier", "batchIdentifier is required")]
        )
    if len(identifier) > 50:
        raise invalid_object(
            resource,
            [
                (
                    "MaxLengthField",
                    "batchIdentifier",
                    "The field batchIdentifier must be a string with a maximum length of 50.",
                )
            ],
        )
    return identifier


def export(call: Call) -> Reply:
    """POST /finance/accounting/export: what a batch would post; nothing changes."""
    resource = "exportAccountingBatchRequest"
    body = call.json()
    if not isinstance(body, dict):
        raise invalid_object(resource, [("InvalidObject", "", "The body must be a JSON object")])
    identifier = _batch_identifier(body, resource)
    thru_text = body.get("thruDate")
    thru: str | None = None
    if thru_text is not None:
        moment = cq.parse_date(str(thru_text))
        if moment is None:
            raise invalid_object(
                resource, [("InvalidField", "thruDate", f"'{thru_text}' is not a date-time")]
            )
        thru = cq.canonical_date(moment)
    summarize = body.get("summarizeInvoices") or "Default"
    if summarize not in ("Default", "Condensed", "Detailed"):
        raise invalid_object(
            resource,
            [
                (
                    "InvalidField",
                    "summarizeInvoices",
                    "summarizeInvoices must be Default, Condensed or Detailed",
                )
            ],
        )
    location = body.get("locationId") or 0
    state = call.state

    def pick(
        collection: str, date_field: str, included: list[Any], excluded: list[Any], key: str
    ) -> list[dict[str, Any]]:
        wanted, unwanted = set(included), set(excluded)
        rows = []
        for row in state.collection(collection).values():
            if wanted and row.get(key) not in wanted:
                continue
            if row.get(key) in unwanted:
                continue
            if thru is not None and (row.get(date_field) or "") > thru:
                continue
            if location and row.get("locationId") not in (None, location):
                continue
            rows.append(row)
        return rows

    invoices = (
        pick(
            "unpostedInvoices",
            "invoiceDate",
            _id_list(body, "includedInvoiceIds", resource),
            _id_list(body, "excludedInvoiceIds", resource),
            "id",
        )
        if _flag(body, "exportInvoicesFlag")
        else []
    )
    expenses = (
        pick(
            "unpostedExpenses",
            "dateExpense",
            _id_list(body, "includedExpenseIds", resource),
            _id_list(body, "excludedExpenseIds", resource),
            "id",
        )
        if _flag(body, "exportExpensesFlag")
        else []
    )
    procurement = (
        pick(
            "unpostedProcurement",
            "purchaseDate",
            _id_list(body, "includedProductIds", resource, str),
            _id_list(body, "excludedProductIds", resource, str),
            "unpostedProductId",
        )
        if _flag(body, "exportProductsFlag")
        else []
    )
    settings = {
        "batchIdentifier": identifier,
        "thruDate": thru,
        "locationId": location,
        "summarizeInvoices": summarize,
        "glInterfaceIdentifier": body.get("glInterfaceIdentifier", ""),
    }
    return Reply(200, build_export(state, invoices, expenses, procurement, settings))


def create_batch(call: Call) -> Reply:
    """POST /finance/accounting/batches: mark the GL entries' records posted, once."""
    resource = "accountingBatch"
    body = call.json()
    if not isinstance(body, dict):
        raise invalid_object(resource, [("InvalidObject", "", "The body must be a JSON object")])
    state = call.state
    identifier = _batch_identifier(body, resource)
    if any(
        batch.get("batchIdentifier", "").lower() == identifier.lower()
        for batch in state.collection("batches").values()
    ):
        # [U] 400 InvalidObject/ObjectExists chosen over 409 (psa-apis §6 open question 2).
        raise invalid_object(
            resource,
            [
                (
                    "ObjectExists",
                    "batchIdentifier",
                    f"The batch identifier '{identifier}' is already in use.",
                )
            ],
        )
    processed = _id_list(body, "processedRecordIds", resource)
    if not processed:
        raise invalid_object(
            resource,
            [
                (
                    "MissingRequiredField",
                    "processedRecordIds",
                    "processedRecordIds must name at least one GL entry",
                )
            ],
        )
    flags = {
        "invoice": _flag(body, "exportInvoicesFlag"),
        "expense": _flag(body, "exportExpensesFlag"),
        "procurement": _flag(body, "exportProductsFlag"),
    }
    entries = state.collection("glEntries")
    problems, taken = [], {}
    for entry_id in processed:
        entry = entries.get(entry_id)
        if entry is None:
            problems.append(
                ("InvalidField", "processedRecordIds", f"GL entry {entry_id} not found")
            )
            continue
        kind = entry["recordType"]
        record = state.collection(UNPOSTED[kind]).get(entry["recordId"])
        if record is None:
            problems.append(
                ("InvalidField", "processedRecordIds", f"GL entry {entry_id} is already batched")
            )
        elif not flags[kind]:
            flag = {
                "invoice": "exportInvoicesFlag",
                "expense": "exportExpensesFlag",
                "procurement": "exportProductsFlag",
            }[kind]
            problems.append(
                (
                    "InvalidField",
                    "processedRecordIds",
                    f"GL entry {entry_id} is a {kind} entry but {flag} is false",
                )
            )
        else:
            taken[(kind, record["id"])] = record
    if problems:
        raise invalid_object(resource, problems)

    batch_id = max(state.collection("batches"), default=0) + 1
    now = call.now_text()
    who = call.member.get("identifier", "apiuser")
    batch = {
        "id": batch_id,
        "batchIdentifier": identifier,
        "exportInvoicesFlag": flags["invoice"],
        "exportExpensesFlag": flags["expense"],
        "exportProductsFlag": flags["procurement"],
        "closedFlag": True,
        "_info": {"dateEntered": now, "enteredBy": who, "lastUpdated": now, "updatedBy": who},
    }
    state.collection("batches")[batch_id] = batch
    contents: dict[int, dict[str, Any]] = state.extra.setdefault("batch_contents", {})
    contents[batch_id] = {"records": [], "entries": []}
    reference = {"id": batch_id, "name": identifier}
    for (kind, record_id), record in taken.items():
        del state.collection(UNPOSTED[kind])[record_id]
        contents[batch_id]["records"].append((kind, record))
        contents[batch_id]["entries"] += entry_ids_of(state, kind, record)
        if kind == "invoice" and (invoice := state.collection("invoices").get(record_id)):
            invoice["glBatch"] = reference
            invoice.pop("unbatchedBatch", None)
            invoice.setdefault("_info", {})["lastUpdated"] = now
    return Reply(201, _batch_export(state, batch_id))


def _batch_export(state: SystemState, batch_id: int) -> dict[str, Any]:
    contents = state.extra.get("batch_contents", {}).get(batch_id, {"records": []})
    by_kind: dict[str, list[dict[str, Any]]] = {"invoice": [], "expense": [], "procurement": []}
    for kind, record in contents["records"]:
        by_kind[kind].append(record)
    batch = state.collection("batches")[batch_id]
    settings = {"batchIdentifier": batch["batchIdentifier"], "summarizeInvoices": "Detailed"}
    return build_export(
        state, by_kind["invoice"], by_kind["expense"], by_kind["procurement"], settings
    )


def _batch(call: Call) -> dict[str, Any]:
    batch = call.state.collection("batches").get(call.path_params["id"])
    if batch is None:
        raise not_found("AccountingBatch", call.path_params["id"])
    return batch


def delete_batch(call: Call) -> Reply:
    """DELETE /finance/accounting/batches/{id}: every record goes back to the unposted lists."""
    state = call.state
    batch = _batch(call)
    contents = state.extra.get("batch_contents", {}).pop(batch["id"], {"records": []})
    now = call.now_text()
    for kind, record in contents["records"]:
        state.collection(UNPOSTED[kind])[record["id"]] = record
        if kind == "invoice" and (invoice := state.collection("invoices").get(record["id"])):
            invoice.pop("glBatch", None)
            invoice["unbatchedBatch"] = {"id": batch["id"], "name": batch["batchIdentifier"]}
            invoice.setdefault("_info", {})["lastUpdated"] = now
    del state.collection("batches")[batch["id"]]
    return Reply(204)


def reexport_batch(call: Call) -> Reply:
    return Reply(200, _batch_export(call.state, _batch(call)["id"]))


def batch_entries(call: Call) -> list[dict[str, Any]]:
    """BatchEntry rows: one per GL entry of the batch (revenue credit / expense debit) [U]."""
    state = call.state
    batch_id = call.path_params["parentId"]
    if batch_id not in state.collection("batches"):
        raise not_found("AccountingBatch", batch_id)
    contents = state.extra.get("batch_contents", {}).get(batch_id, {"records": []})
    rows: list[dict[str, Any]] = []
    for kind, record in contents["records"]:
        if kind == "invoice":
            invoice_ref = {
                "id": record["id"],
                "identifier": record.get("invoiceNumber"),
                "billingType": record.get("invoiceType"),
                "applyToType": "All",
            }
            for line in lines_of(state, record["id"]):
                total = line["total"]
                rows.append(
                    {
                        "id": line["id"],
                        "accountNumber": line.get("accountNumber", "4000"),
                        "accountType": "Revenue",
                        "debit": -total if total < 0 else ZERO,
                        "credit": total if total > 0 else ZERO,
                        "cost": money((line.get("cost") or ZERO) * (line.get("quantity") or ZERO)),
                        "name": line.get("description", ""),
                        "item": _ref(line.get("item"), "identifier"),
                        "salesCode": line.get("salesCode", ""),
                        "invoice": invoice_ref,
                    }
                )
        elif kind == "expense":
            rows.append(
                {
                    "id": record["id"],
                    "accountNumber": record.get("accountNumber", "6100"),
                    "accountType": "Expense",
                    "debit": record.get("total", ZERO),
                    "credit": ZERO,
                    "name": record.get("chargeDescription", ""),
                    "expense": {"id": record["id"]},
                }
            )
        else:
            for entry_id in entry_ids_of(state, kind, record):
                rows.append(
                    {
                        "id": entry_id,
                        "accountNumber": INVENTORY_ACCOUNT,
                        "accountType": "Inventory",
                        "debit": ZERO,
                        "credit": ZERO,
                        "name": record.get("description", ""),
                        "purchaseOrder": _ref(record.get("purchaseOrder"), "identifier"),
                    }
                )
    return rows


def register(router: Router) -> None:
    router.add("POST", "finance/accounting/export", export, ACCOUNTING, "Inquire")
    router.add("POST", "finance/accounting/batches", create_batch, ACCOUNTING)
    router.add("DELETE", "finance/accounting/batches/{id}", delete_batch, ACCOUNTING)
    router.add("POST", "finance/accounting/batches/{id}/export", reexport_batch, ACCOUNTING)
    add_list(
        router,
        "finance/accounting/batches/{parentId}/entries",
        "batchEntries",
        ACCOUNTING,
        "BatchEntry",
        batch_entries,
    )
