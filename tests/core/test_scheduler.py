import logging
import signal
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from ledgerbridge.core import clock, leases, scheduler
from ledgerbridge.core.models import DueWorkState, WorkerHeartbeat
from ledgerbridge.core.scheduler import DueWork, Scheduler, due_work
from ledgerbridge.core.tasks import import_task_modules
from tests.tasks_fixture.processes import Process, subprocess_env, wait_until

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def empty_registry() -> Iterator[None]:
    # Apps' own due work is imported first, so a command's import_task_modules() adds nothing.
    import_task_modules()
    saved = dict(scheduler._registry)
    scheduler._registry.clear()
    yield
    scheduler._registry.clear()
    scheduler._registry.update(saved)


def counting(name: str, calls: Counter[str]) -> Callable[[], None]:
    def fn() -> None:
        calls[name] += 1

    return fn


def test_slots_are_aligned_to_the_epoch() -> None:
    work = DueWork("sync", lambda: None, every=timedelta(minutes=15))
    assert work.slot_at(NOON + timedelta(minutes=29, seconds=59)) == NOON + timedelta(minutes=15)
    assert work.slot_at(NOON + timedelta(minutes=30)) == NOON + timedelta(minutes=30)
    daily = DueWork("prune", lambda: None, every=timedelta(days=1))
    assert daily.slot_at(NOON) == NOON.replace(hour=0)


def test_every_must_be_at_least_a_second() -> None:
    with pytest.raises(ValueError, match="at least one second"):
        DueWork("busy", lambda: None, every=timedelta(milliseconds=10))


def test_decorator_registers_and_a_name_cannot_be_taken_twice(empty_registry: None) -> None:
    @due_work("enqueue-syncs", every=MINUTE)
    def enqueue_syncs() -> None: ...

    assert [(w.name, w.fn, w.every) for w in scheduler.registered()] == [
        ("enqueue-syncs", enqueue_syncs, MINUTE)
    ]
    with pytest.raises(ValueError, match="already registered"):
        scheduler.register("enqueue-syncs", lambda: None, MINUTE)


@pytest.mark.django_db
def test_runs_once_per_slot_as_the_clock_moves(empty_registry: None) -> None:
    calls: Counter[str] = Counter()
    scheduler.register("every-minute", counting("every-minute", calls), MINUTE)
    scheduler.register("hourly", counting("hourly", calls), timedelta(hours=1))
    runner = Scheduler()

    clock.set_now(NOON + timedelta(seconds=10))
    assert runner.run_once() == ["every-minute", "hourly"]  # never run: due at once
    assert runner.run_once() == []

    clock.advance(timedelta(seconds=45))  # 12:00:55, same slots
    assert runner.run_once() == []

    clock.advance(timedelta(seconds=10))  # 12:01:05, a new minute
    assert runner.run_once() == ["every-minute"]

    clock.advance(timedelta(hours=3))  # missed slots are not caught up: one run each
    assert runner.run_once() == ["every-minute", "hourly"]
    assert calls == {"every-minute": 3, "hourly": 2}

    state = DueWorkState.objects.get(name="every-minute")
    assert (state.last_slot, state.run_count, state.last_outcome) == (
        NOON + timedelta(hours=3, minutes=1),
        3,
        "ok",
    )


@pytest.mark.django_db
def test_a_failing_function_is_logged_and_the_others_still_run(
    empty_registry: None, caplog: pytest.LogCaptureFixture
) -> None:
    calls: Counter[str] = Counter()

    def broken() -> None:
        raise RuntimeError("Xero said no")

    scheduler.register("a-broken", broken, MINUTE)
    scheduler.register("b-fine", counting("b-fine", calls), MINUTE)
    clock.set_now(NOON)

    with caplog.at_level(logging.ERROR, logger="ledgerbridge.core.scheduler"):
        assert Scheduler().run_once() == ["a-broken", "b-fine"]

    assert calls == {"b-fine": 1}
    [record] = caplog.records
    assert record.getMessage() == "Due work a-broken failed"
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)
    state = DueWorkState.objects.get(name="a-broken")
    assert (state.last_outcome, state.failure_count, state.run_count) == ("failed", 1, 1)
    assert "RuntimeError: Xero said no" in state.last_error
    # The failed slot is spent; the next slot tries again.
    assert Scheduler().run_once() == []
    clock.advance(MINUTE)
    assert Scheduler().run_once() == ["a-broken", "b-fine"]
    assert DueWorkState.objects.get(name="a-broken").failure_count == 2


@pytest.mark.django_db
def test_a_run_still_holding_its_lease_is_not_joined(empty_registry: None) -> None:
    calls: Counter[str] = Counter()
    work = scheduler.register("slow", counting("slow", calls), MINUTE, timeout=timedelta(minutes=5))
    clock.set_now(NOON)
    # Another scheduler is still inside this function (from an earlier slot).
    assert leases.acquire(work.lease_name, "other-scheduler", work.timeout)

    assert Scheduler().run_once() == []
    clock.advance(timedelta(minutes=5))  # its lease ran out: it died, or overran its timeout
    assert Scheduler().run_once() == ["slow"]
    assert leases.holder_of(work.lease_name) is None  # released after the run


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_run_each_function_once_per_slot(empty_registry: None) -> None:
    calls: Counter[tuple[str, datetime]] = Counter()
    lock = threading.Lock()

    def make(name: str) -> Callable[[], None]:
        def fn() -> None:
            with lock:
                calls[(name, clock.now())] += 1

        return fn

    works = [scheduler.register(f"work-{n}", make(f"work-{n}"), MINUTE) for n in range(5)]
    moments = [NOON + n * MINUTE + timedelta(seconds=1) for n in range(5)]
    # The main thread and two schedulers: each slot, both schedulers tick at the same moment.
    barrier = threading.Barrier(3, timeout=30)
    errors: list[BaseException] = []

    def scheduler_thread() -> None:
        runner = Scheduler(works)
        try:
            for _ in moments:
                barrier.wait()  # the clock has moved to the next slot
                runner.run_once()
                barrier.wait()  # both are done; the clock may move
        except BaseException as error:
            errors.append(error)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for moment in moments:
            clock.set_now(moment)
            barrier.wait()
            barrier.wait()
    finally:
        for thread in threads:
            thread.join(timeout=60)
    assert not errors
    assert calls == {(w.name, moment): 1 for w in works for moment in moments}


@pytest.mark.django_db
def test_scheduler_command_once_runs_what_is_due(
    empty_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: Counter[str] = Counter()
    scheduler.register("ping-psa", counting("ping-psa", calls), MINUTE)
    clock.set_now(NOON)
    call_command("scheduler", "--once")
    call_command("scheduler", "--once")
    assert calls == {"ping-psa": 1}
    out = capsys.readouterr().out
    assert "Ran: ping-psa" in out
    assert "Ran: nothing was due" in out


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_scheduler_process_beats_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process = Process(["scheduler", "--interval=0.2"], tmp_path / "scheduler.log", subprocess_env())
    try:
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(
                worker_id=f"{socket.gethostname()}:{process.pid}", kind="scheduler"
            ).exists(),
            timeout=30,
            processes=[process],
            what="the scheduler's heartbeat",
        )
    finally:
        code = process.stop(signal.SIGTERM)
    assert code == 0, process.output()
    assert "Scheduler stopped." in process.output()
