"""Driving workers and the scheduler's sweeps from a test, and reading what the runs did."""

import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from ledgerbridge.sync import tasks
from ledgerbridge.sync.models import SyncRecord, SyncRun
from tests.tasks_fixture.processes import Process

ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


def start_worker(log_dir: Path, name: str, env: dict[str, str], *extra: str) -> Process:
    args = ["worker", *extra]
    if settings.TASKS_BACKEND == "db":
        args.append("--interval=0.2")
    elif not any(arg.startswith("--pool") for arg in extra):
        # One process: `kill -9` takes the whole worker down, as it would a container.
        args.append("--pool=solo")
    return Process(args, log_dir / f"{name}.log", env)


def kill_9(process: Process) -> None:
    """SIGKILL: no signal handler, no `finally`, no goodbye to the database or the broker."""
    process.stop(signal.SIGKILL)


def sweep() -> None:
    """What the scheduler's due work does, called now instead of on its minute slots: finish
    runs whose worker died (lease lapsed) and queue their successors, and hand waiting runs
    to a worker again."""
    tasks.resume_abandoned_runs()
    tasks.requeue_waiting_runs()


def active_runs() -> int:
    return SyncRun.objects.filter(status__in=ACTIVE).count()


def describe_runs() -> str:
    """The runs and the records' states, for a failure message."""
    lines = [
        f"run {run.pk} {run.trigger} {run.status} {run.started_at:%H:%M:%S.%f} counts={run.counts}"
        f" {run.error[:200]}"
        if run.started_at
        else f"run {run.pk} {run.trigger} {run.status}"
        for run in SyncRun.objects.order_by("pk")
    ]
    states = Counter(SyncRecord.objects.values_list("state", flat=True))
    errors = Counter(
        SyncRecord.objects.exclude(error_message="").values_list("error_message", flat=True)
    )
    lines.append(f"records: {dict(states)}")
    lines += [f"  {count} x {message[:300]}" for message, count in errors.most_common(5)]
    return "\n".join(lines[-60:])


def now() -> datetime:
    return datetime.now(UTC)
