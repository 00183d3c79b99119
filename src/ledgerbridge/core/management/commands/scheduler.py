import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ledgerbridge.core import scheduler
from ledgerbridge.core.heartbeat import heartbeat
from ledgerbridge.core.tasks import import_task_modules


class Command(BaseCommand):
    help = (
        "Call registered due-work functions when they are due. Any number of schedulers may run "
        "at once; each function still runs once per slot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=settings.SCHEDULER_INTERVAL_SECONDS,
            help="Seconds between checks (default: %(default)s, LEDGERBRIDGE_SCHEDULER_INTERVAL).",
        )
        parser.add_argument(
            "--once", action="store_true", help="Run whatever is due now, then exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import_task_modules()
        works = scheduler.registered()
        self.stdout.write(
            f"Scheduler: {len(works)} due-work function(s): "
            + (", ".join(f"{w.name} every {w.every}" for w in works) or "none registered")
        )
        runner = scheduler.Scheduler()
        if options["once"]:
            ran = runner.run_once()
            self.stdout.write(f"Ran: {', '.join(ran) or 'nothing was due'}")
            return

        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            # Finish the function in hand, then leave; its lease is released on the way out.
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        with heartbeat("scheduler"):
            runner.run_forever(options["interval"], stop)
        self.stdout.write("Scheduler stopped.")
