"""Issue 6, acceptance 4: two workers and two schedulers (PostgreSQL and Celery in the process
lane) end in the same books as a single worker does, and never run two syncs of one company at
once.

The same seeded MSP (four companies across both PSAs and both ledgers) is synced twice, each
time into fresh simulators: once by one worker with one run requested per company, once by two
workers with two task slots each and two schedulers, with every company on a one-minute
schedule and poll and a burst of "Sync now" requests on top. Each stretch of sync work is
written down by the workers (`probe.py`); no two of one company may overlap in time.
"""

import signal
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from ledgerbridge.accounts.models import Account
from ledgerbridge.companies.models import CompanySettings
from ledgerbridge.core.models import RateBudget
from ledgerbridge.sync.actions import request_run
from ledgerbridge.sync.models import SyncRecord, SyncRun
from ledgerbridge_sim import organisations
from ledgerbridge_sim.organisations import Organisation
from tests.sync.e2e import books
from tests.sync.processes.harness import (
    QBO_REALMS,
    XERO_TENANTS,
    CompanyPlan,
    SeededCompany,
    SimulatorServer,
    ledger_customer_names,
    point_settings_at,
    relaxed_simulator,
    seed_company,
)
from tests.sync.processes.runs import active_runs, describe_runs, start_worker, sweep
from tests.sync.processes.spans import work_spans
from tests.tasks_fixture.processes import Process

pytestmark = [pytest.mark.processes, pytest.mark.slow]

# Two more US QuickBooks companies, so every company posts into its own realm.
EXTRA_REALMS = (
    Organisation("qbo", "9341452100000011", "Second US realm", "US", "USD"),
    Organisation("qbo", "9341452100000012", "Third US realm", "US", "USD"),
)
# (plan, which simulator holds its PSA database); the ledgers all live in the first.
PLANS = (
    (CompanyPlan("Contoso", "connectwise", "qbo", QBO_REALMS["US"], invoices=160, seed=21), 0),
    (CompanyPlan("Fabrikam", "autotask", "qbo", EXTRA_REALMS[0].id, invoices=40, seed=22), 0),
    (CompanyPlan("Tailspin", "connectwise", "xero", XERO_TENANTS["US"], invoices=50, seed=23), 1),
    (CompanyPlan("Wingtip", "autotask", "qbo", EXTRA_REALMS[1].id, invoices=40, seed=24), 1),
)
BURST = 2  # "Sync now" requests per company, all at once
SETTLE_WITHIN = 300  # s


type Snapshot = dict[str, dict[str, Any]]


def fresh_simulators(count: int = 2) -> list[SimulatorServer]:
    servers = [SimulatorServer(relaxed_simulator()) for _ in range(count)]
    for organisation in EXTRA_REALMS:
        organisations.add(servers[0].sim, organisation)
    return servers


def seed_msp(
    account: Account, servers: list[SimulatorServer], overrides: Any, **settings_changes: Any
) -> list[SeededCompany]:
    # Budgets left by the other pass belong to simulators that are gone.
    RateBudget.objects.all().delete()
    point_settings_at(overrides, servers[0].url)
    return [
        seed_company(
            account,
            plan,
            psa_server=servers[psa_at],
            ledger_server=servers[0],
            **settings_changes,
        )
        for plan, psa_at in PLANS
    ]


def watch(condition: Callable[[], bool], timeout: float, what: str, *, sweeping: bool) -> None:
    """Poll `condition`; fail at once if two runs of one company ever worked together."""
    deadline = time.monotonic() + timeout
    while not condition():
        if overlapping := overlaps_per_company(finished_only=False):
            raise AssertionError(
                "Two runs of one company at once:\n"
                + "\n".join(overlapping[:10])
                + f"\n{describe_runs()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out after {timeout} s waiting for {what}\n{describe_runs()}"
            )
        if sweeping:
            sweep()
        # Real processes on real time: polling is the only way to watch them.
        time.sleep(0.5)


def snapshot(companies: list[SeededCompany]) -> Snapshot:
    """What the finance admin sees per company, without ids that differ from pass to pass."""
    found: Snapshot = {}
    for seeded in companies:
        plan = seeded.plan
        records = SyncRecord.objects.filter(company=seeded.company, psa_id__in=seeded.postable)
        documents = books.ledger_documents(seeded.ledger_server.sim, plan.ledger, plan.organisation)
        found[plan.name] = {
            "records": sorted(
                (r.psa_id, r.state, r.error_class, r.ledger_number, str(r.total)) for r in records
            ),
            "ledger": sorted((d.kind.value, d.number, d.total, d.tax) for d in documents),
            "customers": sorted(ledger_customer_names(seeded)),
            "psa_marked": sorted(
                set(books.psa_marks(seeded.server.sim, plan.psa)) - set(seeded.marks_before)
            ),
        }
    return found


def overlaps_per_company(*, finished_only: bool = True) -> list[str]:
    """Two stretches of sync work of one company at the same time (by any processes); one
    still going counts as busy until now, and as a problem only if `finished_only`."""
    found: list[str] = []
    by_company: dict[int, list[tuple[int, str, int, float, float | None]]] = {}
    for company_id, run_id, work, pid, started, finished in work_spans():
        by_company.setdefault(company_id, []).append((run_id, work, pid, started, finished))
    for company_id, spans in by_company.items():
        busy_until, busy_with = 0.0, None
        for run_id, work, pid, started, finished in spans:
            if finished is None:
                if finished_only:
                    found.append(f"company {company_id}: run {run_id} {work} never finished")
                finished = time.time()
            if started < busy_until:
                found.append(
                    f"company {company_id}: run {run_id} ({work}, pid {pid}) started "
                    f"{busy_until - started:.3f} s before {busy_with} ended"
                )
            if finished > busy_until:
                busy_until, busy_with = finished, f"run {run_id} ({work}, pid {pid})"
    return found


def run_overlaps(companies: list[SeededCompany]) -> list[str]:
    """The same, from the runs' own started/finished times."""
    found: list[str] = []
    for seeded in companies:
        runs = SyncRun.objects.filter(company=seeded.company, started_at__isnull=False)
        spans = sorted((r.started_at, r.finished_at, r.pk) for r in runs if r.started_at)
        for (_, end, first), (start, _, second) in pairwise(spans):
            if end is None or start < end:
                found.append(f"{seeded.plan.name}: run {second} started before run {first} ended")
    return found


def single_worker_pass(
    account: Account, env: dict[str, str], tmp_path: Path, overrides: Any
) -> tuple[list[SeededCompany], Snapshot]:
    servers = fresh_simulators()
    try:
        companies = seed_msp(account, servers, overrides)
        env = env | {"LEDGERBRIDGE_SIM_URL": servers[0].url}
        for seeded in companies:
            request_run(seeded.company, trigger=SyncRun.Trigger.SYNC_ALL)
        worker = start_worker(tmp_path, "single-worker", env)
        try:
            watch(
                lambda: active_runs() == 0 and all(c.settled() for c in companies),
                SETTLE_WITHIN,
                "one worker to sync every company",
                sweeping=True,
            )
        finally:
            assert worker.stop() == 0, worker.output()
        return companies, snapshot(companies)
    finally:
        for server in servers:
            server.stop()


def many_workers_pass(
    account: Account, env: dict[str, str], tmp_path: Path, overrides: Any
) -> tuple[list[SeededCompany], Snapshot]:
    servers = fresh_simulators()
    processes: list[Process] = []
    try:
        companies = seed_msp(account, servers, overrides, schedule_minutes=1, poll_minutes=1)
        ids = [c.company.pk for c in companies]
        env = env | {"LEDGERBRIDGE_SIM_URL": servers[0].url}
        # Two task slots each: threads on the db backend, pool processes on Celery.
        extra = ["--concurrency=2"]
        if django_settings.TASKS_BACKEND == "celery":
            extra.append("--pool=prefork")
        workers = [start_worker(tmp_path, f"worker-{n}", env, *extra) for n in (1, 2)]
        processes += workers
        schedulers = [
            Process(["scheduler", "--interval=0.5"], tmp_path / f"scheduler-{n}.log", env)
            for n in (1, 2)
        ]
        processes += schedulers
        # The schedulers' first tick queues every idle company's scheduled sync.
        watch(
            lambda: (
                SyncRun.objects.filter(company_id__in=ids, trigger=SyncRun.Trigger.SCHEDULE).count()
                == len(companies)
            ),
            60,
            "the schedulers to queue each company's scheduled sync",
            sweeping=False,
        )
        for seeded in companies:
            for _ in range(BURST):
                request_run(seeded.company, trigger=SyncRun.Trigger.MANUAL)
        watch(
            lambda: all(c.settled() for c in companies),
            SETTLE_WITHIN,
            "two workers to sync every company",
            sweeping=False,
        )
        # Stop the schedule and let the running syncs end. Runs still queued behind them would
        # find nothing left to post; the schedulers hand them out once a minute.
        CompanySettings.objects.filter(company_id__in=ids).update(
            schedule_minutes=0, poll_minutes=0
        )
        watch(
            lambda: not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists(),
            SETTLE_WITHIN,
            "the running syncs to end",
            sweeping=False,
        )
        codes = [process.stop(signal.SIGTERM, timeout=60) for process in processes]
        assert codes == [0] * len(processes), "\n".join(p.output() for p in processes)
        return companies, snapshot(companies)
    finally:
        for process in processes:
            if process.alive():
                process.popen.kill()
                process.popen.wait()
        for server in servers:
            server.stop()


def test_two_workers_and_two_schedulers_end_where_one_worker_does(
    account: Account, child_env: dict[str, str], tmp_path: Path, settings: Any
) -> None:
    started = time.monotonic()
    single, expected = single_worker_pass(account, child_env, tmp_path, settings)
    print(f"\none worker: settled in {time.monotonic() - started:.1f} s")
    for seeded in single:
        assert seeded.problems() == [], seeded.plan.name
        print(f"  {seeded.plan.name}: {len(seeded.postable)} postable")
    spans_before = len(work_spans())

    started = time.monotonic()
    many, found = many_workers_pass(account, child_env, tmp_path, settings)
    print(f"two workers, two schedulers: settled in {time.monotonic() - started:.1f} s")
    for seeded in many:
        assert seeded.problems() == [], seeded.plan.name

    assert found == expected
    assert overlaps_per_company() == []
    assert run_overlaps(many) == []
    runs = SyncRun.objects.filter(company__in=[c.company for c in many])
    triggers = {run.trigger for run in runs}
    assert {SyncRun.Trigger.SCHEDULE, SyncRun.Trigger.MANUAL} <= triggers
    assert not runs.filter(status=SyncRun.Status.RUNNING).exists()
    # Both workers took part: the work spans name more than one process.
    pids = {pid for _, _, _, pid, _, _ in work_spans()[spans_before:]}
    print(f"{runs.count()} runs by {len(pids)} processes; triggers {sorted(triggers)}")
    assert len(pids) >= 2
    # No run failed for want of the company (it waited instead) or for any other reason.
    assert not runs.filter(status=SyncRun.Status.FAILED).exists(), [
        run.error for run in runs.filter(status=SyncRun.Status.FAILED)
    ]
