"""Ledger payments reach the PSA once each, whatever is re-run or lost on the way."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledgerbridge.accounts.models import Account
from ledgerbridge.companies.models import Company
from ledgerbridge.connectors.base import LedgerPayment
from ledgerbridge.sync.engine import InvoiceSync, SyncContext
from ledgerbridge.sync.models import SyncCursor, SyncedPayment, SyncRecord, SyncRun
from ledgerbridge.sync.payments import PaymentSync
from ledgerbridge.sync.policy import Mappings, SyncPolicy
from tests.sync.fakes import FakeLedger, FakePsa, make_invoice

D = Decimal
MAPPINGS = Mappings(accounts={"4000": "200"}, tax_codes={"GST": "OUTPUT"})


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind AU")


def context(company: Company, psa: FakePsa, ledger: FakeLedger, **policy: object) -> SyncContext:
    run = SyncRun.objects.create(company=company, trigger=SyncRun.Trigger.MANUAL)
    return SyncContext(
        company_id=company.pk,
        run=run,
        source=psa,
        ledger=ledger,
        policy=SyncPolicy(**policy),  # type: ignore[arg-type]
        mappings=MAPPINGS,
        ledger_target="fake-ledger",
        psa_target="fake-psa",
    )


def paid(ledger_id: str, doc: str, amount: str, minute: int, **fields: object) -> LedgerPayment:
    return LedgerPayment(
        ledger_id=ledger_id,
        document_ledger_id=doc,
        document_number="",
        amount=D(amount),
        paid_on=date(2026, 3, 10),
        updated_at=datetime(2026, 3, 10, 9, minute, tzinfo=UTC),
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def posted(company: Company) -> tuple[FakePsa, FakeLedger]:
    psa, ledger = FakePsa([make_invoice(1), make_invoice(2)]), FakeLedger()
    InvoiceSync(context(company, psa, ledger)).run()
    return psa, ledger


def test_partial_and_full_payments_reach_the_psa_once(
    company: Company, posted: tuple[FakePsa, FakeLedger]
) -> None:
    psa, ledger = posted
    ledger.payments = [paid("p1", "doc-1", "50.00", 1), paid("p2", "doc-1", "60.00", 2)]
    counts = PaymentSync(context(company, psa, ledger)).run()
    assert counts["payments_applied"] == 2
    assert psa.paid("1") == D("110.00")
    assert SyncRecord.objects.get(psa_id="1").paid_amount == D("110.00")
    # Running again reads nothing new (the cursor moved) and pays nothing twice.
    ledger.payments.append(paid("p3", "doc-2", "10.00", 3))
    PaymentSync(context(company, psa, ledger)).run()
    assert psa.payment_calls == 3
    assert psa.paid("2") == D("10.00")


def test_a_reread_payment_is_not_applied_again(
    company: Company, posted: tuple[FakePsa, FakeLedger]
) -> None:
    psa, ledger = posted
    ledger.payments = [paid("p1", "doc-1", "50.00", 1)]
    PaymentSync(context(company, psa, ledger)).run()
    SyncCursor.objects.update(value=None)  # e.g. an admin forces a full pass
    counts = PaymentSync(context(company, psa, ledger)).run()
    assert counts == {"payments_already_applied": 1}
    assert psa.payment_calls == 1


def test_a_lost_reply_is_resolved_without_paying_twice(
    company: Company, posted: tuple[FakePsa, FakeLedger]
) -> None:
    psa, ledger = posted
    psa.drop_payment_reply = True
    ledger.payments = [paid("p1", "doc-1", "110.00", 1)]
    counts = PaymentSync(context(company, psa, ledger)).run()
    assert counts["payments_uncertain"] == 1
    assert not SyncedPayment.objects.exists()
    # The cursor stayed before it, so the next run reads it again and settles it.
    assert SyncCursor.objects.get().value is None
    PaymentSync(context(company, psa, ledger)).run()
    assert psa.paid("1") == D("110.00")
    assert SyncedPayment.objects.count() == 1


def test_payments_on_unknown_documents_and_before_the_cutoff_are_left_alone(
    company: Company, posted: tuple[FakePsa, FakeLedger]
) -> None:
    psa, ledger = posted
    early = LedgerPayment(
        ledger_id="p0",
        document_ledger_id="doc-2",
        document_number="INV-2",
        amount=D("5.00"),
        paid_on=date(2026, 1, 5),
        updated_at=datetime(2026, 3, 10, 8, tzinfo=UTC),
    )
    ledger.payments = [paid("px", "not-ours", "99.00", 1), early]
    counts = PaymentSync(context(company, psa, ledger, payment_cutoff=date(2026, 2, 1))).run()
    assert counts == {"payments_ignored": 1, "payments_before_cutoff": 1}
    assert psa.payment_calls == 0
