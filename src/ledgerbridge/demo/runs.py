"""Sync All with a progress bar, payments made in the ledgers, the payment sync, the summary.

Runs are requested with `sync.actions.request_run` and executed by the background worker, as a
"Sync all" button would; the progress bar reads each run's `SyncRun.progress`. Payments are
entered in the ledger simulators through their APIs, as a bookkeeper's bank feed would, with a
token of the bookkeeper's own, never LedgerBridge's.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TextIO

import httpx
from django.conf import settings
from django.core.management.base import OutputWrapper

from ledgerbridge.accounts.models import User
from ledgerbridge.connectors.oauth import QBO_MINOR_VERSION
from ledgerbridge.core import clock
from ledgerbridge.demo import books
from ledgerbridge.demo.setup import DemoCompany
from ledgerbridge.demo.simulators import SimulatorControl, SimulatorServer
from ledgerbridge.sync.actions import request_run
from ledgerbridge.sync.models import RecordType, SyncedPayment, SyncRecord, SyncRun
from ledgerbridge_sim import jsonio
from ledgerbridge_sim import oauth as sim_oauth

CENT = Decimal("0.01")
BAR_WIDTH = 30
RUN_TIMEOUT_SECONDS = 600
PAYMENTS_PER_COMPANY = 9


class DemoRunError(Exception):
    """A sync run did not finish (worker gone, timeout); the message says which."""


# -- runs and the progress bar ---------------------------------------------------------------


def sync_all(
    companies: Sequence[DemoCompany],
    user: User,
    *,
    record_types: Sequence[str],
    trigger: str,
    out: TextIO,
    label: str,
    still_running: Callable[[], bool],
) -> list[SyncRun]:
    """Request one run per company and wait for all of them, drawing progress on `out`."""
    runs = [
        request_run(d.company, trigger=trigger, record_types=record_types, user=user)
        for d in companies
    ]
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    drawn = ""
    while True:
        fresh = [SyncRun.objects.get(pk=run.pk) for run in runs]
        line = _progress_line(label, fresh)
        if line != drawn:
            _draw(out, line)
            drawn = line
        if all(run.finished for run in fresh):
            out.write("\n")
            out.flush()
            return fresh
        if not still_running():
            raise DemoRunError("The background worker stopped while syncing; see above.")
        if time.monotonic() > deadline:
            raise DemoRunError(f"The sync runs did not finish within {RUN_TIMEOUT_SECONDS} s.")
        time.sleep(0.2)


def _progress_line(label: str, runs: Sequence[SyncRun]) -> str:
    done = total = 0
    for run in runs:
        for record_type in run.record_types:
            step = (run.progress or {}).get(record_type) or {}
            done += int(step.get("done", 0))
            total += int(step.get("total", 0))
    finished = sum(1 for run in runs if run.finished)
    share = done / total if total else (1.0 if finished == len(runs) else 0.0)
    filled = int(share * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return f"{label:<16} [{bar}] {done}/{total} records, {finished}/{len(runs)} companies finished"


def _draw(out: TextIO, line: str) -> None:
    # A terminal redraws the bar in place; a log or a pipe gets one line per change.
    if out.isatty():
        out.write("\r" + line)
    else:
        out.write(line + "\n")
    out.flush()


# -- payments in the ledgers -----------------------------------------------------------------


@dataclass(frozen=True)
class LedgerPaymentMade:
    psa_id: str
    number: str
    ledger_document_id: str
    amount: Decimal
    full: bool


def pay_some_invoices(
    demo: DemoCompany, main: SimulatorServer, psa_control: SimulatorControl
) -> list[LedgerPaymentMade]:
    """Pay a few posted invoices in the ledger: most in full, some in part."""
    unpaid_in_psa = {
        psa_id: invoice
        for psa_id, invoice in books.psa_invoices(psa_control, demo.plan.psa).items()
        if invoice.balance == invoice.total and invoice.total > 0
    }
    posted = SyncRecord.objects.filter(
        company=demo.company,
        record_type=RecordType.INVOICE,
        state=SyncRecord.State.ACKNOWLEDGED,
        kind="invoice",
        psa_id__in=list(unpaid_in_psa),
    ).order_by("number")
    chosen = list(posted)[::3][:PAYMENTS_PER_COMPANY]
    plans = []
    for index, record in enumerate(chosen):
        total = unpaid_in_psa[record.psa_id].total
        full = index % 3 != 2  # every third one is paid in part
        amount = total if full else (total / 2).quantize(CENT, rounding=ROUND_HALF_UP)
        plans.append(
            LedgerPaymentMade(record.psa_id, record.number, record.ledger_id, amount, full)
        )
    if not plans:
        return []
    connection = demo.company.ledger_connection()
    assert connection is not None
    token = str(
        sim_oauth.issue_tokens(main.sim, connection.system, (connection.organisation_id,))[
            "access_token"
        ]
    )
    with httpx.Client(
        timeout=60.0,
        headers={"Authorization": f"Bearer {token}"},
        transport=_PatientTransport(httpx.HTTPTransport()),
    ) as http:
        if connection.system == "xero":
            _pay_in_xero(http, connection.organisation_id, plans)
        else:
            _pay_in_qbo(http, connection.organisation_id, plans)
    return plans


def _pay_in_xero(http: httpx.Client, tenant_id: str, plans: list[LedgerPaymentMade]) -> None:
    api = settings.XERO_API_URL.rstrip("/")
    headers = {"xero-tenant-id": tenant_id, "Accept": "application/json"}
    banks = http.get(f"{api}/Accounts", params={"where": 'Type=="BANK"'}, headers=headers)
    banks.raise_for_status()
    bank_code = banks.json()["Accounts"][0]["Code"]
    payments = [
        {
            "Invoice": {"InvoiceID": plan.ledger_document_id},
            "Account": {"Code": bank_code},
            "Date": clock.now().date().isoformat(),
            "Amount": plan.amount,
            "Reference": f"Bank feed {plan.number}",
        }
        for plan in plans
    ]
    answer = http.put(
        f"{api}/Payments",
        content=jsonio.dumps({"Payments": payments}),
        headers={**headers, "Content-Type": "application/json"},
    )
    answer.raise_for_status()


class _PatientTransport(httpx.BaseTransport):
    """The bookkeeper's own calls meet the same per-second limits LedgerBridge does: wait out
    a 429 (as a person clicking again would) instead of giving up."""

    def __init__(self, inner: httpx.BaseTransport, attempts: int = 20) -> None:
        self._inner, self._attempts = inner, attempts

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(self._attempts - 1):
            response = self._inner.handle_request(request)
            if response.status_code != 429:
                return response
            response.read()
            response.close()
            wait = response.headers.get("Retry-After", "1")
            time.sleep(min(float(wait) if wait.replace(".", "", 1).isdigit() else 1.0, 5.0))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _pay_in_qbo(http: httpx.Client, realm_id: str, plans: list[LedgerPaymentMade]) -> None:
    api = f"{settings.QBO_API_URL.rstrip('/')}/company/{realm_id}"
    params = {"minorversion": QBO_MINOR_VERSION}
    headers = {"Accept": "application/json"}
    for plan in plans:
        invoice = http.get(
            f"{api}/invoice/{plan.ledger_document_id}", params=params, headers=headers
        )
        invoice.raise_for_status()
        customer = invoice.json()["Invoice"]["CustomerRef"]
        payment = {
            "CustomerRef": {"value": customer["value"]},
            "TotalAmt": plan.amount,
            "TxnDate": clock.now().date().isoformat(),
            "PaymentRefNum": plan.number[:21],
            "Line": [
                {
                    "Amount": plan.amount,
                    "LinkedTxn": [{"TxnId": plan.ledger_document_id, "TxnType": "Invoice"}],
                }
            ],
        }
        answer = http.post(
            f"{api}/payment",
            params=params,
            content=jsonio.dumps(payment),
            headers={**headers, "Content-Type": "application/json"},
        )
        answer.raise_for_status()


# -- the summary -----------------------------------------------------------------------------


@dataclass
class CompanySummary:
    name: str
    psa: str
    ledger: str
    organisation: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    left_unmapped: list[str] = field(default_factory=list)
    lock_date: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "company": self.name,
            "psa": self.psa,
            "ledger": self.ledger,
            "organisation": self.organisation,
            "deliberate_gaps": {"unmapped": self.left_unmapped, "lock_date": self.lock_date},
            "runs": self.runs,
            "counts": self.counts,
            "failures": self.failures,
            "invoices": self.invoices,
            "payments": self.payments,
            "problems": self.problems,
        }


def summarise(
    demo: DemoCompany,
    *,
    postable_before: list[books.PsaInvoice],
    runs: Sequence[SyncRun],
    payments_made: list[LedgerPaymentMade],
    psa_paid_before: dict[str, Decimal],
    psa_control: SimulatorControl,
    ledger_control: SimulatorControl,
) -> CompanySummary:
    """What happened to every PSA invoice and payment, checked against both simulators."""
    connection = demo.company.ledger_connection()
    assert connection is not None
    summary = CompanySummary(
        name=demo.company.name,
        psa=demo.plan.psa,
        ledger=demo.plan.ledger,
        organisation=connection.organisation_name,
        left_unmapped=list(demo.left_unmapped),
        lock_date=demo.lock_date.isoformat() if demo.lock_date else None,
    )
    summary.runs = [
        {
            "id": run.pk,
            "trigger": run.trigger,
            "record_types": run.record_types,
            "status": run.status,
            "counts": run.counts,
            "error": run.error,
            "seconds": run.duration_seconds(),
        }
        for run in runs
    ]
    psa = books.psa_invoices(psa_control, demo.plan.psa)
    marked = books.psa_marked_posted(psa_control, demo.plan.psa)
    documents = books.ledger_documents(
        ledger_control, connection.system, connection.organisation_id
    )
    # QuickBooks numbers invoices and credit memos separately: an id names a document per kind.
    by_id = {(d.kind, d.ledger_id): d for d in documents}
    by_number: dict[tuple[str, str], list[books.LedgerDoc]] = {}
    for document in documents:
        by_number.setdefault((document.kind, document.number), []).append(document)
    records = {
        r.psa_id: r
        for r in SyncRecord.objects.filter(company=demo.company, record_type=RecordType.INVOICE)
    }
    wanted = sorted({i.psa_id for i in postable_before} | set(records), key=_numeric_first)
    for psa_id in wanted:
        invoice = psa.get(psa_id)
        record = records.get(psa_id)
        entry, problem = _verdict(invoice, record, by_id, by_number, marked)
        summary.invoices.append(entry)
        if problem:
            summary.problems.append(problem)
        state = entry["state"]
        summary.counts[state] = summary.counts.get(state, 0) + 1
        if state == SyncRecord.State.FAILED:
            summary.failures.append(
                {
                    "number": entry["number"],
                    "error_class": entry["error_class"],
                    "message": entry["error_message"],
                    "hint": entry["error_hint"],
                }
            )
    twice = sorted(
        f"{kind} {number}" for (kind, number), docs in by_number.items() if len(docs) > 1
    )
    if twice:
        summary.problems.append(f"more than one ledger document for {', '.join(twice[:5])}")
    _check_payments(summary, demo, payments_made, psa_paid_before, psa_control)
    return summary


def _numeric_first(psa_id: str) -> tuple[int, str]:
    return (int(psa_id), "") if psa_id.isdigit() else (0, psa_id)


def _verdict(
    invoice: books.PsaInvoice | None,
    record: SyncRecord | None,
    by_id: dict[tuple[str, str], books.LedgerDoc],
    by_number: dict[tuple[str, str], list[books.LedgerDoc]],
    marked: set[str],
) -> tuple[dict[str, Any], str]:
    """One invoice's line in the summary, and what a finance admin would flag (or "")."""
    number = invoice.number if invoice else (record.number if record else "?")
    entry: dict[str, Any] = {
        "psa_id": invoice.psa_id if invoice else (record.psa_id if record else ""),
        "number": number,
        "kind": invoice.kind if invoice else (record.kind if record else ""),
        "psa_total": str(invoice.total) if invoice else None,
        "state": record.state if record else "missing",
        "ledger_id": record.ledger_id if record else "",
        "ledger_number": record.ledger_number if record else "",
        "ledger_total": None,
        "ledger_documents": 0,
        "error_class": record.error_class if record else "",
        "error_message": record.error_message if record else "",
        "error_hint": record.error_hint if record else "",
        "marked_posted_in_psa": bool(invoice and invoice.psa_id in marked),
    }
    if invoice is None or record is None:
        return entry, f"{number}: not found on both sides (PSA {invoice}, record {record})"
    same_number = by_number.get((invoice.kind, record.ledger_number or invoice.number), [])
    entry["ledger_documents"] = len(same_number)
    document = by_id.get((invoice.kind, record.ledger_id)) if record.ledger_id else None
    if document is not None:
        entry["ledger_total"] = str(document.total)
    state = record.state
    if state == SyncRecord.State.ACKNOWLEDGED:
        if document is None or len(same_number) != 1:
            return entry, f"{number}: posted, but the ledger holds {len(same_number)} documents"
        if document.total != invoice.total:
            return entry, f"{number}: ledger total {document.total} != PSA total {invoice.total}"
        if not entry["marked_posted_in_psa"]:
            return entry, f"{number}: posted but not marked as posted in the PSA"
        return entry, ""
    if state == SyncRecord.State.FAILED:
        if not (record.error_class and record.error_message and record.error_hint):
            return entry, f"{number}: failed without a reason and a hint"
        if same_number and not (len(same_number) == 1 and document is same_number[0]):
            return entry, f"{number}: failed, yet in the ledger"
        if entry["marked_posted_in_psa"]:
            return entry, f"{number}: failed, yet marked as posted in the PSA"
        return entry, ""
    if state in (SyncRecord.State.EXCLUDED, SyncRecord.State.SKIPPED_ONBOARDING):
        return entry, ""
    return entry, f"{number}: left {state}"


def _check_payments(
    summary: CompanySummary,
    demo: DemoCompany,
    payments_made: list[LedgerPaymentMade],
    psa_paid_before: dict[str, Decimal],
    psa_control: SimulatorControl,
) -> None:
    applied = {
        p.record.psa_id: p
        for p in SyncedPayment.objects.filter(company=demo.company).select_related("record")
    }
    if demo.plan.psa == "connectwise":
        paid_now = books.connectwise_payments(psa_control)
    else:
        paid_dates = books.autotask_paid_dates(psa_control)
    for made in payments_made:
        record = SyncRecord.objects.get(
            company=demo.company, record_type=RecordType.INVOICE, psa_id=made.psa_id
        )
        notes = [w for w in record.warnings if w.startswith("Payment of")]
        if demo.plan.psa == "connectwise":
            in_psa = paid_now.get(made.psa_id, books.ZERO) - psa_paid_before.get(
                made.psa_id, books.ZERO
            )
            shows = in_psa == made.amount
            psa_shows = f"{in_psa} paid"
        else:
            shows = made.psa_id in paid_dates
            psa_shows = f"paid on {paid_dates[made.psa_id]}" if shows else "not paid"
        entry = {
            "number": made.number,
            "ledger_document_id": made.ledger_document_id,
            "amount": str(made.amount),
            "full": made.full,
            "applied": made.psa_id in applied,
            "psa_shows": psa_shows,
            "note": notes[-1] if notes else "",
        }
        summary.payments.append(entry)
        if entry["applied"] and not shows:
            summary.problems.append(
                f"payment on {made.number}: applied, but the PSA shows {psa_shows}"
            )
        if not entry["applied"] and not entry["note"]:
            summary.problems.append(f"payment on {made.number}: not applied and no reason given")
        if not entry["applied"] and shows and demo.plan.psa == "connectwise":
            summary.problems.append(f"payment on {made.number}: in the PSA but not recorded")


def totals_line(summary: CompanySummary) -> str:
    posted = summary.counts.get(SyncRecord.State.ACKNOWLEDGED, 0)
    failed = summary.counts.get(SyncRecord.State.FAILED, 0)
    applied = sum(1 for p in summary.payments if p["applied"])
    return (
        f"{summary.name} ({summary.psa} → {summary.ledger}: {summary.organisation}): "
        f"{posted} posted, {failed} failed, {applied}/{len(summary.payments)} payments applied"
    )


def write_text(
    out: TextIO | OutputWrapper,
    summaries: Sequence[CompanySummary],
    api_calls: dict[str, int],
    seconds: float,
) -> None:
    out.write("\nSummary\n=======\n")
    for summary in summaries:
        out.write(f"\n{totals_line(summary)}\n")
        if summary.left_unmapped or summary.lock_date:
            gaps = (
                [f"left unmapped: {', '.join(summary.left_unmapped)}"]
                if summary.left_unmapped
                else []
            )
            if summary.lock_date:
                gaps.append(f"ledger locked up to {summary.lock_date}")
            out.write(f"  deliberate gaps: {'; '.join(gaps)}\n")
        for failure in summary.failures:
            out.write(
                f"  ✗ {failure['number']} [{failure['error_class']}] {failure['message']}\n"
                f"      → {failure['hint']}\n"
            )
        for payment in summary.payments:
            what = "in full" if payment["full"] else "in part"
            paid = f"  $ {payment['number']}: {payment['amount']} paid {what} in the ledger"
            if payment["applied"]:
                out.write(f"{paid} → PSA shows {payment['psa_shows']}\n")
            else:
                out.write(f"{paid}, not applied: {payment['note']}\n")
        for problem in summary.problems:
            out.write(f"  !! {problem}\n")
    calls = ", ".join(f"{system} {count}" for system, count in sorted(api_calls.items()))
    out.write(f"\nAPI calls the simulators served: {calls}\n")
    out.write(f"Done in {seconds:.0f} s.\n")


def today() -> date:
    return clock.now().date()
