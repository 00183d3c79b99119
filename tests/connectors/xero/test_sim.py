"""XeroLedger against the in-process Xero simulator: the issue's acceptance tests for Xero.

No ports, no real sleeping: the client's `sleep` moves LedgerBridge's clock and the simulator's
together (`Clocks`).
"""

import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from ledgerbridge.connectors.base import (
    ConnectorError,
    Customer,
    ErrorKind,
    InvoiceKind,
    NameClashRule,
    PostableDocument,
    PostableLine,
    PostResult,
)
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge.connectors.xero.client import XeroClient, configure_rate_budget
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.oauth import issue_tokens
from ledgerbridge_sim.organisations import DEFAULTS
from ledgerbridge_sim.state import Fault, Simulator
from ledgerbridge_sim.xero import app as xero_sim

from .conftest import SIM_API_URL, SIM_NOW, ClientFactory, Clocks, StaticTokens

ACME = Customer(psa_id="250", name="Acme Dental", identifier="AcmeDental")


def invoice(number: str, contact_id: str, **changes: str) -> PostableDocument:
    """A one-line AU invoice: 100.00 + 10 % GST."""
    line = PostableLine(
        description=f"Managed services for {number}",
        quantity=Decimal(2),
        unit_price=Decimal("50.00"),
        line_amount=Decimal("100.00"),
        account_code=changes.get("account_code", "200"),
        tax_code=changes.get("tax_code", "OUTPUT"),
        tax_amount=Decimal("10.00"),
    )
    return PostableDocument(
        key=f"co1:invoice:{number}:v1",
        kind=InvoiceKind.INVOICE,
        psa_id=number,
        number=number,
        customer_ledger_id=contact_id,
        issued_on=date(2026, 10, 30),
        due_on=date(2026, 11, 29),
        currency="AUD",
        lines=(line,),
        total=Decimal("110.00"),
    )


def invoices_in_sim(sim: Simulator, tenant_id: str) -> Counter[str]:
    return Counter(
        record["InvoiceNumber"]
        for record in sim.system("xero").collection("Invoices").values()
        if record.get("_TenantID", tenant_id) == tenant_id and record.get("Type") == "ACCREC"
    )


def push(ledger: XeroLedger, documents: Sequence[PostableDocument]) -> list[PostResult]:
    """What the engine does: batches of 50, and uncertain ones sent again after the lookup."""
    final: dict[str, PostResult] = {}
    pending = list(documents)
    for _ in range(10):
        retry: list[PostableDocument] = []
        for start in range(0, len(pending), ledger.batch_size):
            batch = pending[start : start + ledger.batch_size]
            for document, result in zip(batch, ledger.post_documents(batch), strict=True):
                if result.error is not None and result.error.kind == ErrorKind.UNCERTAIN:
                    retry.append(document)
                else:
                    final[document.key] = result
        if not retry:
            break
        pending = retry
    return [final[document.key] for document in documents]


# -- reading ------------------------------------------------------------------------------


def test_lists_of_a_new_organisation(sim_ledger: XeroLedger) -> None:
    assert "200" in {account.code for account in sim_ledger.list_accounts()}
    rates = {rate.ledger_id: rate for rate in sim_ledger.list_tax_rates()}
    assert rates["OUTPUT"].rate == Decimal("10") and rates["OUTPUT"].for_sales
    assert len(list(sim_ledger.list_tracking_categories())) >= 1
    assert all(item.code for item in sim_ledger.list_items())


def test_connectivity_ok(sim_ledger: XeroLedger) -> None:
    report = sim_ledger.test_connectivity()
    assert report.ok, report.findings
    assert report.details["organisation"] == "Demo MSP (AU)"
    assert report.details["base_currency"] == "AUD"


def test_connectivity_tenant_not_connected(
    make_client: ClientFactory, sim: Simulator, tenant_id: str
) -> None:
    other = DEFAULTS["xero"][1].id
    token = issue_tokens(sim, "xero", (other,))["access_token"]  # consented to another org only
    report = XeroLedger(make_client(StaticTokens(token))).test_connectivity()
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == ErrorKind.PERMISSION and "no longer connected" in problem.message


def test_a_rejected_token_is_refreshed_once(
    make_client: ClientFactory, sim: Simulator, tenant_id: str
) -> None:
    good = issue_tokens(sim, "xero", (tenant_id,))["access_token"]
    tokens = StaticTokens("stale-token", good)
    ledger = XeroLedger(make_client(tokens))
    assert ledger.lock_dates() is not None
    assert tokens.refreshes == ["stale-token"]


def test_an_expired_token_on_the_virtual_clock(
    make_client: ClientFactory, sim: Simulator, clocks: Clocks
) -> None:
    ledger = XeroLedger(make_client())
    clocks.advance(timedelta(minutes=31))  # Xero access tokens live 30 minutes
    with pytest.raises(ConnectorError) as caught:
        ledger.lock_dates()
    assert caught.value.kind == ErrorKind.AUTH


# -- customers ----------------------------------------------------------------------------


def test_customers_are_created_once_and_found_by_psa_id(
    sim_ledger: XeroLedger, sim: Simulator
) -> None:
    made = sim_ledger.ensure_customer(ACME)
    again = sim_ledger.ensure_customer(Customer(psa_id="250", name="Acme Dental Pty Ltd"))
    assert made.outcome == "created" and again.outcome == "found"
    assert again.ledger_id == made.ledger_id
    numbered = [
        c
        for c in sim.system("xero").collection("Contacts").values()
        if c.get("ContactNumber") == "250"
    ]
    assert len(numbered) == 1


def test_name_clash_rules_against_the_simulator(
    sim_ledger: XeroLedger, make_client: ClientFactory
) -> None:
    make_client().put_one("Contacts", {"Name": "Acme Dental"})  # made by a person, no PSA id
    with pytest.raises(ConnectorError) as caught:
        sim_ledger.ensure_customer(ACME)
    assert caught.value.kind == ErrorKind.VALIDATION and "Acme Dental" in caught.value.message
    renamed = sim_ledger.ensure_customer(ACME, on_name_clash=NameClashRule.DISAMBIGUATE)
    assert renamed.name == "Acme Dental (AcmeDental)" and renamed.outcome == "created"


# -- acceptance (2): one batch, three refused ---------------------------------------------


def test_a_batch_of_50_with_3_invalid_creates_47_and_maps_3_errors(
    sim_ledger: XeroLedger, make_client: ClientFactory, sim: Simulator, tenant_id: str
) -> None:
    contact = sim_ledger.ensure_customer(ACME).ledger_id
    other = sim_ledger.ensure_customer(Customer(psa_id="251", name="Bayside Vets")).ledger_id
    # INV-1010's number is already used by another customer's invoice.
    (earlier,) = sim_ledger.post_documents([invoice("INV-1010", other)])
    assert earlier.ok
    documents = [invoice(f"INV-{1000 + n}", contact) for n in range(50)]
    documents[3] = invoice("INV-1003", contact, account_code="999")  # no such account
    documents[27] = invoice("INV-1027", contact, tax_code="NOSUCHTAX")

    results = sim_ledger.post_documents(documents)

    failed = {r.key: r.error for r in results if r.error is not None}
    assert sum(r.ok for r in results) == 47
    assert set(failed) == {
        "co1:invoice:INV-1003:v1",
        "co1:invoice:INV-1010:v1",
        "co1:invoice:INV-1027:v1",
    }
    assert all(e.kind == ErrorKind.VALIDATION for e in failed.values())
    assert "already in Xero" in failed["co1:invoice:INV-1010:v1"].hint
    assert all(e.hint and e.message for e in failed.values())
    in_sim = invoices_in_sim(sim, tenant_id)
    assert sum(in_sim.values()) == 48 and in_sim["INV-1010"] == 1
    assert sim.request_counts("xero")["PUT /xero/api.xro/2.0/Invoices"] == 2


# -- acceptance (3): lost answers never post twice ----------------------------------------


def test_1000_invoices_with_dropped_answers_end_up_in_xero_exactly_once(
    sim_ledger: XeroLedger, sim: Simulator, tenant_id: str
) -> None:
    contact = sim_ledger.ensure_customer(ACME).ledger_id
    sim.add_fault(
        Fault(system="xero", method="PUT", path="Invoices", drop_after_commit=True, probability=0.1)
    )
    documents = [invoice(f"INV-{n:05d}", contact) for n in range(1000)]

    results = push(sim_ledger, documents)

    assert all(result.ok for result in results), [r.error for r in results if not r.ok][:3]
    in_sim = invoices_in_sim(sim, tenant_id)
    assert set(in_sim) == {d.number for d in documents}
    assert set(in_sim.values()) == {1}
    dropped = sum(fault.hits for fault in sim.faults)
    assert dropped > 0  # the faults did hit, and were resolved by lookup
    assert Counter(r.outcome for r in results)["already_existed"] >= dropped


# -- acceptance (4): the real limits, paced by the rate budget ----------------------------


class SharedClocks:
    """Both clocks for several workers: a sleeper moves time on to when it wakes (if no one has
    yet), so workers waiting side by side do not add up their waits."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self.lock:
            wake = clock.now() + timedelta(seconds=seconds)
        time.sleep(0)  # only hands the turn to another thread; no time passes
        with self.lock:
            ahead = wake - clock.now()
            if ahead > timedelta(0):
                clock.advance(ahead)
                self.sim.clock.advance(ahead)


def push_in_parallel(
    sim: Simulator, tenant_id: str, budget: str | None, workers: int, per_worker: int
) -> list[PostResult]:
    """`workers` threads, each with its own connection and customer, push their invoices."""
    shared = SharedClocks(sim)
    results: list[PostResult] = []
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        transport = InProcessTransport(build_app(sim))
        client = XeroClient(
            api_url=SIM_API_URL,
            tenant_id=tenant_id,
            tokens=StaticTokens(issue_tokens(sim, "xero", (tenant_id,))["access_token"]),
            budget=budget,
            transport=transport,
            sleep=shared.sleep,
            retry=RetryPolicy(max_attempts=8, base_delay=0.5),
        )
        try:
            ledger = XeroLedger(client)
            customer = Customer(psa_id=f"9{number:02d}", name=f"Client {number:02d}")
            contact = ledger.ensure_customer(customer).ledger_id
            mine = [invoice(f"W{number:02d}-{n:05d}", contact) for n in range(per_worker)]
            found = push(ledger, mine)
            with shared.lock:
                results.extend(found)
        except BaseException as error:
            errors.append(error)
        finally:
            client.close()
            transport.close()
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_3000_invoices_under_the_real_limits_are_paced_not_refused(
    sim: Simulator, clocks: Clocks, tenant_id: str
) -> None:
    """Six workers share one organisation's budget: 60 calls a minute, 5 at once, 5,000 a day."""
    configure_rate_budget(f"xero:{tenant_id}")

    results = push_in_parallel(sim, tenant_id, f"xero:{tenant_id}", workers=6, per_worker=500)

    assert len(results) == 3000 and all(result.ok for result in results)
    assert sum(invoices_in_sim(sim, tenant_id).values()) == 3000
    statuses = Counter(r.status for r in sim.requests if r.system == "xero")
    print(f"\nWith the budget Xero answered {statuses[429]} 429s in {statuses.total()} calls")
    assert statuses[429] <= 3
    by_minute = Counter(int((r.at - SIM_NOW).total_seconds() // 60) for r in sim.requests)
    assert max(by_minute.values()) <= 60
    assert sim.clock.now() - SIM_NOW >= timedelta(minutes=1)  # it had to wait, not refuse


def test_without_the_budget_the_same_push_meets_429s(
    sim: Simulator, clocks: Clocks, tenant_id: str
) -> None:
    """The contrast that shows the budget is what keeps the 429s away."""
    results = push_in_parallel(sim, tenant_id, None, workers=6, per_worker=500)

    assert all(result.ok for result in results)  # the transport waits them out, but only after
    statuses = Counter(r.status for r in sim.requests if r.system == "xero")
    print(f"\nWithout the budget Xero answered {statuses[429]} 429s in {statuses.total()} calls")
    assert statuses[429] > 0


# -- payments -----------------------------------------------------------------------------


def test_payments_since_flags_deleted_payments(
    sim_ledger: XeroLedger, make_client: ClientFactory, clocks: Clocks
) -> None:
    contact = sim_ledger.ensure_customer(ACME).ledger_id
    first, second = sim_ledger.post_documents(
        [invoice("INV-1", contact), invoice("INV-2", contact)]
    )
    assert first.document is not None and second.document is not None
    client = make_client()
    payments = client.put_batch(
        "Payments",
        [
            {
                "Invoice": {"InvoiceID": first.document.ledger_id},
                "Account": {"Code": "090"},
                "Date": "2026-11-20",
                "Amount": Decimal("110.00"),
                "Reference": "EFT 1",
            },
            {
                "Invoice": {"InvoiceID": second.document.ledger_id},
                "Account": {"Code": "090"},
                "Date": "2026-11-21",
                "Amount": Decimal("40.00"),
            },
        ],
        idempotency_key="test-payments",
    )
    cursor = clocks.sim.clock.now()
    clocks.advance(timedelta(minutes=5))
    client.request(
        "POST", f"Payments/{payments[1]['PaymentID']}", json={"Payments": [{"Status": "DELETED"}]}
    )

    everything = list(sim_ledger.payments_since(None))
    assert [(p.document_number, p.amount, p.reversed) for p in everything] == [
        ("INV-1", Decimal("110.00"), False),
        ("INV-2", Decimal("40.00"), True),
    ]
    assert everything[0].paid_on == date(2026, 11, 20) and everything[0].reference == "EFT 1"
    changed = list(sim_ledger.payments_since(cursor + timedelta(seconds=1)))
    assert [(p.document_number, p.reversed) for p in changed] == [("INV-2", True)]


# -- lock dates and credit notes ----------------------------------------------------------


def test_lock_dates_and_a_document_in_the_locked_period(
    sim_ledger: XeroLedger, sim: Simulator, tenant_id: str
) -> None:
    xero_sim.seed(sim, {"tenant": tenant_id, "Organisation": {"PeriodLockDate": "2026-10-31"}})
    assert sim_ledger.lock_dates().period_lock == date(2026, 10, 31)
    contact = sim_ledger.ensure_customer(ACME).ledger_id

    (locked,) = sim_ledger.post_documents([invoice("INV-1", contact)])  # dated 30 October

    assert locked.error is not None and locked.error.kind == ErrorKind.VALIDATION
    assert "change the lock date or the invoice date" in locked.error.hint
    report = sim_ledger.test_connectivity()
    assert any(f.kind == "warning" and "31 October 2026" in f.message for f in report.findings)


def test_credit_notes_post_and_are_found_by_number(
    sim_ledger: XeroLedger, sim: Simulator, clocks: Clocks
) -> None:
    contact = sim_ledger.ensure_customer(ACME).ledger_id
    credit = PostableDocument(
        **{
            **vars(invoice("CN-7", contact)),
            "key": "co1:credit_note:CN-7:v1",
            "kind": InvoiceKind.CREDIT_NOTE,
            "due_on": None,
        }
    )
    (posted,) = sim_ledger.post_documents([credit])
    assert posted.ok and posted.document is not None
    assert posted.document.total == Decimal("110.00")
    assert posted.document.balance == Decimal("110.00")  # the remaining credit
    found = sim_ledger.find_document(InvoiceKind.CREDIT_NOTE, number="CN-7")
    assert found is not None and found.ledger_id == posted.document.ledger_id
    # Sent again at once: Xero replays its first answer for the same Idempotency-Key.
    (replayed,) = sim_ledger.post_documents([credit])
    assert replayed.document is not None
    assert replayed.document.ledger_id == posted.document.ledger_id
    # Sent again after the replay window: the number is taken, by this very credit note.
    clocks.advance(timedelta(minutes=7))
    (again,) = sim_ledger.post_documents([credit])
    assert again.outcome == "already_existed" and again.document is not None
    assert again.document.ledger_id == posted.document.ledger_id
    assert len(sim.system("xero").collection("CreditNotes")) == 1
