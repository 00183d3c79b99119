import json
import logging
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledgerbridge.demo import runs
from ledgerbridge.demo.background import Background, BackgroundError
from ledgerbridge.demo.scenario import Scenario
from ledgerbridge.demo.setup import DEMO_EMAIL, ensure_demo_user
from ledgerbridge.demo.simulators import SimulatorStartError


class Command(BaseCommand):
    help = (
        "The whole product on this machine: the vendor simulators, a demo MSP with four "
        "companies, Sync All, payments back, a summary; then the web app on "
        "http://127.0.0.1:8000/ with a worker and the scheduler until interrupted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="The web app's port.")
        parser.add_argument(
            "--sim-port",
            type=int,
            default=8900,
            help="The simulators' port (0: any free port).",
        )
        parser.add_argument(
            "--once", action="store_true", help="Stop after the summary instead of serving."
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the summary as JSON on stdout (progress goes to stderr).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only start the worker and scheduler, wait until they report in, then stop.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, password = ensure_demo_user()
        sign_in = (
            f"Sign in at http://127.0.0.1:{options['port']}/ as {DEMO_EMAIL} "
            f"with password {password}"
        )
        if options["check"]:
            self._check(sign_in)
            return
        # Every simulator call would otherwise be an INFO line between the progress bars.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        as_json = options["json"]
        # With --json, stdout carries only the JSON; everything for people goes to stderr.
        human = sys.stderr if as_json else self.stdout

        def say(text: str) -> None:
            human.write(text + "\n")
            human.flush()

        scenario = Scenario(
            user=user,
            sim_port=options["sim_port"],
            ui_port=options["port"],
            say=say,
            progress=sys.stderr,
        )
        try:
            try:
                summary = scenario.run()
            except (SimulatorStartError, BackgroundError, runs.DemoRunError) as error:
                raise CommandError(str(error)) from None
            summary["sign_in"] = {
                "url": f"http://127.0.0.1:{options['port']}/",
                "email": DEMO_EMAIL,
                "password": password,
            }
            if as_json:
                self.stdout.write(json.dumps(_jsonable(summary), indent=2, default=str))
            else:
                runs.write_text(
                    self.stdout, summary["companies"], summary["api_calls"], summary["seconds"]
                )
            say(f"\n{sign_in}")
            if not options["once"]:
                say("Serving until interrupted (Ctrl+C); the simulators and worker keep running.")
                call_command("serve", port=options["port"])
        finally:
            scenario.close()

    def _check(self, sign_in: str) -> None:
        background = Background().start()
        try:
            background.wait_until_ready()
            answer = background.round_trip_a_task()
        except BackgroundError as error:
            raise CommandError(str(error)) from None
        finally:
            background.stop()
        self.stdout.write(
            self.style.SUCCESS(
                "Background worker and scheduler are running "
                f"(a test task ran on {answer['worker']})."
            )
        )
        self.stdout.write(f"\n{sign_in}\n")


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        **summary,
        "companies": [company.as_json() for company in summary["companies"]],
    }
