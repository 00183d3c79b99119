"""The demo MSP's books: seeded into the simulators, and read back from their own records.

Seeding uses the simulators' generators (realistic ConnectWise and Autotask data: credit memos,
multi-rate tax, agreement invoices, seven-decimal quantities) plus a few records that must fail
with an instructive error: a zero-value invoice, documents dated inside a ledger lock date, and
(in `setup`) a GL account and a tax code left unmapped.

Reading back never goes through LedgerBridge's adapters: PSA totals and ledger documents come
from the simulators' state (`GET /_sim/state/…`), so the summary checks LedgerBridge against
what the vendors hold, not against itself.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.autotask.adapter import DEFAULT_LOOK_BACK as AUTOTASK_LOOK_BACK
from ledgerbridge.demo.simulators import SimulatorControl, SimulatorServer

ZERO = Decimal(0)
# Autotask's generated tenant exported everything older than about a month; this tenant is new
# to integrations, so the last few weeks' invoices still wait to be posted.
AUTOTASK_NEW_DAYS = 45
ZERO_INVOICE_NUMBER = "ZERO-0001"


@dataclass(frozen=True)
class PsaInvoice:
    """An invoice as the PSA simulator holds it. Credit memos' totals are positive here, as
    ledgers book them."""

    psa_id: str
    number: str
    kind: str  # "invoice" / "credit_note"
    total: Decimal
    issued_on: date
    balance: Decimal  # what the PSA still shows as owed (ConnectWise: after its own payments)


@dataclass(frozen=True)
class LedgerDoc:
    ledger_id: str
    kind: str
    number: str
    total: Decimal
    balance: Decimal


# -- seeding ---------------------------------------------------------------------------------


def seed_connectwise(
    server: SimulatorServer, *, invoices: int, seed: int, zero_invoice: bool
) -> None:
    control = server.control()
    try:
        control.generate("connectwise", invoices=invoices, seed=seed)
        if zero_invoice:
            _add_zero_invoice(control)
    finally:
        control.close()


def _add_zero_invoice(control: SimulatorControl) -> None:
    """A closed invoice for nothing (a fully discounted visit): it must not reach the ledger."""
    template = min(control.state("connectwise", "invoices"), key=lambda row: int(row["id"]))
    invoice = {
        key: value
        for key, value in template.items()
        if key not in ("id", "_info", "glBatch", "payments", "credits", "balance")
    }
    money = ("subtotal", "salesTax", "total", "serviceTotal", "productTotal", "expenseTotal")
    invoice |= {name: ZERO for name in money} | {
        "invoiceNumber": ZERO_INVOICE_NUMBER,
        "type": "Standard",
        "agreementAmount": ZERO,
    }
    control.seed({"connectwise": {"invoices": [invoice]}})


def seed_autotask(server: SimulatorServer, *, invoices: int, seed: int) -> None:
    control = server.control()
    try:
        control.generate("autotask", invoices=invoices, seed=seed)
    finally:
        control.close()
    # No control call un-exports invoices: this is the tenant's own history, set in place.
    sim = server.sim
    since = (sim.clock.now() - timedelta(days=AUTOTASK_NEW_DAYS)).strftime("%Y-%m-%d")
    with sim.lock:
        for row in sim.system("autotask").collection("Invoices").values():
            if not row.get("isVoided") and str(row.get("invoiceDateTime", "")) >= since:
                row["webServiceDate"] = None
                row["paidDate"] = None


def lock_date_before(invoices: list[PsaInvoice], how_many: int) -> date | None:
    """A lock date that catches the `how_many` oldest invoices (a handful that must fail)."""
    days = sorted({invoice.issued_on for invoice in invoices})
    if len(days) <= how_many:
        return None
    return days[how_many - 1]


def lock_xero(control: SimulatorControl, tenant_id: str, day: date) -> None:
    control.seed({"xero": {"tenant": tenant_id, "Organisation": {"PeriodLockDate": str(day)}}})


def close_qbo_books(control: SimulatorControl, realm_id: str, day: date) -> None:
    control.seed(
        {
            "qbo": {
                "realm": realm_id,
                "Preferences": {"AccountingInfoPrefs": {"BookCloseDate": str(day)}},
            }
        }
    )


# -- reading the PSA -------------------------------------------------------------------------


def postable_invoices(control: SimulatorControl, psa: str, today: date) -> list[PsaInvoice]:
    """What the PSA holds as ready to post and not yet posted, from its own records.

    Autotask has no "ready to post" list: LedgerBridge takes invoices without a web service
    date from its look-back window, so older ones count only if someone posts them by hand.
    """
    if psa == "connectwise":
        waiting = {int(row["id"]) for row in control.state("connectwise", "unpostedInvoices")}
        return [
            invoice
            for row in control.state("connectwise", "invoices")
            if int(row["id"]) in waiting and (invoice := _connectwise(row)).issued_on <= today
        ]
    since = today - AUTOTASK_LOOK_BACK
    return [
        _autotask(row)
        for row in control.state("autotask", "Invoices")
        if not row.get("webServiceDate")
        and not row.get("isVoided")
        and since < _day(row["invoiceDateTime"]) <= today
    ]


def rarest_tax_code(control: SimulatorControl, waiting: list[PsaInvoice]) -> str:
    """The ConnectWise tax code on the fewest waiting invoices (exempt aside): leaving it
    unmapped fails a handful of invoices, not half of them."""
    ids = {invoice.psa_id for invoice in waiting}
    used: dict[str, int] = {}
    for row in control.state("connectwise", "invoices"):
        code = str((row.get("taxCode") or {}).get("identifier", ""))
        if str(row["id"]) in ids and code and code.casefold() != "exempt":
            used[code] = used.get(code, 0) + 1
    return min(used, key=lambda code: (used[code], code)) if used else ""


def psa_invoices(control: SimulatorControl, psa: str) -> dict[str, PsaInvoice]:
    if psa == "connectwise":
        rows = control.state("connectwise", "invoices")
        return {str(row["id"]): _connectwise(row) for row in rows}
    return {str(row["id"]): _autotask(row) for row in control.state("autotask", "Invoices")}


def _day(text: str) -> date:
    return date.fromisoformat(str(text)[:10])


def _connectwise(row: dict[str, Any]) -> PsaInvoice:
    total = Decimal(row["total"])
    credit = row.get("type") == "CreditMemo"
    return PsaInvoice(
        psa_id=str(row["id"]),
        number=str(row["invoiceNumber"]),
        kind="credit_note" if credit else "invoice",
        total=abs(total),
        issued_on=_day(row["date"]),
        balance=abs(Decimal(row.get("balance", total))),
    )


def _autotask(row: dict[str, Any]) -> PsaInvoice:
    total = Decimal(row["invoiceTotal"])
    return PsaInvoice(
        psa_id=str(row["id"]),
        number=str(row["invoiceNumber"]),
        kind="credit_note" if total < 0 else "invoice",
        total=abs(total),
        issued_on=_day(row["invoiceDateTime"]),
        balance=ZERO if row.get("paidDate") else abs(total),
    )


def connectwise_payments(control: SimulatorControl) -> dict[str, Decimal]:
    """Per ConnectWise invoice id: everything paid on it, as the PSA records payments."""
    paid: dict[str, Decimal] = {}
    for row in control.state("connectwise", "payments"):
        invoice_id = str((row.get("invoice") or {}).get("id", ""))
        paid[invoice_id] = paid.get(invoice_id, ZERO) + Decimal(row["amount"])
    return paid


def autotask_paid_dates(control: SimulatorControl) -> dict[str, str]:
    return {
        str(row["id"]): str(row["paidDate"])
        for row in control.state("autotask", "Invoices")
        if row.get("paidDate")
    }


def psa_marked_posted(control: SimulatorControl, psa: str) -> set[str]:
    """Invoices the PSA holds as exported to accounting (ConnectWise batch, Autotask date)."""
    if psa == "connectwise":
        return {
            str(row["id"]) for row in control.state("connectwise", "invoices") if row.get("glBatch")
        }
    return {
        str(row["id"]) for row in control.state("autotask", "Invoices") if row.get("webServiceDate")
    }


# -- reading the ledgers ---------------------------------------------------------------------


def ledger_documents(
    control: SimulatorControl, system: str, organisation_id: str
) -> list[LedgerDoc]:
    if system == "xero":
        return _xero_documents(control, organisation_id)
    return _qbo_documents(control, organisation_id)


def _xero_documents(control: SimulatorControl, tenant_id: str) -> list[LedgerDoc]:
    found = []
    for collection, kind, id_field, number_field in (
        ("Invoices", "invoice", "InvoiceID", "InvoiceNumber"),
        ("CreditNotes", "credit_note", "CreditNoteID", "CreditNoteNumber"),
    ):
        for row in control.state("xero", collection):
            if row.get("_TenantID") != tenant_id or row.get("Status") in ("DELETED", "VOIDED"):
                continue
            if row.get("Type") not in (None, "ACCREC", "ACCRECCREDIT"):
                continue
            found.append(
                LedgerDoc(
                    ledger_id=str(row[id_field]),
                    kind=kind,
                    number=str(row.get(number_field, "")),
                    total=Decimal(row["Total"]),
                    balance=Decimal(row.get("AmountDue", row.get("RemainingCredit", 0))),
                )
            )
    return found


def _qbo_documents(control: SimulatorControl, realm_id: str) -> list[LedgerDoc]:
    found = []
    for entity, kind in (("Invoice", "invoice"), ("CreditMemo", "credit_note")):
        for row in control.state("qbo", entity):
            if str(row.get("realmId")) != realm_id:
                continue
            found.append(
                LedgerDoc(
                    ledger_id=str(row["Id"]),
                    kind=kind,
                    number=str(row.get("DocNumber", "")),
                    total=Decimal(row["TotalAmt"]),
                    balance=Decimal(row.get("Balance", row.get("RemainingCredit", 0))),
                )
            )
    return found
