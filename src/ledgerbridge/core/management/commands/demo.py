import secrets
import subprocess
import sys
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.tasks import TaskResultStatus

from ledgerbridge.accounts.models import Account, TwoFactorPolicy, User
from ledgerbridge.accounts.roles import Role
from ledgerbridge.core import clock
from ledgerbridge.core.models import WorkerHeartbeat
from ledgerbridge.core.tasks import ping

DEMO_ACCOUNT = "Demo MSP"
DEMO_EMAIL = "demo@ledgerbridge.example"


class Command(BaseCommand):
    help = (
        "Run LedgerBridge on the embedded defaults: a demo account, a background worker, "
        "the scheduler and the web app on http://127.0.0.1:8000/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--check",
            action="store_true",
            help="Start the worker and scheduler, wait until they report in, then stop.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            # Two-factor is optional only for this local demo account, so a newcomer can look
            # around without an authenticator app; real accounts require it by default.
            account, _ = Account.objects.get_or_create(
                name=DEMO_ACCOUNT, defaults={"two_factor_policy": TwoFactorPolicy.OPTIONAL}
            )
            user = User.objects.filter(email=DEMO_EMAIL).first() or User(
                email=DEMO_EMAIL,
                account=account,
                first_name="Demo",
                last_name="Admin",
                role=Role.ACCOUNT_ADMIN,
            )
            # A fresh password every run: the demo never keeps a guessable fixed one.
            user.set_password(password)
            user.save()

        started = clock.now()
        children = [
            subprocess.Popen([sys.executable, "-m", "ledgerbridge.cli", "worker"]),
            subprocess.Popen([sys.executable, "-m", "ledgerbridge.cli", "scheduler"]),
        ]
        try:
            self._wait_for_worker(started, children)
            answer = self._round_trip_a_task()
            self.stdout.write(
                self.style.SUCCESS(
                    "Background worker and scheduler are running "
                    f"(a test task ran on {answer['worker']})."
                )
            )
            self.stdout.write(
                f"\nSign in at http://127.0.0.1:{options['port']}/ as {DEMO_EMAIL} "
                f"with password {password}\n"
            )
            if not options["check"]:
                call_command("serve", port=options["port"])
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(timeout=30)

    def _round_trip_a_task(self) -> dict[str, str]:
        result = ping.enqueue("demo")
        if not ping.get_backend().supports_get_result:
            # Celery without a result backend: the heartbeat already showed a live worker.
            return {"worker": "the background worker"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            result.refresh()
            if result.status == TaskResultStatus.SUCCESSFUL:
                return result.return_value
            if result.status == TaskResultStatus.FAILED:
                raise CommandError(f"The test task failed: {result.errors}")
            time.sleep(0.2)
        raise CommandError("The worker did not run the test task within 60 seconds.")

    def _wait_for_worker(self, started: Any, children: list[subprocess.Popen[bytes]]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                raise CommandError("A background process stopped during start-up; see above.")
            kinds = set(
                WorkerHeartbeat.objects.filter(last_seen__gte=started).values_list(
                    "kind", flat=True
                )
            )
            if "scheduler" in kinds and kinds - {"scheduler"}:
                return
            time.sleep(0.5)
        raise CommandError("The background worker did not report in within 60 seconds.")
