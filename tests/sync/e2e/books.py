"""What a finance admin checks after a sync, read straight from the simulators' state.

Nothing here goes through LedgerBridge's adapters: the ledger's documents, the PSA's totals
and its "posted" marks are read from the simulators' records, so a mistake in an adapter
cannot hide itself.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.base import InvoiceKind, InvoiceRef, PsaSource
from ledgerbridge.core import clock
from ledgerbridge.sync.models import SyncRecord
from ledgerbridge_sim.state import Simulator

ADJUSTMENT = "Rounding adjustment"
FINAL_STATES = {SyncRecord.State.ACKNOWLEDGED, SyncRecord.State.FAILED}


@dataclass(frozen=True)
class LedgerDoc:
    ledger_id: str
    kind: InvoiceKind
    number: str
    total: Decimal
    tax: Decimal
    lines: tuple[tuple[str, Decimal], ...]  # (description, amount) per line
    customer_id: str
    balance: Decimal


def ledger_documents(sim: Simulator, ledger: str, organisation: str) -> list[LedgerDoc]:
    if ledger == "qbo":
        return _qbo_documents(sim, organisation)
    return _xero_documents(sim, organisation)


def _xero_documents(sim: Simulator, tenant_id: str) -> list[LedgerDoc]:
    found = []
    for collection, kind, id_field, number_field in (
        ("Invoices", InvoiceKind.INVOICE, "InvoiceID", "InvoiceNumber"),
        ("CreditNotes", InvoiceKind.CREDIT_NOTE, "CreditNoteID", "CreditNoteNumber"),
    ):
        for row in sim.system("xero").collection(collection).values():
            if row.get("_TenantID") != tenant_id or row.get("Status") in ("DELETED", "VOIDED"):
                continue
            if collection == "Invoices" and row.get("Type") != "ACCREC":
                continue
            lines = tuple(
                (str(line.get("Description", "")), Decimal(line.get("LineAmount", 0)))
                for line in row.get("LineItems", [])
            )
            found.append(
                LedgerDoc(
                    ledger_id=str(row[id_field]),
                    kind=kind,
                    number=str(row.get(number_field, "")),
                    total=Decimal(row["Total"]),
                    tax=Decimal(row.get("TotalTax", 0)),
                    lines=lines,
                    customer_id=str((row.get("Contact") or {}).get("ContactID", "")),
                    balance=Decimal(row.get("AmountDue", row.get("RemainingCredit", 0))),
                )
            )
    return found


def _qbo_documents(sim: Simulator, realm_id: str) -> list[LedgerDoc]:
    found = []
    for entity, kind in (("Invoice", InvoiceKind.INVOICE), ("CreditMemo", InvoiceKind.CREDIT_NOTE)):
        for row in sim.system("qbo").collection(entity).values():
            if str(row.get("realmId")) != realm_id:
                continue
            lines = tuple(
                (str(line.get("Description", "")), Decimal(line["Amount"]))
                for line in row.get("Line", [])
                if line.get("DetailType") == "SalesItemLineDetail"
            )
            found.append(
                LedgerDoc(
                    ledger_id=str(row["Id"]),
                    kind=kind,
                    number=str(row.get("DocNumber", "")),
                    total=Decimal(row["TotalAmt"]),
                    tax=Decimal((row.get("TxnTaxDetail") or {}).get("TotalTax", 0)),
                    lines=lines,
                    customer_id=str((row.get("CustomerRef") or {}).get("value", "")),
                    balance=Decimal(row.get("Balance", row.get("RemainingCredit", 0))),
                )
            )
    return found


# -- the PSA side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PsaInvoice:
    psa_id: str
    number: str
    kind: InvoiceKind
    total: Decimal  # positive for credit notes too, as ledgers book them
    tax: Decimal
    quantities: tuple[Decimal, ...]


def psa_invoice(sim: Simulator, psa: str, psa_id: str) -> PsaInvoice:
    if psa == "connectwise":
        state = sim.system("connectwise")
        row = state.collection("invoices")[int(psa_id)]
        credit = row.get("type") == "CreditMemo"
        lines = state.extra.get("lines_by_invoice", {}).get(int(psa_id), [])
        return PsaInvoice(
            psa_id=psa_id,
            number=str(row["invoiceNumber"]),
            kind=InvoiceKind.CREDIT_NOTE if credit else InvoiceKind.INVOICE,
            total=abs(Decimal(row["total"])),
            tax=abs(Decimal(row["salesTax"])),
            quantities=tuple(Decimal(line["quantity"]) for line in lines),
        )
    state = sim.system("autotask")
    row = state.collection("Invoices")[int(psa_id)]
    total = Decimal(row["invoiceTotal"])
    items = [
        item
        for item in state.collection("BillingItems").values()
        if item.get("invoiceID") == int(psa_id)
    ]
    return PsaInvoice(
        psa_id=psa_id,
        number=str(row["invoiceNumber"]),
        kind=InvoiceKind.CREDIT_NOTE if total < 0 else InvoiceKind.INVOICE,
        total=abs(total),
        tax=abs(Decimal(row["totalTaxValue"])),
        quantities=tuple(Decimal(item["quantity"]) for item in items),
    )


def psa_marks(sim: Simulator, psa: str) -> dict[str, Any]:
    """Each invoice the PSA holds as posted by an integration → the mark (CW batch, AT date)."""
    if psa == "connectwise":
        return {
            str(row["id"]): row["glBatch"]["name"]
            for row in sim.system("connectwise").collection("invoices").values()
            if row.get("glBatch")
        }
    return {
        str(row["id"]): row["webServiceDate"]
        for row in sim.system("autotask").collection("Invoices").values()
        if row.get("webServiceDate")
    }


def connectwise_batches_per_invoice(sim: Simulator) -> Counter[str]:
    """How many accounting batches hold each invoice (more than one would be a double post)."""
    held: Counter[str] = Counter()
    for contents in sim.system("connectwise").extra.get("batch_contents", {}).values():
        for kind, record in contents["records"]:
            if kind == "invoice":
                held[str(record["id"])] += 1
    return held


def postable_ids(source: PsaSource) -> set[str]:
    return {ref.psa_id for ref in source.list_postable_invoices(thru=clock.now())}


def ref_for(source: PsaSource, psa_id: str) -> InvoiceRef:
    return next(r for r in source.list_postable_invoices(thru=clock.now()) if r.psa_id == psa_id)


def unexport_recent_autotask_invoices(sim: Simulator, *, days: int = 80) -> int:
    """A tenant new to integrations: recent invoices carry no web service (or paid) date yet."""
    since = (clock.now() - timedelta(days=days)).strftime("%Y-%m-%d")
    cleared = 0
    for row in sim.system("autotask").collection("Invoices").values():
        if not row.get("isVoided") and str(row.get("invoiceDateTime", "")) >= since:
            row["webServiceDate"] = None
            row["paidDate"] = None
            cleared += 1
    return cleared


# -- the verdict -----------------------------------------------------------------------------


def check_books(
    sim: Simulator,
    *,
    psa: str,
    ledger: str,
    organisation: str,
    company_id: int,
    postable: set[str],
    marks_before: dict[str, Any],
) -> list[str]:
    """Everything a finance admin would flag; an empty list means the books agree."""
    problems: list[str] = []
    documents = ledger_documents(sim, ledger, organisation)
    by_number: dict[tuple[InvoiceKind, str], list[LedgerDoc]] = {}
    for document in documents:
        by_number.setdefault((document.kind, document.number), []).append(document)
    records = {
        r.psa_id: r for r in SyncRecord.objects.filter(company_id=company_id, psa_id__in=postable)
    }
    posted: set[str] = set()
    for psa_id in sorted(postable):
        expected = psa_invoice(sim, psa, psa_id)
        record = records.get(psa_id)
        if record is None:
            problems.append(f"{expected.number}: no sync record (lost)")
            continue
        found = by_number.get((expected.kind, expected.number), [])
        if record.state == SyncRecord.State.FAILED:
            if not (record.error_class and record.error_message and record.error_hint):
                problems.append(f"{expected.number}: failed without a reason and a hint")
            if found and not (len(found) == 1 and found[0].ledger_id == record.ledger_id):
                # Only a record held back for a total that differs may name a ledger document.
                problems.append(f"{expected.number}: failed, yet in the ledger")
            continue
        if record.state != SyncRecord.State.ACKNOWLEDGED:
            problems.append(f"{expected.number}: left {record.state}")
            continue
        posted.add(psa_id)
        if len(found) != 1:
            problems.append(f"{expected.number}: {len(found)} ledger documents")
            continue
        if found[0].total != expected.total:
            problems.append(
                f"{expected.number}: ledger total {found[0].total} != PSA {expected.total}"
            )
        if found[0].ledger_id != record.ledger_id:
            problems.append(f"{expected.number}: record names another ledger document")
    duplicates = [key for key, docs in by_number.items() if len(docs) > 1]
    if duplicates:
        problems.append(f"duplicate ledger documents: {sorted(duplicates)[:5]}")
    marks = psa_marks(sim, psa)
    newly_marked = {psa_id for psa_id in marks if psa_id not in marks_before}
    if newly_marked != posted:
        problems.append(
            f"PSA marks differ from posted records: marked only {sorted(newly_marked - posted)[:5]}"
            f", posted only {sorted(posted - newly_marked)[:5]}"
        )
    if psa == "connectwise":
        twice = [i for i, n in connectwise_batches_per_invoice(sim).items() if n > 1]
        if twice:
            problems.append(f"invoices in more than one ConnectWise batch: {twice[:5]}")
    return problems
