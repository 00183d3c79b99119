"""The invoice pipeline posts each PSA invoice once, marks it in the PSA, and says why not."""

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledgerbridge.accounts.models import Account
from ledgerbridge.companies.models import Company
from ledgerbridge.connectors.base import (
    AckResult,
    ConnectorError,
    ErrorKind,
    Invoice,
    InvoiceKind,
    InvoiceRef,
    LockDates,
    PostableDocument,
    PostResult,
    SourceIds,
)
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


# --- many invoices: streamed, a batch's database work at once, every promise kept -------------


class ListingPsa(FakePsa):
    """Counts the invoices the engine has taken from its list so far."""

    def __init__(self, invoices: Sequence[Invoice]) -> None:
        super().__init__(invoices)
        self.listed = 0

    def list_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> Iterator[InvoiceRef]:
        for ref in super().list_postable_invoices(since=since, thru=thru):
            self.listed += 1
            yield ref


class CountingPsa(FakePsa):
    """A PSA that says at once how many invoices it will list (ConnectWise's `/count`)."""

    def count_postable_invoices(
        self, *, since: datetime | None = None, thru: datetime | None = None
    ) -> int:
        return sum(1 for psa_id in self.invoices if psa_id not in self.acknowledged)


def context_for(company: Company, psa: FakePsa, ledger: FakeLedger) -> SyncContext:
    run = SyncRun.objects.create(company=company, trigger=SyncRun.Trigger.MANUAL)
    return SyncContext(
        company_id=company.pk,
        run=run,
        source=psa,
        ledger=ledger,
        policy=POLICY,
        mappings=MAPPINGS,
        ledger_target="fake-ledger",
        psa_target="fake-psa",
    )


def progress_of(psa: FakePsa, company: Company) -> list[dict[str, Any]]:
    """The invoice progress the run showed each time it reported, in order."""
    context = context_for(company, psa, FakeLedger())
    shown: list[dict[str, Any]] = []
    InvoiceSync(
        context, on_progress=lambda: shown.append(dict(context.run.progress["invoice"]))
    ).run()
    context.run.refresh_from_db()
    assert context.run.progress["invoice"] == shown[-1]  # what the screens read, too
    return shown


def test_posting_begins_before_the_psa_list_is_read_to_its_end(company: Company) -> None:
    psa, ledger = ListingPsa([make_invoice(n) for n in range(1, 10)]), FakeLedger()
    listed_when_posting: list[int] = []
    real_post = ledger.post_documents

    def post(documents: Sequence[PostableDocument]) -> list[PostResult]:
        listed_when_posting.append(psa.listed)
        return real_post(documents)

    ledger.post_documents = post  # type: ignore[method-assign]
    run_sync(company, psa, ledger)
    # Each batch of three goes to the ledger having read no further than itself.
    assert listed_when_posting == [3, 6, 9]
    assert set(states(company).values()) == {"acknowledged"}


def test_progress_counts_from_the_psa_when_it_can_say_how_many(company: Company) -> None:
    shown = progress_of(CountingPsa([make_invoice(n) for n in range(1, 8)]), company)
    assert shown == [{"done": done, "total": 7} for done in (0, 3, 6, 7)]


def test_progress_grows_its_total_as_the_list_arrives_when_the_psa_cannot_count(
    company: Company,
) -> None:
    shown = progress_of(FakePsa([make_invoice(n) for n in range(1, 8)]), company)
    assert shown == [
        {"done": 0, "total": 0, "counting": True},
        {"done": 3, "total": 6, "counting": True},
        {"done": 6, "total": 7, "counting": True},
        {"done": 7, "total": 7},
    ]


def test_an_invoice_listed_twice_in_one_batch_is_posted_and_marked_once(
    company: Company,
) -> None:
    psa, ledger = FakePsa([make_invoice(1), make_invoice(2)]), FakeLedger()
    real_list = psa.list_postable_invoices

    def listed_twice(
        *, since: datetime | None = None, thru: datetime | None = None
    ) -> Iterator[InvoiceRef]:
        refs = list(real_list(since=since, thru=thru))
        yield from [refs[0], *refs]

    psa.list_postable_invoices = listed_twice  # type: ignore[method-assign]
    run = run_sync(company, psa, ledger)
    assert len(ledger.documents) == 2 and ledger.post_calls == 1
    assert psa.ack_calls == 2
    assert run.counts == {"posted": 2}


@pytest.mark.django_db(transaction=True)  # commits as a worker's do, to see what they commit
def test_the_batch_is_committed_as_posting_and_sent_before_the_ledger_call(
    company: Company,
) -> None:
    psa, ledger = FakePsa([make_invoice(n) for n in range(1, 4)]), FakeLedger()
    seen: list[tuple[bool, set[str], set[str]]] = []
    real_post = ledger.post_documents

    def post(documents: Sequence[PostableDocument]) -> list[PostResult]:
        seen.append(
            (
                connection.in_atomic_block,
                set(SyncRecord.objects.values_list("state", flat=True)),
                set(OutboundWrite.objects.values_list("state", flat=True)),
            )
        )
        return real_post(documents)

    ledger.post_documents = post  # type: ignore[method-assign]
    run_sync(company, psa, ledger)
    assert seen == [(False, {"posting"}, {"sent"})]


@pytest.mark.django_db(transaction=True)
def test_the_psa_hears_of_a_record_only_once_its_ledger_write_is_committed(
    company: Company,
) -> None:
    psa, ledger = FakePsa([make_invoice(n) for n in range(1, 4)]), FakeLedger()
    seen: list[tuple[bool, str, str]] = []
    real_ack = psa.acknowledge

    def acknowledge(refs: Sequence[InvoiceRef], batch_identifier: str) -> AckResult:
        (ref,) = refs
        record = SyncRecord.objects.get(company=company, psa_id=ref.psa_id)
        row = OutboundWrite.objects.get(key__contains=f":invoice:{ref.psa_id}:")
        seen.append((connection.in_atomic_block, record.state, row.state))
        return real_ack(refs, batch_identifier)

    psa.acknowledge = acknowledge  # type: ignore[method-assign]
    run_sync(company, psa, ledger)
    assert seen == [(False, "posted", "succeeded")] * 3


def test_each_mark_in_the_psa_is_written_down_the_moment_it_is_made(company: Company) -> None:
    # Marked in the PSA, an invoice drops off its list: a worker killed after the mark but
    # before writing it down would leave the record 'posted' for ever. So no mark waits for
    # the rest of its batch.
    psa, ledger = FakePsa([make_invoice(n) for n in range(1, 4)]), FakeLedger()
    left_by_a_kill_now: list[dict[str, str]] = []
    real_ack = psa.acknowledge

    def acknowledge(refs: Sequence[InvoiceRef], batch_identifier: str) -> AckResult:
        left_by_a_kill_now.append(states(company))
        return real_ack(refs, batch_identifier)

    psa.acknowledge = acknowledge  # type: ignore[method-assign]
    run_sync(company, psa, ledger)
    assert left_by_a_kill_now == [
        {"INV-1": "posted", "INV-2": "posted", "INV-3": "posted"},
        {"INV-1": "acknowledged", "INV-2": "posted", "INV-3": "posted"},
        {"INV-1": "acknowledged", "INV-2": "acknowledged", "INV-3": "posted"},
    ]


def test_database_work_grows_by_one_statement_per_invoice_in_a_batch(account: Account) -> None:
    """A batch's records and write-log rows are read, made and moved together; only the mark
    after each PSA acknowledgement is written on its own (at once, as it drops off the list)."""

    def statements(invoices: int) -> int:
        company = Company.objects.create(account=account, name=f"Company of {invoices}")
        psa, ledger = FakePsa([make_invoice(n) for n in range(1, invoices + 1)]), FakeLedger()
        ledger.batch_size = 50
        with CaptureQueriesContext(connection) as queries:
            run_sync(company, psa, ledger)
        assert set(states(company).values()) == {"acknowledged"}
        # The test's own transaction turns each commit into a savepoint: not work of the run.
        return sum(
            not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
            for query in queries.captured_queries
        )

    few, many = statements(5), statements(45)
    assert many - few == 40


def test_a_record_marked_again_keeps_the_ids_the_psa_lists_it_under_now(company: Company) -> None:
    # The payment sync finds the PSA invoice by these ids, so the latest must be kept.
    psa, ledger = FakePsa([make_invoice(1)]), FakeLedger()
    run_sync(company, psa, ledger)
    psa.acknowledged.clear()  # the MSP deleted the ConnectWise batch: a new unposted id
    psa.invoices["1"] = replace(psa.invoices["1"], source_ids=SourceIds(unposted_id="77"))
    second = run_sync(company, psa, ledger)
    record = SyncRecord.objects.get(company=company)
    assert (record.state, record.source_ids, record.last_run) == (
        "acknowledged",
        {"unposted_id": "77"},
        second,
    )
    assert ledger.post_calls == 1
