"""The invoice pipeline posts each PSA invoice once, marks it in the PSA, and says why not."""

from dataclasses import replace
from datetime import date

import pytest

from ledgerbridge.accounts.models import Account
from ledgerbridge.companies.models import Company
from ledgerbridge.connectors.base import ConnectorError, ErrorKind, InvoiceKind, LockDates
from ledgerbridge.core.models import OutboundWrite
from ledgerbridge.sync.engine import InvoiceSync, RunStoppedError, SyncContext
from ledgerbridge.sync.models import SyncRecord, SyncRun
from ledgerbridge.sync.policy import ExclusionRule, Mappings, SyncPolicy
from tests.sync.fakes import FakeLedger, FakePsa, make_invoice

POLICY = SyncPolicy(
    exempt_tax_code="EXEMPT",
    adjustment_account_code="260",
    adjustment_tax_code="BASEXCLUDED",
)
MAPPINGS = Mappings(accounts={"4000": "200"}, tax_codes={"GST": "OUTPUT"})


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind AU")


def run_sync(
    company: Company,
    psa: FakePsa,
    ledger: FakeLedger,
    policy: SyncPolicy = POLICY,
    mappings: Mappings = MAPPINGS,
) -> SyncRun:
    run = SyncRun.objects.create(company=company, trigger=SyncRun.Trigger.MANUAL)
    context = SyncContext(
        company_id=company.pk,
        run=run,
        source=psa,
        ledger=ledger,
        policy=policy,
        mappings=mappings,
        ledger_target="fake-ledger",
        psa_target="fake-psa",
    )
    InvoiceSync(context).run()
    run.refresh_from_db()
    return run


def states(company: Company) -> dict[str, str]:
    return dict(SyncRecord.objects.filter(company=company).values_list("number", "state"))


def test_invoices_are_posted_in_batches_then_acknowledged(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(n) for n in range(1, 8)]), FakeLedger()
    run = run_sync(company, psa, ledger)
    assert ledger.post_calls == 3  # 7 invoices in batches of 3
    assert set(ledger.documents) == {f"INV-{n}" for n in range(1, 8)}
    assert set(states(company).values()) == {"acknowledged"}
    assert len(psa.acknowledged) == 7
    assert run.progress == {"invoice": {"done": 7, "total": 7}}
    assert run.counts["posted"] == 7
    record = SyncRecord.objects.get(company=company, number="INV-1")
    assert record.ledger_id == "doc-1" and record.total == 110
    assert ledger.contacts == {"1": "contact-1"}


def test_a_second_run_posts_nothing_again(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(1)]), FakeLedger()
    run_sync(company, psa, ledger)
    psa.acknowledged.clear()  # the PSA forgets the mark (a batch deleted by hand)
    run_sync(company, psa, ledger)
    assert ledger.post_calls == 1
    assert len(ledger.documents) == 1
    assert states(company) == {"INV-1": "acknowledged"}


def test_a_lost_reply_is_found_by_lookup_and_never_posted_twice(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(n) for n in range(1, 4)]), FakeLedger()
    ledger.drop_reply = True
    run = run_sync(company, psa, ledger)
    assert run.counts["uncertain"] == 3
    assert set(states(company).values()) == {"posting"}
    assert psa.acknowledged == {}  # nothing marked while in doubt
    run_sync(company, psa, ledger)
    assert ledger.post_calls == 1 and ledger.lookups == 3
    assert set(states(company).values()) == {"acknowledged"}
    assert OutboundWrite.objects.filter(found_by_lookup=True).count() == 3


def test_a_crash_between_sending_and_recording_is_resolved_by_lookup(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(1), make_invoice(2)]), FakeLedger()
    real_post = ledger.post_documents

    def killed(documents):  # type: ignore[no-untyped-def]
        real_post(documents)
        raise KeyboardInterrupt  # kill -9 after the ledger saved them

    ledger.post_documents = killed  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        run_sync(company, psa, ledger)
    ledger.post_documents = real_post  # type: ignore[method-assign]
    run_sync(company, psa, ledger)
    assert len(ledger.documents) == 2 and ledger.post_calls == 1
    assert set(states(company).values()) == {"acknowledged"}


def test_one_refused_invoice_does_not_sink_the_batch(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(n) for n in range(1, 4)]), FakeLedger()
    ledger.refuse["INV-2"] = "Invoice # must be unique."
    run_sync(company, psa, ledger)
    assert states(company) == {"INV-1": "acknowledged", "INV-2": "failed", "INV-3": "acknowledged"}
    failed = SyncRecord.objects.get(number="INV-2")
    assert (failed.error_class, failed.error_message) == (
        "ledger_rejected",
        "Invoice # must be unique.",
    )
    assert "2" not in psa.acknowledged
    # Fixed in the ledger: the next run posts just that one, as a new attempt (so a ledger that
    # replays answers by idempotency key does not replay the old refusal).
    del ledger.refuse["INV-2"]
    run_sync(company, psa, ledger)
    assert set(states(company).values()) == {"acknowledged"}
    assert len(ledger.documents) == 3
    assert [a for a in ledger.attempts_seen if a[0] == "INV-2"] == [("INV-2", 1), ("INV-2", 2)]


def test_mapping_failures_carry_the_hint_and_post_once_mapped(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(1, gl_account="4999"), make_invoice(2)]), FakeLedger()
    run_sync(company, psa, ledger)
    record = SyncRecord.objects.get(number="INV-1")
    assert (record.state, record.error_class) == ("failed", "mapping")
    assert "Mappings → GL accounts" in record.error_hint
    assert states(company)["INV-2"] == "acknowledged"


def test_exclusion_rules_mark_the_psa_but_post_nothing(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(1), make_invoice(2)]), FakeLedger()
    psa.invoices["2"] = replace(psa.invoices["2"], number="AGR-2")
    policy = replace(POLICY, exclusions=(ExclusionRule(prefix="agr"),))
    run = run_sync(company, psa, ledger, policy)
    assert set(ledger.documents) == {"INV-1"}
    assert states(company)["AGR-2"] == "excluded"
    assert "2" in psa.acknowledged
    assert run.counts["excluded"] == 1


def test_records_before_the_onboarding_date_are_marked_not_posted(company: Company) -> None:
    old = make_invoice(1, issued_on=date(2025, 12, 31))
    psa, ledger = FakePsa([old, make_invoice(2)]), FakeLedger()
    run_sync(company, psa, ledger, replace(POLICY, onboarding_date=date(2026, 1, 1)))
    assert set(ledger.documents) == {"INV-2"}
    assert states(company)["INV-1"] == "skipped_onboarding"
    assert "1" in psa.acknowledged


def test_a_failed_acknowledgement_is_retried_without_reposting(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(1)]), FakeLedger()
    psa.fail_ack_for = {"1"}
    run_sync(company, psa, ledger)
    record = SyncRecord.objects.get(number="INV-1")
    assert record.state == "posted" and "not yet marked" in record.error_message
    psa.fail_ack_for = set()
    run_sync(company, psa, ledger)
    assert states(company) == {"INV-1": "acknowledged"}
    assert ledger.post_calls == 1


def test_a_locked_period_fails_the_record_with_the_dates(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(1)]), FakeLedger()
    ledger.lock = LockDates(period_lock=date(2026, 3, 31))
    run_sync(company, psa, ledger)
    record = SyncRecord.objects.get(number="INV-1")
    assert record.state == "failed" and "lock date" in record.error_message
    assert ledger.post_calls == 0


def test_a_refused_connection_stops_the_run_and_loses_nothing(company: Company) -> None:
    psa, ledger = FakePsa([make_invoice(1)]), FakeLedger()
    ledger.raise_on_post = ConnectorError(
        ErrorKind.AUTH, "Xero no longer accepts the sign-in.", hint="Reconnect."
    )
    with pytest.raises(RunStoppedError, match="Reconnect"):
        run_sync(company, psa, ledger)
    assert OutboundWrite.objects.get().state == "failed"  # refused: nothing was written
    ledger.raise_on_post = None
    run_sync(company, psa, ledger)
    assert states(company) == {"INV-1": "acknowledged"}


def test_credit_notes_link_to_their_posted_invoice(company: Company) -> None:
    credit = replace(
        make_invoice(2, kind=InvoiceKind.CREDIT_NOTE), number="CN-1", applies_to_psa_id="1"
    )
    psa, ledger = FakePsa([make_invoice(1)]), FakeLedger()
    run_sync(company, psa, ledger)
    psa.invoices["2"] = credit
    run_sync(company, psa, ledger)
    assert ledger.documents["CN-1"].kind == InvoiceKind.CREDIT_NOTE
    assert ledger.documents["CN-1"].applies_to_ledger_id == "doc-1"


def test_a_refused_invoice_posts_after_its_mapping_is_fixed(company: Company) -> None:
    # Xero refuses the account code; the admin maps the GL account to another and syncs again:
    # the same document (same write key) goes with its new content.
    psa, ledger = FakePsa([make_invoice(1)]), FakeLedger()
    ledger.refuse["INV-1"] = "Account code '200' is not a valid code for this document."
    run_sync(company, psa, ledger)
    assert states(company) == {"INV-1": "failed"}
    del ledger.refuse["INV-1"]
    fixed = Mappings(accounts={"4000": "210"}, tax_codes={"GST": "OUTPUT"})
    run_sync(company, psa, ledger, mappings=fixed)
    assert states(company) == {"INV-1": "acknowledged"}
    assert ledger.documents["INV-1"].lines[0].account_code == "210"
