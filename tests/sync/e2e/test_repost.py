"""Issue 6, acceptance 5 ("re-posting a changed invoice"), with the real adapters.

Product spec §3.9: to correct a synced invoice the MSP deletes its ConnectWise accounting batch,
reopens the invoice, edits it and closes it again. The next sync must not post a second ledger
document: the record says the invoice changed, and "Re-post" updates the same ledger document
to the new total, then marks the invoice in ConnectWise again. A payment already applied in the
ledger stops the update with what to do instead. The books are checked from the simulators'
own records (books.check_books), never through LedgerBridge's adapters.
"""

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledgerbridge.companies.models import Company
from ledgerbridge.connectors.base import InvoiceKind, ProductIdPolicy
from ledgerbridge.connectors.connectwise.adapter import ConnectWiseSource
from ledgerbridge.core.models import OutboundWrite
from ledgerbridge.sync import actions
from ledgerbridge.sync.engine import SyncContext
from ledgerbridge.sync.models import SyncRecord, SyncRun
from ledgerbridge_sim.connectwise import accounting
from ledgerbridge_sim.connectwise.finance import rebalance
from tests.sync.e2e import books
from tests.sync.e2e.conftest import LEDGERS, Before, Harness, HarnessFactory, generate_psa
from tests.sync.e2e.test_payments import pay_in_ledger

LABELS = {"xero": "Xero", "qbo": "QuickBooks Online"}


@pytest.fixture(autouse=True)
def _runs_stay_here() -> Iterator[None]:
    # The re-post's run is executed by the test, not handed to a worker.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        yield


def posted_books(make_harness: HarnessFactory, ledger: str) -> tuple[Harness, Before]:
    harness = make_harness("connectwise", ledger)
    generate_psa(harness.sim, "connectwise", invoices=24, seed=11)
    harness.map(product_id_policy=ProductIdPolicy.TRUNCATE_HASH)
    before = harness.before()
    harness.sync_invoices()
    assert harness.problems(before) == []
    return harness, before


def a_posted_service_invoice(harness: Harness) -> SyncRecord:
    invoices = harness.sim.system("connectwise").collection("invoices")
    for record in SyncRecord.objects.filter(
        company=harness.company, state="acknowledged", kind=InvoiceKind.INVOICE.value
    ).order_by("number"):
        if invoices[int(record.psa_id)]["type"] == "Standard":
            return record
    raise AssertionError("the generated books hold a posted standard invoice")


def correct_in_connectwise(harness: Harness, record: SyncRecord) -> Decimal:
    """The finance admin's steps from §3.9, through ConnectWise's API where it has one; the
    line itself is edited in the simulator (its API has no line editing). The new total."""
    source = harness.source
    assert isinstance(source, ConnectWiseSource)
    state = harness.sim.system("connectwise")
    invoice = state.collection("invoices")[int(record.psa_id)]
    source.client.delete_batch(int(invoice["glBatch"]["id"]))
    statuses = state.collection("billingStatuses").values()
    reopened = next(s for s in statuses if not s["closedFlag"])
    closed = next(s for s in statuses if s["closedFlag"])
    patch_status(source, invoice["id"], reopened["id"])

    lines = accounting.lines_of(state, invoice["id"])
    lines[0]["quantity"] += 2
    lines[0]["total"] = accounting.money(lines[0]["quantity"] * lines[0]["price"])
    tax_code = state.collection("taxCodes").get(int((invoice.get("taxCode") or {})["id"]))
    levels = accounting.tax_levels(tax_code, lines)
    invoice["subtotal"] = sum((line["total"] for line in lines), Decimal(0))
    invoice["salesTax"] = sum((level["taxAmount"] for level in levels), Decimal(0))
    invoice["total"] = invoice["subtotal"] + invoice["salesTax"]
    rebalance(invoice, harness.sim.clock.now().isoformat(), "finance-admin")

    patch_status(source, invoice["id"], closed["id"])
    new_total = books.psa_invoice(harness.sim, "connectwise", record.psa_id).total
    assert new_total != record.total
    return new_total


def patch_status(source: ConnectWiseSource, invoice_id: int, status_id: int) -> None:
    source.client.request(
        "PATCH",
        f"finance/invoices/{invoice_id}",
        json=[{"op": "replace", "path": "status", "value": {"id": status_id}}],
    )


def repost(harness: Harness, record: SyncRecord) -> SyncRun:
    """Re-post through the record action, and run what it queued as a worker would."""
    run = actions.repost_record(record)

    def build(company: Company, run: SyncRun) -> SyncContext:
        return SyncContext(
            company_id=company.pk,
            run=run,
            source=harness.source,
            ledger=harness.ledger,
            policy=harness.policy,
            mappings=harness.mappings,
            ledger_target=f"{harness.ledger_name}:{company.pk}",
            psa_target=f"{harness.psa}:{company.pk}",
        )

    actions.execute_run(run.pk, build_context=build)
    run.refresh_from_db()
    return run


def documents_numbered(harness: Harness, number: str) -> list[books.LedgerDoc]:
    return [d for d in harness.documents() if (d.kind, d.number) == (InvoiceKind.INVOICE, number)]


@pytest.mark.django_db
@pytest.mark.parametrize("ledger", LEDGERS)
def test_a_corrected_invoice_updates_the_same_ledger_document(
    make_harness: HarnessFactory, ledger: str
) -> None:
    harness, before = posted_books(make_harness, ledger)
    record = a_posted_service_invoice(harness)
    (original,) = documents_numbered(harness, record.number)
    harness.clocks.advance(timedelta(days=1))
    new_total = correct_in_connectwise(harness, record)

    counts = harness.sync_invoices()

    record.refresh_from_db()
    assert counts.get("changed") == 1 and "posted" not in counts
    assert record.state == "changed"
    assert record.error_message.startswith(
        f"{record.number} changed in ConnectWise after it was posted to {LABELS[ledger]} on "
    )
    assert f"to {new_total}." in record.error_message
    assert record.psa_id in books.postable_ids(harness.source)  # not marked meanwhile
    assert documents_numbered(harness, record.number) == [original]

    run = repost(harness, record)

    record.refresh_from_db()
    assert run.status == "succeeded" and run.counts.get("updated") == 1
    assert (record.state, record.version, record.ledger_id) == (
        "acknowledged",
        2,
        original.ledger_id,
    )
    (updated,) = documents_numbered(harness, record.number)
    assert updated.ledger_id == original.ledger_id and updated.total == new_total
    assert updated.total != original.total
    mark = books.psa_marks(harness.sim, "connectwise")[record.psa_id]
    assert mark.endswith("-2")  # a ConnectWise batch of its own for the update
    write = OutboundWrite.objects.get(key=f"{harness.company.pk}:invoice:{record.psa_id}:v2")
    assert (write.operation, write.state) == ("update invoice", "succeeded")
    assert harness.problems(before) == []  # one document per invoice, PSA totals, PSA marks


@pytest.mark.django_db
@pytest.mark.parametrize("ledger", LEDGERS)
def test_a_paid_invoice_gives_the_instruction_instead(
    make_harness: HarnessFactory, ledger: str
) -> None:
    harness, before = posted_books(make_harness, ledger)
    record = a_posted_service_invoice(harness)
    (original,) = documents_numbered(harness, record.number)
    pay_in_ledger(harness, record, Decimal("25.00"), date(2026, 1, 20))
    correct_in_connectwise(harness, record)
    harness.sync_invoices()
    record.refresh_from_db()

    run = repost(harness, record)

    record.refresh_from_db()
    assert run.status == "partial"
    assert record.state == "failed"
    assert "25.00 applied" in record.error_message
    assert "Remove the payment" in record.error_hint and "first" in record.error_hint
    (held,) = documents_numbered(harness, record.number)
    assert (held.ledger_id, held.total, held.lines) == (  # untouched
        original.ledger_id,
        original.total,
        original.lines,
    )
    assert record.psa_id in books.postable_ids(harness.source)
    assert harness.problems(before) == []
