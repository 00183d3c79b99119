"""`ledgerbridge worker`: 500 tasks, two worker processes, every task run exactly once.

The db-backend test runs on whichever database the suite uses (SQLite in the default suite,
PostgreSQL when DATABASE_URL says so); the Celery one runs in the Celery lane:

    LEDGERBRIDGE_TASKS=celery DATABASE_URL=postgres://… pytest -m celery
"""

import os
import signal
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from ledgerbridge.core import clock
from ledgerbridge.core.heartbeat import Heartbeat, beat, forget_gone_workers
from ledgerbridge.core.models import WorkerHeartbeat
from tests.tasks_fixture.processes import Process, subprocess_env, wait_until
from tests.tasks_fixture.tasks import RUNS_TABLE, create_runs_table, drop_runs_table, record_run

TASK_COUNT = 500
ALL_DONE_WITHIN = 120  # seconds; two workers finish 500 tiny tasks in a few.
# Away from db 0, which a developer's own instance uses; CELERY_BROKER_URL overrides it.
TEST_CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"


# --- heartbeat and health -------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_health_reports_the_newest_worker_heartbeat_and_its_age(client: Client) -> None:
    clock.set_now(T0)
    body = client.get("/api/v1/health").json()
    assert (body["worker"], body["worker_heartbeat_age_seconds"]) == ("never seen", None)

    beat("vm:101", "db", started_at=T0)
    clock.advance(timedelta(seconds=5))
    body = client.get("/api/v1/health").json()
    assert (body["worker"], body["worker_heartbeat_age_seconds"]) == ("ok", 5.0)

    clock.advance(timedelta(seconds=55))
    response = client.get("/api/v1/health")
    body = response.json()
    assert (body["worker"], body["worker_heartbeat_age_seconds"]) == ("stale", 60.0)
    # A stale worker is reported, but the web service itself is still up.
    assert response.status_code == 200

    beat("vm:101", "db", started_at=T0)
    assert client.get("/api/v1/health").json()["worker"] == "ok"


@pytest.mark.django_db
def test_a_live_scheduler_does_not_hide_a_missing_task_worker(client: Client) -> None:
    clock.set_now(T0)
    beat("vm:101", "scheduler", started_at=T0)
    body = client.get("/api/v1/health").json()
    assert (body["worker"], body["worker_heartbeat_age_seconds"]) == ("never seen", None)


@pytest.mark.django_db
def test_beat_keeps_one_row_per_worker() -> None:
    clock.set_now(T0)
    beat("vm:101", "db", started_at=T0)
    clock.advance(timedelta(seconds=15))
    beat("vm:101", "db", started_at=T0)
    row = WorkerHeartbeat.objects.get()
    assert (row.worker_id, row.kind, row.started_at, row.last_seen) == (
        "vm:101",
        "db",
        T0,
        T0 + timedelta(seconds=15),
    )


@pytest.mark.django_db
def test_workers_gone_for_a_week_are_forgotten() -> None:
    clock.set_now(T0)
    beat("vm:101", "db", started_at=T0)
    clock.advance(timedelta(days=8))
    beat("vm:202", "celery", started_at=clock.now())
    assert forget_gone_workers() == 1
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["vm:202"]


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_beats_at_once_and_stops_when_asked() -> None:
    beating = Heartbeat("scheduler", worker_id="vm:303", every=timedelta(seconds=60))
    beating.start()
    try:
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(worker_id="vm:303", kind="scheduler").exists(),
            timeout=10,
            processes=[],
            what="the first heartbeat",
        )
    finally:
        beating.stop()
    assert not beating._thread.is_alive()


# --- 500 tasks, two worker processes --------------------------------------------------------


@pytest.fixture
def runs_table(transactional_db: None) -> Iterator[None]:
    # Committed for real (transactional_db) so the worker processes can see it.
    create_runs_table()
    yield
    drop_runs_table()


def _runs_per_key() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT task_key, COUNT(*) FROM {RUNS_TABLE} GROUP BY task_key")  # noqa: S608
        return dict(cursor.fetchall())


def _distinct_keys_run() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(DISTINCT task_key) FROM {RUNS_TABLE}")  # noqa: S608
        return int(cursor.fetchone()[0])


def _pids_that_ran() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT pid FROM {RUNS_TABLE}")  # noqa: S608
        return {int(pid) for (pid,) in cursor.fetchall()}


def _run_500_tasks_on_two_workers(
    tmp_path: Path, worker_args: list[list[str]], env: dict[str, str]
) -> list[Process]:
    """Start the workers, wait for both heartbeats, enqueue, wait for 500 runs, stop them."""
    workers = [
        Process(["worker", *args], tmp_path / f"worker-{n}.log", env)
        for n, args in enumerate(worker_args, start=1)
    ]
    stopped = False
    try:
        worker_ids = [f"{socket.gethostname()}:{worker.pid}" for worker in workers]
        # Enqueue only once both are up, so they really compete for the same tasks.
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(worker_id__in=worker_ids).count() == 2,
            timeout=60,
            processes=workers,
            what="both workers' first heartbeat",
        )
        for n in range(TASK_COUNT):
            record_run.enqueue(key=f"task-{n}")
        wait_until(
            lambda: _distinct_keys_run() == TASK_COUNT,
            timeout=ALL_DONE_WITHIN,
            processes=workers,
            what=f"{TASK_COUNT} tasks to run",
        )
        # One stopped by SIGTERM (a supervisor), the other by SIGINT (Ctrl+C): both must let
        # a running task finish and exit 0.
        codes = [workers[0].stop(signal.SIGTERM), workers[1].stop(signal.SIGINT)]
        stopped = True
        assert codes == [0, 0], "\n".join(worker.output() for worker in workers)
    finally:
        if not stopped:
            for worker in workers:
                worker.popen.kill()
                worker.popen.wait()
    return workers


def _assert_each_task_ran_exactly_once() -> None:
    runs = _runs_per_key()
    assert len(runs) == TASK_COUNT
    ran_twice = {key: count for key, count in runs.items() if count != 1}
    assert not ran_twice, f"tasks run more than once: {ran_twice}"


def _needs_db_backend() -> None:
    if settings.TASKS_BACKEND != "db":
        pytest.skip(f"LEDGERBRIDGE_TASKS={settings.TASKS_BACKEND}; this test is for the db backend")


@pytest.mark.slow
def test_two_db_workers_on_sqlite_run_each_of_500_tasks_exactly_once(
    runs_table: None, tmp_path: Path
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip(f"runs on SQLite; this suite uses {connection.vendor} (see the Postgres test)")
    _needs_db_backend()
    _run_db_workers(tmp_path)


@pytest.mark.slow
def test_two_db_workers_on_postgres_run_each_of_500_tasks_exactly_once(
    runs_table: None, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    _needs_db_backend()
    _run_db_workers(tmp_path)


def _run_db_workers(tmp_path: Path) -> None:
    # One single-threaded worker and one with two threads: both modes race for the same rows.
    workers = _run_500_tasks_on_two_workers(
        tmp_path,
        [["--interval=0.2"], ["--interval=0.2", "--concurrency=2"]],
        subprocess_env(LEDGERBRIDGE_TASKS="db"),
    )
    _assert_each_task_ran_exactly_once()
    # Threads share their process's pid, so this says both processes took tasks.
    assert _pids_that_ran() == {worker.pid for worker in workers}
    assert set(WorkerHeartbeat.objects.values_list("kind", flat=True)) == {"db"}


@pytest.fixture
def celery_broker() -> Iterator[str]:
    if settings.TASKS_BACKEND != "celery":
        pytest.skip("Celery lane only: run with LEDGERBRIDGE_TASKS=celery (Redis on 6379)")
    from ledgerbridge.celery import app

    url = os.environ.get("CELERY_BROKER_URL") or TEST_CELERY_BROKER_URL
    # Before this process first talks to the broker, so its connection pool uses the test db.
    app.conf.update(broker_url=url, result_backend=url)
    # Messages left over from an earlier, interrupted run would be counted as runs of this one.
    app.control.purge()
    yield url
    app.control.purge()


@pytest.mark.slow
@pytest.mark.celery
def test_two_celery_workers_on_redis_run_each_of_500_tasks_exactly_once(
    runs_table: None, celery_broker: str, tmp_path: Path
) -> None:
    from ledgerbridge.core.tasks import ping

    env = subprocess_env(
        LEDGERBRIDGE_TASKS="celery",
        CELERY_BROKER_URL=celery_broker,
        CELERY_RESULT_BACKEND=celery_broker,
    )
    # `ping` is found by importing installed apps' tasks modules; record_run via TASK_MODULES.
    pinged = ping.enqueue("hello")
    _run_500_tasks_on_two_workers(
        tmp_path, [["--concurrency=2"], ["--concurrency=2", "--queues=default"]], env
    )
    _assert_each_task_ran_exactly_once()
    assert len(_pids_that_ran()) >= 2
    assert set(WorkerHeartbeat.objects.values_list("kind", flat=True)) == {"celery"}
    result = ping.get_result(pinged.id)
    assert result.status == "SUCCESSFUL"
    assert result.return_value["message"] == "hello"
