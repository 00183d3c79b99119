import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from ledgerbridge.core.heartbeat import heartbeat, this_worker_id
from ledgerbridge.core.tasks import import_task_modules

logger = logging.getLogger("ledgerbridge.worker")


class Command(BaseCommand):
    help = (
        "Run background tasks for the configured backend (LEDGERBRIDGE_TASKS): the database "
        "worker for db, a Celery worker for celery. Stops cleanly on SIGTERM or Ctrl+C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queues",
            default="default",
            help="Comma-separated queue names to take tasks from (default: %(default)s).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Tasks run at once: threads for db (default 1), pool processes for celery "
            "(default: number of CPUs).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="db: seconds to wait before looking again when the queue is empty.",
        )
        parser.add_argument(
            "--pool", default=None, help="celery: pool implementation (prefork, threads, solo)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backend = settings.TASKS_BACKEND
        if backend not in {"db", "celery"}:
            raise CommandError(
                f"LEDGERBRIDGE_TASKS={backend}: tasks run where they are enqueued; "
                "there is nothing for a worker to do."
            )
        queues = [name.strip() for name in options["queues"].split(",") if name.strip()]
        if not queues:
            raise CommandError("--queues needs at least one queue name")
        concurrency = options["concurrency"]
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency must be at least 1")
        # Celery registers a task only when its module is imported; do it before any message.
        import_task_modules()

        with heartbeat(backend):
            if backend == "db":
                run_db_workers(queues, concurrency or 1, options["interval"])
            else:
                argv = ["worker", f"--queues={','.join(queues)}"]
                if concurrency:
                    argv.append(f"--concurrency={concurrency}")
                if options["pool"]:
                    argv.append(f"--pool={options['pool']}")
                run_celery_worker(argv, options["verbosity"])
        logger.info("Worker stopped")


def run_db_workers(queues: list[str], concurrency: int, interval: float) -> None:
    """django_tasks_db's Worker in `concurrency` threads; the main thread handles signals."""
    from django_tasks_db.management.commands.db_worker import Worker

    base_id = this_worker_id()
    workers = [
        Worker(
            queue_names=queues,
            interval=interval,
            batch=False,
            backend_name="default",
            startup_delay=True,
            max_tasks=None,
            # Recorded on each task result; db_worker allows at most 64 characters.
            worker_id=(base_id if concurrency == 1 else f"{base_id}#{n}")[-64:],
            excluded_queue_names=[],
        )
        for n in range(1, concurrency + 1)
    ]
    stopping = threading.Event()
    crashed: list[BaseException] = []

    def stop_all() -> None:
        stopping.set()
        for worker in workers:
            # Each Worker checks this between tasks and after its idle sleep.
            worker.running = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            logger.warning(
                "Second %s: stopping without waiting for tasks", signal.strsignal(signum)
            )
            raise SystemExit(1)
        logger.warning("%s: finishing running tasks, then stopping", signal.strsignal(signum))
        stop_all()

    def run(worker: Worker) -> None:
        try:
            worker.run()
        except BaseException as error:
            crashed.append(error)
            logger.exception("Worker thread %s crashed", worker.worker_id)
            stop_all()
        finally:
            connection.close()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info("db worker %s: %d thread(s) on queues %s", base_id, concurrency, ",".join(queues))
    # Daemon threads: a second signal ends the process even with a task mid-way.
    threads = [
        threading.Thread(target=run, args=(worker,), name=worker.worker_id, daemon=True)
        for worker in workers
    ]
    for thread in threads:
        thread.start()
    # Join with a timeout so the main thread keeps waking up to handle signals.
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=0.5)
    if crashed:
        raise CommandError(f"A worker thread crashed: {crashed[0]!r}")


def run_celery_worker(argv: list[str], verbosity: int) -> None:
    """A Celery worker for ledgerbridge.celery.app; Celery handles SIGTERM/SIGINT (warm stop)."""
    from ledgerbridge.celery import app

    argv = [
        *argv,
        # Unique node name per process, so two workers on one host don't collide.
        f"--hostname=ledgerbridge-{os.getpid()}@%h",
        f"--loglevel={'WARNING' if verbosity == 0 else 'INFO' if verbosity == 1 else 'DEBUG'}",
        # Mingle and gossip sync revokes and clocks between workers; we use neither, and mingle
        # adds seconds to every start.
        "--without-mingle",
        "--without-gossip",
    ]
    app.worker_main(argv)
