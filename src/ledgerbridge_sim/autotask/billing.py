"""What people do in the Autotask UI that the API cannot: invoice processing and voiding.

Approve and Post leaves BillingItems with a `postedDate` and no `invoiceID`. Invoice processing
(Contracts > Invoices > Process) groups them per company into Invoices, one run being one
`batchID`, and stamps each item's `invoiceID`. Voiding marks the invoice and, by the simulator's
reading of the documentation [U], returns its items to the un-invoiced pool.

Tests call these functions directly; people and other processes use the simulator-only routes
`POST /autotask/_admin/processInvoices` and `POST /autotask/_admin/voidInvoice` (see app.py).
Callers hold `sim.lock`.
"""

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from ledgerbridge_sim.autotask.entities import ENTITIES, blank_record
from ledgerbridge_sim.autotask.records import allocate_id, state, store
from ledgerbridge_sim.autotask.wire import AutotaskError, format_date, format_moment
from ledgerbridge_sim.state import Simulator


def process_invoices(
    sim: Simulator,
    *,
    invoice_date: date | None = None,
    company_ids: Collection[int] | None = None,
) -> list[int]:
    """Invoice every posted, un-invoiced billing item (of these companies); new invoice ids."""
    system = state(sim)
    now = sim.clock.now()
    day = invoice_date or now.date()
    pending: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item_id in sorted(system.collection("BillingItems")):
        item = system.collection("BillingItems")[item_id]
        if (
            item.get("invoiceID") is None
            and item.get("postedDate") is not None
            and (company_ids is None or item.get("companyID") in company_ids)
        ):
            pending[int(item["companyID"])].append(item)
    if not pending:
        return []
    invoices = system.collection("Invoices")
    batch = max((int(i["batchID"] or 0) for i in invoices.values()), default=1000) + 1
    number = max(
        (int(i["invoiceNumber"]) for i in invoices.values() if str(i["invoiceNumber"]).isdigit()),
        default=10000,
    )
    created = []
    for company_id in sorted(pending):
        items = pending[company_id]
        company = system.collection("Companies").get(company_id, {})
        template = system.collection("InvoiceTemplates").get(company.get("invoiceTemplateID") or -1)
        term_id = template.get("paymentTerms") if template else None
        term = system.collection("PaymentTerms").get(term_id or -1)
        region = system.collection("TaxRegions").get(company.get("taxRegionID") or -1)
        number += 1
        invoice: dict[str, Any] = blank_record(ENTITIES["Invoices"])
        invoice.update(
            id=allocate_id(system, "Invoices"),
            batchID=batch,
            companyID=company_id,
            createDateTime=format_moment(now),
            invoiceDateTime=format_moment(datetime.combine(day, time(5), tzinfo=UTC)),
            dueDate=format_date(day + timedelta(days=int(term["paymentDueInDays"]) if term else 0)),
            fromDate=min(str(item["postedDate"]) for item in items),
            toDate=format_date(day),
            invoiceEditorTemplateID=company.get("invoiceTemplateID"),
            invoiceNumber=str(number),
            invoiceTotal=sum((item["totalAmount"] or Decimal(0) for item in items), Decimal(0)),
            totalTaxValue=sum((item["taxDollars"] or Decimal(0) for item in items), Decimal(0)),
            isVoided=False,
            paymentTerm=term_id,
            taxGroup=company.get("taxRegionID"),
            taxRegionName=region.get("name") if region else None,
        )
        store(system, "Invoices", invoice)
        for item in items:
            item["invoiceID"] = invoice["id"]
        created.append(int(invoice["id"]))
    return created


def void_invoice(sim: Simulator, invoice_id: int, *, resource_id: int | None = None) -> None:
    system = state(sim)
    invoice = system.collection("Invoices").get(invoice_id)
    if invoice is None:
        raise AutotaskError(500, "No matching records found.")
    invoice.update(
        isVoided=True, voidedDate=format_moment(sim.clock.now()), voidedByResourceID=resource_id
    )
    for item in system.collection("BillingItems").values():
        if item.get("invoiceID") == invoice_id:
            item["invoiceID"] = None
