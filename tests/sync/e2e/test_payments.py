"""Payments back: money received in the ledger reaches the PSA once.

Customers pay some posted invoices in the ledger (through its API, as a bookkeeper or a bank
feed rule would), in full or in part. ConnectWise records each payment with its amount;
Autotask only has a paid date, set when the invoice is paid in full. A re-run pays nothing
twice, also when a tenth of the PSA's replies are lost after the write.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.base import InvoiceKind
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge.core import clock
from ledgerbridge.sync.engine import InvoiceSync
from ledgerbridge.sync.models import SyncedPayment, SyncRecord
from ledgerbridge_sim.state import Simulator
from tests.sync.e2e.conftest import PAIRS, PSAS, Harness, HarnessFactory, seeded
from tests.sync.e2e.test_faults import drop_replies

CENT = Decimal("0.01")
XERO_BANK_ACCOUNT = "090"  # the simulated organisation's business bank account


@dataclass(frozen=True)
class Paid:
    record: SyncRecord
    amounts: tuple[Decimal, ...]

    @property
    def in_full(self) -> bool:
        return sum(self.amounts, Decimal(0)) == total_of(self.record)


def pay_in_ledger(
    harness: Harness, record: SyncRecord, amount: Decimal, paid_on: date, instalment: int = 1
) -> None:
    """A customer payment applied to the ledger invoice, entered through the ledger's API."""
    reference = f"EFT-{record.number}-{instalment}"
    key = f"test-payment:{record.pk}:{instalment}"
    ledger = harness.ledger
    if isinstance(ledger, XeroLedger):
        ledger.client.put_one(
            "Payments",
            {
                "Invoice": {"InvoiceID": record.ledger_id},
                "Account": {"Code": XERO_BANK_ACCOUNT},
                "Date": paid_on.isoformat(),
                "Amount": amount,
                "Reference": reference,
            },
            idempotency_key=key,
        )
        return
    assert isinstance(ledger, QboLedger)
    invoice = ledger.client.read("Invoice", record.ledger_id)
    assert invoice is not None
    ledger.client.create(
        "Payment",
        {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": amount,
            "TxnDate": paid_on.isoformat(),
            "PaymentRefNum": reference,
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": record.ledger_id, "TxnType": "Invoice"}]}
            ],
        },
        request_key=key,
    )


def total_of(record: SyncRecord) -> Decimal:
    assert record.total is not None
    return Decimal(record.total).quantize(CENT)


def unpaid_in_psa(sim: Simulator, psa: str, record: SyncRecord) -> bool:
    if psa == "connectwise":
        row = sim.system("connectwise").collection("invoices")[int(record.psa_id)]
        return Decimal(row["balance"]) == Decimal(row["total"])
    return sim.system("autotask").collection("Invoices")[int(record.psa_id)]["paidDate"] is None


def psa_payments(sim: Simulator, psa: str, record: SyncRecord) -> Any:
    """ConnectWise: the payment amounts on the invoice; Autotask: its paid date."""
    if psa == "connectwise":
        return sorted(
            Decimal(p["amount"])
            for p in sim.system("connectwise").collection("payments").values()
            if p["invoice"]["id"] == int(record.psa_id)
        )
    return sim.system("autotask").collection("Invoices")[int(record.psa_id)]["paidDate"]


def posted_and_paid(harness: Harness, *, split_second_payment: bool = True) -> list[Paid]:
    """Post the PSA's invoices, then pay a dozen in the ledger: in full, in part, in two parts."""
    harness.sync_invoices()
    candidates = [
        record
        for record in SyncRecord.objects.filter(
            company=harness.company,
            state=SyncRecord.State.ACKNOWLEDGED,
            kind=InvoiceKind.INVOICE.value,
        ).order_by("number")
        if unpaid_in_psa(harness.sim, harness.psa, record) and total_of(record) > 1
    ][:12]
    assert len(candidates) == 12
    today = harness.clocks.sim.clock.now().date()
    paid: list[Paid] = []
    for index, record in enumerate(candidates):
        total = total_of(record)
        deposit = (total * Decimal("0.4")).quantize(CENT)
        if index % 3 == 0:
            amounts: tuple[Decimal, ...] = (total,)
        elif index % 3 == 1:
            amounts = (deposit,)
        else:  # a deposit, then the rest
            amounts = (deposit, total - deposit) if split_second_payment else (deposit,)
        for instalment, amount in enumerate(amounts, start=1):
            pay_in_ledger(harness, record, amount, today, instalment)
        paid.append(Paid(record, amounts))
    return paid


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_ledger_payments_reach_the_psa_once(
    make_harness: HarnessFactory, psa: str, ledger: str
) -> None:
    harness = seeded(make_harness, psa, ledger, invoices=80)
    paid = posted_and_paid(harness)

    harness.sync_payments()

    for item in paid:
        got = psa_payments(harness.sim, psa, item.record)
        if psa == "connectwise":
            assert got == sorted(item.amounts), item.record.number  # partial and full alike
        elif item.in_full:
            item.record.refresh_from_db()
            assert got is not None, (
                f"{item.record.number} paid in full {item.amounts}: {item.record.warnings}"
            )
        else:
            assert got is None, f"{item.record.number} part-paid: Autotask has no paid date"
    part_paid = [p for p in paid if not p.in_full]
    if psa == "autotask":
        for item in part_paid:
            item.record.refresh_from_db()
            assert any("partial payment" in w for w in item.record.warnings)

    # Again: nothing is paid twice.
    before = {p.record.psa_id: psa_payments(harness.sim, psa, p.record) for p in paid}
    synced = SyncedPayment.objects.count()
    counts = harness.sync_payments()
    assert {p.record.psa_id: psa_payments(harness.sim, psa, p.record) for p in paid} == before
    assert SyncedPayment.objects.count() == synced
    assert not counts.get("payments_applied")


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_lost_psa_replies_never_pay_twice(
    make_harness: HarnessFactory, psa: str, ledger: str
) -> None:
    harness = seeded(make_harness, psa, ledger, invoices=80)
    paid = posted_and_paid(harness, split_second_payment=False)
    # The first replies are lost for sure, then one in three.
    faults = drop_replies(harness, psa, 1.0, times=2) + drop_replies(harness, psa, 0.3)

    for _ in range(4):
        harness.sync_payments()
    harness.sim.faults.clear()
    harness.sync_payments()

    assert faults[0].hits == 2
    for item in paid:
        got = psa_payments(harness.sim, psa, item.record)
        if psa == "connectwise":
            assert got == sorted(item.amounts), item.record.number
        else:
            assert (got is not None) == item.in_full, item.record.number


@pytest.mark.django_db
def test_two_equal_instalments_on_one_day_both_reach_connectwise(
    make_harness: HarnessFactory,
) -> None:
    harness = seeded(make_harness, "connectwise", "qbo", invoices=40)
    harness.sync_invoices()
    record = next(
        r
        for r in SyncRecord.objects.filter(
            company=harness.company, state=SyncRecord.State.ACKNOWLEDGED, kind="invoice"
        ).order_by("number")
        if unpaid_in_psa(harness.sim, "connectwise", r) and (total_of(r) * 100) % 2 == 0
    )
    half = (total_of(record) / 2).quantize(CENT)
    today = harness.sim.clock.now().date()
    pay_in_ledger(harness, record, half, today, instalment=1)
    pay_in_ledger(harness, record, half, today, instalment=2)

    counts = harness.sync_payments()

    assert counts.get("payments_applied") == 2  # the engine believes both were recorded
    assert psa_payments(harness.sim, "connectwise", record) == [half, half]


@pytest.mark.django_db
@pytest.mark.parametrize("psa", PSAS)
def test_a_payment_goes_to_the_invoice_not_a_credit_note_with_the_same_ledger_id(
    make_harness: HarnessFactory, psa: str
) -> None:
    # QuickBooks numbers invoices and credit memos separately: both kinds have an Id 1, 2, ….
    harness = seeded(make_harness, psa, "qbo", invoices=60)
    # The credit notes were synced first (a selection, say), then everything else.
    credit_notes = [
        ref.psa_id
        for ref in harness.source.list_postable_invoices(thru=clock.now())
        if ref.kind == InvoiceKind.CREDIT_NOTE
    ]
    InvoiceSync(harness.context()).run(only=credit_notes)
    harness.sync_invoices()
    posted = SyncRecord.objects.filter(company=harness.company, state=SyncRecord.State.ACKNOWLEDGED)
    credits = dict(posted.filter(kind="credit_note").values_list("ledger_id", "pk"))
    # The credit note's record made first, so a lookup by ledger id alone finds it first.
    record = next(
        r
        for r in posted.filter(kind="invoice", ledger_id__in=credits).order_by("number")
        if unpaid_in_psa(harness.sim, psa, r) and credits[r.ledger_id] < r.pk
    )
    total = total_of(record)
    pay_in_ledger(harness, record, total, harness.sim.clock.now().date())

    harness.sync_payments()

    got = psa_payments(harness.sim, psa, record)
    assert got == [total] if psa == "connectwise" else got is not None
    assert SyncedPayment.objects.get().record == record
