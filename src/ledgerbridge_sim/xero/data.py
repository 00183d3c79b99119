"""Filling a simulated Xero organisation: explicit seeds and a generated MSP ledger.

Seeds are written through the same rules as the API (so totals, numbers and statuses are what
Xero would hold), in dependency order, with the organisation's lock dates applied last so that
history can be seeded inside a locked period.
"""

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim import jsonio, organisations
from ledgerbridge_sim.state import Simulator
from ledgerbridge_sim.xero import defaults, documents, ledger, masterdata, money
from ledgerbridge_sim.xero.ledger import Call
from ledgerbridge_sim.xero.store import Book
from ledgerbridge_sim.xero.wire import InvalidElementError, parse_date

WRITERS: Final = {
    "Accounts": masterdata.write_account,
    "TaxRates": masterdata.write_tax_rate,
    "TrackingCategories": masterdata.write_tracking_category,
    "Contacts": masterdata.write_contact,
    "Items": masterdata.write_item,
    "Invoices": lambda call, e, *, create_only: documents.write(
        call, documents.INVOICES, e, create_only=create_only
    ),
    "CreditNotes": lambda call, e, *, create_only: documents.write(
        call, documents.CREDIT_NOTES, e, create_only=create_only
    ),
    "PurchaseOrders": lambda call, e, *, create_only: documents.write(
        call, documents.PURCHASE_ORDERS, e, create_only=create_only
    ),
    "ManualJournals": masterdata.write_manual_journal,
    "Overpayments": lambda call, e, *, create_only: _credit(call, "Overpayments", e),
    "Prepayments": lambda call, e, *, create_only: _credit(call, "Prepayments", e),
    "Payments": money.write_payment,
    "BatchPayments": money.write_batch,
}
ORGANISATION_FIELDS: Final = {"PeriodLockDate", "EndOfYearLockDate", "Name", "LegalName"}


def book_for(sim: Simulator, tenant: str | None) -> Book:
    listed = organisations.registry(sim, "xero")
    if tenant is None:
        organisation = next(iter(listed.values()))
    else:
        found = listed.get(tenant) or next(
            (o for o in listed.values() if o.id.lower() == tenant.lower()), None
        )
        if found is None:
            raise ValueError(f"no Xero tenant {tenant!r}")
        organisation = found
    book = Book(sim, organisation)
    defaults.ensure(book)
    return book


def seed(sim: Simulator, records: dict[str, Any]) -> dict[str, int]:
    """Write `{"tenant": id?, "Contacts": [...], "Invoices": [...], "Organisation": {...}}`.

    Raises ValueError with Xero's messages when a record breaks a rule.
    """
    unknown = set(records) - set(WRITERS) - {"tenant", "Organisation", "Allocations"}
    if unknown:
        raise ValueError(f"the Xero simulator cannot seed {sorted(unknown)}")
    book = book_for(sim, records.get("tenant"))
    call = Call(sim, book, adviser=True)
    created: dict[str, int] = {}
    for name, writer in WRITERS.items():
        for element in records.get(name) or []:
            try:
                writer(call, jsonio.decimals_for_floats(element), create_only=False)
            except InvalidElementError as invalid:
                raise ValueError(f"{name}: {'; '.join(invalid.messages)}") from None
            created[name] = created.get(name, 0) + 1
    for allocation in records.get("Allocations") or []:
        # {"CreditNote": {"CreditNoteID": …}, "Invoice": {…}, "Amount": …}, or an Overpayment…
        for collection, (name, id_field, _number, _listing) in money.CREDIT_SOURCES.items():
            source = allocation.get(name)
            if isinstance(source, dict):
                money.allocate(
                    call, collection, source[id_field], jsonio.decimals_for_floats(allocation)
                )
                created["Allocations"] = created.get("Allocations", 0) + 1
    if "Organisation" in records:
        org = dict(call.organisation())
        for field, value in records["Organisation"].items():
            if field not in ORGANISATION_FIELDS:
                raise ValueError(f"the simulator cannot seed Organisation.{field}")
            org[field] = parse_date(value, field) if field.endswith("LockDate") and value else value
        book.put("Organisations", org)
        created["Organisation"] = 1
    return created


def _credit(call: Call, collection: str, element: dict[str, Any]) -> dict[str, Any]:
    """Overpayments and prepayments arrive through bank transactions in Xero; seeds make them."""
    kind = str(element.get("Type") or "RECEIVE-" + collection[:-1].upper())
    contact = ledger.contact_for_document(call, element.get("Contact"))
    amount_types = documents._amount_types(element.get("LineAmountTypes"), "NoTax")
    doc_type = "ACCREC" if kind.startswith("RECEIVE") else "ACCPAY"
    lines = []
    for raw in element.get("LineItems") or []:
        line, problems = documents._line(
            call, documents.INVOICES, doc_type, amount_types, raw, {}, False
        )
        if problems:
            raise InvalidElementError(*problems)
        lines.append(line)
    sums = documents.totals(lines, amount_types)
    id_field = money.CREDIT_SOURCES[collection][1]
    record = {
        id_field: call.book.new_guid(),
        "Type": kind,
        "Contact": ledger.contact_summary(contact),
        "Date": parse_date(element["Date"]) if element.get("Date") else call.book.now().date(),
        "Status": "AUTHORISED",
        "LineAmountTypes": amount_types,
        "LineItems": [{k: v for k, v in line.items() if k != "_gross"} for line in lines],
        "SubTotal": sums["SubTotal"],
        "TotalTax": sums["TotalTax"],
        "Total": sums["Total"],
        "CurrencyCode": call.book.organisation.currency,
        "CurrencyRate": Decimal("1.000000"),
        "Reference": element.get("Reference"),
        "Allocations": [],
        "Payments": [],
        "HasAttachments": False,
    }
    money.recount_credit(record)
    return call.book.put(collection, record)


# -- a generated ledger ----------------------------------------------------------------------

_FIRST: Final = (
    "Harbour",
    "Summit",
    "Riverside",
    "Northgate",
    "Bluegum",
    "Cedar",
    "Ironbark",
    "Coastal",
    "Granite",
    "Lakeside",
    "Meridian",
    "Oakridge",
)
_SECOND: Final = (
    "Dental",
    "Legal",
    "Accounting",
    "Logistics",
    "Architects",
    "Veterinary",
    "Engineering",
    "Realty",
    "Pharmacy",
    "Motors",
    "Clinic",
    "Builders",
)
_SUFFIX: Final = ("Pty Ltd", "Group", "Partners", "& Co", "Holdings", "Services")


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, int]:
    """An MSP's ledger in the first tenant: customers, invoices for services, payments.

    About half of the approved invoices are paid in full (a tenth of them through batch
    payments), some in part; a few drafts and one credit note allocated to an invoice.
    """
    rng = random.Random(seed)
    book = book_for(sim, None)
    call = Call(sim, book, adviser=True)
    counts = {"Contacts": 0, "Invoices": 0, "Payments": 0, "BatchPayments": 0, "CreditNotes": 0}
    customers: list[dict[str, Any]] = []
    wanted = max(3, min(200, invoices // 5 or 1))
    attempts = 0
    while len(customers) < wanted and attempts < wanted * 20:
        attempts += 1
        name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_SUFFIX)}"
        if ledger.active_contact_named(call, name) is not None:
            continue
        number = f"CW-{1000 + len(customers)}"
        customers.append(
            masterdata.write_contact(
                call,
                {
                    "Name": name,
                    "ContactNumber": number,
                    "EmailAddress": f"accounts{len(customers)}@example.com",
                },
                create_only=True,
            )
        )
        counts["Contacts"] += 1
    items = [i for i in book.rows("Items") if i.get("IsSold")]
    today = book.now().date()
    approved: list[dict[str, Any]] = []
    for index in range(invoices):
        day = today - timedelta(days=rng.randint(0, 120))
        lines = [
            {
                "ItemCode": item["Code"],
                "Quantity": rng.choice((1, 2, 3, 5, 8, 12, 25, 40)),
                "Description": f"{item['Name']}, {day:%B %Y}",
            }
            for item in rng.sample(items, k=rng.randint(1, min(3, len(items))))
        ]
        status = "DRAFT" if rng.random() < 0.1 else "AUTHORISED"
        invoice = documents.write(
            call,
            documents.INVOICES,
            {
                "Type": "ACCREC",
                "Contact": {"ContactID": rng.choice(customers)["ContactID"]},
                "Date": day.isoformat(),
                "DueDate": (day + timedelta(days=30)).isoformat(),
                "Reference": f"PSA {50000 + index}",
                "Status": status,
                "LineItems": lines,
            },
            create_only=True,
        )
        counts["Invoices"] += 1
        if status == "AUTHORISED":
            approved.append(invoice)
    batch: list[dict[str, Any]] = []
    for invoice in approved:
        draw = rng.random()
        paid_on = min(today, invoice["Date"] + timedelta(days=rng.randint(3, 40)))
        if draw < 0.1:
            batch.append(
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": invoice["Total"]}
            )
        elif draw < 0.6:
            share = Decimal(1) if draw < 0.5 else Decimal("0.5")
            amount = (invoice["Total"] * share).quantize(Decimal("0.01"))
            if amount > 0:
                money.create_payment(
                    call,
                    {
                        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                        "Account": {"Code": "090"},
                        "Date": paid_on.isoformat(),
                        "Amount": amount,
                        "Reference": f"EFT {rng.randint(10000, 99999)}",
                    },
                )
                counts["Payments"] += 1
    if batch:
        money.write_batch(
            call,
            {
                "Account": {"Code": "090"},
                "Date": today.isoformat(),
                "Reference": "Remittance",
                "Payments": batch,
            },
            create_only=True,
        )
        counts["BatchPayments"] += 1
        counts["Payments"] += len(batch)
    open_invoice = next(
        (
            i
            for i in approved
            if (book.get("Invoices", i["InvoiceID"]) or {}).get("Status") == "AUTHORISED"
        ),
        None,
    )
    if open_invoice is not None:
        current = book.get("Invoices", open_invoice["InvoiceID"]) or open_invoice
        credit_amount = min(Decimal("50.00"), current["AmountDue"])
        if credit_amount > 0:
            note = documents.write(
                call,
                documents.CREDIT_NOTES,
                {
                    "Type": "ACCRECCREDIT",
                    "Contact": {"ContactID": current["Contact"]["ContactID"]},
                    "Date": today.isoformat(),
                    "Status": "AUTHORISED",
                    "LineAmountTypes": "Inclusive",
                    "LineItems": [
                        {
                            "Description": "Goodwill credit",
                            "Quantity": 1,
                            "UnitAmount": credit_amount,
                            "AccountCode": "200",
                        }
                    ],
                },
                create_only=True,
            )
            money.allocate(
                call,
                "CreditNotes",
                note["CreditNoteID"],
                {
                    "Invoice": {"InvoiceID": current["InvoiceID"]},
                    "Amount": credit_amount,
                    "Date": today.isoformat(),
                },
            )
            counts["CreditNotes"] += 1
    return counts
