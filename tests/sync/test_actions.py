"""Runs execute under the company lease; record actions change what the next run does."""

from dataclasses import dataclass

import pytest

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.companies.models import Company
from ledgerbridge.core import leases
from ledgerbridge.core.models import AuditEvent
from ledgerbridge.sync import actions
from ledgerbridge.sync.engine import RunStoppedError, SyncContext
from ledgerbridge.sync.models import SyncRecord, SyncRun
from ledgerbridge.sync.policy import Mappings, SyncPolicy
from tests.sync.fakes import FakeLedger, FakePsa, make_invoice

MAPPINGS = Mappings(accounts={"4000": "200"}, tax_codes={"GST": "OUTPUT"})


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind AU")


@dataclass
class Wiring:
    psa: FakePsa
    ledger: FakeLedger

    def build(self, company: Company, run: SyncRun) -> SyncContext:
        return SyncContext(
            company_id=company.pk,
            run=run,
            source=self.psa,
            ledger=self.ledger,
            policy=SyncPolicy(),
            mappings=MAPPINGS,
            ledger_target="fake-ledger",
            psa_target="fake-psa",
        )


@pytest.fixture
def wiring() -> Wiring:
    return Wiring(FakePsa([make_invoice(n) for n in range(1, 5)]), FakeLedger())


def queued(company: Company, **kw: object) -> SyncRun:
    return actions.request_run(
        company,
        trigger=SyncRun.Trigger.SYNC_ALL,
        enqueue=False,
        **kw,  # type: ignore[arg-type]
    )


def test_a_run_goes_from_queued_to_succeeded_with_counts(company: Company, wiring: Wiring) -> None:
    _psa, _ledger, build = wiring.psa, wiring.ledger, wiring.build
    run = actions.execute_run(queued(company).pk, build_context=build)
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.started_at and run.finished_at
    assert run.counts["posted"] == 4
    assert run.progress["invoice"] == {"done": 4, "total": 4}
    assert leases.holder_of(actions.lease_name(company.pk)) is None  # released


def test_one_run_per_company_at_a_time(company: Company, wiring: Wiring) -> None:
    ledger, build = wiring.ledger, wiring.build
    leases.acquire(actions.lease_name(company.pk), "another-worker", actions.lease_ttl())
    run = queued(company)
    with pytest.raises(actions.SyncBusyError):
        actions.execute_run(run.pk, build_context=build)
    run.refresh_from_db()
    assert run.status == "queued" and ledger.post_calls == 0


def test_failures_make_a_partial_run(company: Company, wiring: Wiring) -> None:
    _psa, ledger, build = wiring.psa, wiring.ledger, wiring.build
    ledger.refuse["INV-3"] = "Invoice # must be unique."
    run = actions.execute_run(queued(company).pk, build_context=build)
    run.refresh_from_db()
    assert run.status == "partial" and run.counts["failed"] == 1


def test_a_missing_connection_fails_the_run_with_its_reason(company: Company) -> None:
    def not_connected(company: Company, run: SyncRun) -> SyncContext:
        raise RunStoppedError("Connect Northwind AU to Xero first.")

    run = actions.execute_run(queued(company).pk, build_context=not_connected)
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "Connect Northwind AU to Xero first.")


def test_a_cancelled_run_never_starts(company: Company, wiring: Wiring, alice: User) -> None:
    ledger, build = wiring.ledger, wiring.build
    run = queued(company)
    actions.cancel_run(run, user=alice)
    actions.execute_run(run.pk, build_context=build)
    run.refresh_from_db()
    assert run.status == "cancelled" and ledger.post_calls == 0
    assert AuditEvent.objects.filter(action="sync.run_cancelled").exists()


def test_cancelling_stops_between_batches(company: Company, wiring: Wiring) -> None:
    _psa, ledger, build = wiring.psa, wiring.ledger, wiring.build
    run = queued(company)
    real_post = ledger.post_documents

    def post_then_cancel(documents):  # type: ignore[no-untyped-def]
        SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        return real_post(documents)

    ledger.post_documents = post_then_cancel  # type: ignore[method-assign]
    actions.execute_run(run.pk, build_context=build)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert ledger.post_calls == 1  # the batch in flight finished; the next never started
    assert len(ledger.documents) == 3


def test_retry_requeues_just_that_record(company: Company, wiring: Wiring, alice: User) -> None:
    _psa, ledger, build = wiring.psa, wiring.ledger, wiring.build
    ledger.refuse["INV-2"] = "Invoice # must be unique."
    actions.execute_run(queued(company).pk, build_context=build)
    record = SyncRecord.objects.get(number="INV-2")
    del ledger.refuse["INV-2"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        run = actions.retry_record(record, user=alice)
    assert run.only_psa_ids == ["2"] and run.trigger == "retry"
    actions.execute_run(run.pk, build_context=build)
    record.refresh_from_db()
    assert record.state == "acknowledged"
    with pytest.raises(actions.RecordActionError, match="only failed records"):
        actions.retry_record(record, user=alice)


def test_excluded_records_are_left_out_until_included(
    company: Company, wiring: Wiring, alice: User
) -> None:
    _psa, ledger, build = wiring.psa, wiring.ledger, wiring.build
    record = SyncRecord.objects.create(
        company=company, record_type="invoice", psa_id="1", number="INV-1"
    )
    actions.exclude_record(record, user=alice, reason="Billed through another platform")
    actions.execute_run(queued(company).pk, build_context=build)
    assert "INV-1" not in ledger.documents
    record.refresh_from_db()
    actions.include_record(record, user=alice)
    actions.execute_run(queued(company).pk, build_context=build)
    assert "INV-1" in ledger.documents


def test_marked_posted_records_are_never_posted(
    company: Company, wiring: Wiring, alice: User
) -> None:
    psa, ledger, build = wiring.psa, wiring.ledger, wiring.build
    record = SyncRecord.objects.create(
        company=company, record_type="invoice", psa_id="1", number="INV-1"
    )
    with pytest.raises(actions.RecordActionError, match="ledger's number"):
        actions.mark_posted(record, ledger_number=" ", user=alice)
    actions.mark_posted(record, ledger_number="INV-1", user=alice)
    actions.execute_run(queued(company).pk, build_context=build)
    assert "INV-1" not in ledger.documents
    record.refresh_from_db()
    assert record.state == "acknowledged"  # marked in the PSA so it leaves the unposted list
    assert "1" in psa.acknowledged


def test_waiting_runs_are_handed_to_a_worker_again_once_the_company_is_free(
    company: Company,
) -> None:
    from datetime import timedelta

    from django_tasks_db.models import DBTaskResult

    from ledgerbridge.core import clock
    from ledgerbridge.sync.tasks import requeue_waiting_runs

    run = queued(company)
    SyncRun.objects.filter(pk=run.pk).update(created_at=clock.now() - timedelta(minutes=2))
    leases.acquire(actions.lease_name(company.pk), "busy-worker", actions.lease_ttl())
    assert requeue_waiting_runs() == 0
    leases.release(actions.lease_name(company.pk), "busy-worker")
    assert requeue_waiting_runs() == 1
    assert DBTaskResult.objects.filter(task_path__endswith="execute_sync_run").count() == 1


def test_a_run_abandoned_by_a_dead_worker_is_closed_and_resumed(company: Company) -> None:
    from ledgerbridge.sync.tasks import resume_abandoned_runs

    run = queued(company)
    SyncRun.objects.filter(pk=run.pk).update(status="running")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        assert resume_abandoned_runs() == 1
    run.refresh_from_db()
    assert run.status == "failed" and "carries on" in run.error
    assert SyncRun.objects.filter(status="queued", trigger="retry").count() == 1


def test_company_schedules_and_polls_queue_runs_when_due(company: Company) -> None:
    from datetime import timedelta

    from ledgerbridge.companies.models import CompanySettings
    from ledgerbridge.core import clock
    from ledgerbridge.sync.tasks import start_scheduled_runs

    CompanySettings.objects.create(
        company=company, locale="AU", schedule_minutes=60, poll_minutes=5
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        assert start_scheduled_runs() == 1
        assert start_scheduled_runs() == 0  # the scheduled run is still queued
        SyncRun.objects.update(status="succeeded")
        assert start_scheduled_runs() == 1  # the poll's turn
        SyncRun.objects.update(status="succeeded")
        assert start_scheduled_runs() == 0  # neither is due yet
        clock.set_now(clock.now() + timedelta(minutes=6))
        assert start_scheduled_runs() == 1
    triggers = list(SyncRun.objects.order_by("pk").values_list("trigger", "record_types"))
    assert triggers == [
        ("schedule", ["invoice", "payment"]),
        ("poll", ["invoice"]),
        ("poll", ["invoice"]),
    ]


def test_passing_failures_are_retried_after_a_pause(company: Company, wiring: Wiring) -> None:
    from datetime import timedelta

    from ledgerbridge.connectors.base import ConnectorError, ErrorKind
    from ledgerbridge.core import clock

    ledger, build = wiring.ledger, wiring.build
    ledger.raise_on_post = ConnectorError(ErrorKind.TRANSIENT, "Xero is down for maintenance.")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        first = actions.execute_run(queued(company).pk, build_context=build)
    first.refresh_from_db()
    assert first.status == "partial"
    retry = SyncRun.objects.get(trigger="retry")
    assert (retry.retry_attempt, sorted(retry.only_psa_ids)) == (1, ["1", "2", "3", "4"])
    assert retry.not_before is not None and retry.not_before - clock.now() > timedelta(minutes=1)
    # Too early: a worker handed it leaves it waiting.
    assert actions.execute_run(retry.pk, build_context=build).status == "queued"
    ledger.raise_on_post = None
    clock.set_now(clock.now() + timedelta(minutes=3))
    actions.execute_run(retry.pk, build_context=build)
    retry.refresh_from_db()
    assert retry.status == "succeeded" and len(ledger.documents) == 4


def test_a_psa_that_cannot_list_fails_the_run_with_its_reason_and_retries(
    company: Company, wiring: Wiring
) -> None:
    from ledgerbridge.connectors.base import ConnectorError, ErrorKind

    def down(**kwargs: object) -> object:
        raise ConnectorError(
            ErrorKind.TRANSIENT, "ConnectWise did not answer in time.", hint="Tried again soon."
        )

    wiring.psa.list_postable_invoices = down  # type: ignore[method-assign,assignment]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        run = actions.execute_run(queued(company).pk, build_context=wiring.build)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == "ConnectWise did not answer in time. Tried again soon."
    assert SyncRun.objects.filter(trigger="retry", retry_attempt=1).count() == 1


def test_a_record_posted_but_never_marked_is_marked_by_the_next_run(
    company: Company, wiring: Wiring
) -> None:
    # A worker was killed after the ledger took INV-1 and before the PSA was told; the PSA's
    # list still shows it here, but it may not (ConnectWise batches built by hand elsewhere).
    record = SyncRecord.objects.create(
        company=company,
        record_type="invoice",
        psa_id="9",
        number="INV-9",
        state="posted",
        ledger_id="doc-9",
    )
    actions.execute_run(queued(company).pk, build_context=wiring.build)
    record.refresh_from_db()
    assert record.state == "acknowledged"
    assert "9" in wiring.psa.acknowledged
    assert "INV-9" not in wiring.ledger.documents  # marked, never posted again


def test_an_unexpected_error_fails_the_run_with_it_instead_of_leaving_it_running(
    company: Company, wiring: Wiring
) -> None:
    def broken(documents):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    wiring.ledger.post_documents = broken  # type: ignore[method-assign]
    run = queued(company)
    with pytest.raises(RuntimeError):
        actions.execute_run(run.pk, build_context=wiring.build)
    run.refresh_from_db()
    assert run.status == "failed" and "disk full" in run.error
    assert leases.holder_of(actions.lease_name(company.pk)) is None


def test_a_run_that_loses_its_company_stops_and_leaves_a_follow_up(
    company: Company, wiring: Wiring
) -> None:
    real_post = wiring.ledger.post_documents
    keepers: list[actions._LeaseKeeper] = []

    def post_while_the_lease_lapses(documents):  # type: ignore[no-untyped-def]
        keepers[0].lost.set()  # the keeper found another worker holding the company
        return real_post(documents)

    wiring.ledger.post_documents = post_while_the_lease_lapses  # type: ignore[method-assign]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        patch.setattr(actions._LeaseKeeper, "start", lambda self: keepers.append(self))
        run = queued(company)
        actions.execute_run(run.pk, build_context=wiring.build)
    run.refresh_from_db()
    assert run.status == "failed" and "lost its hold" in run.error
    assert wiring.ledger.post_calls == 1  # the next batch never started
    assert SyncRun.objects.filter(trigger="retry", status="queued").count() == 1


def test_the_lease_keeper_renews_and_notices_a_lost_lease(
    company: Company, settings: object
) -> None:
    settings.SYNC_LEASE_SECONDS = 0.15  # type: ignore[attr-defined]
    renewals: list[bool] = []

    def renew(name: str, holder: str, ttl: object) -> bool:
        renewals.append(True)
        return len(renewals) < 3  # lost on the third renewal

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(leases, "renew", renew)
        keeper = actions._LeaseKeeper("company:1:sync", "me")
        keeper.start()
        assert keeper.lost.wait(timeout=5)
        keeper.stop()
    assert len(renewals) == 3
    with pytest.raises(actions.RunStoppedError, match="lost its hold"):
        keeper.check()
