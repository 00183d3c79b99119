from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the ConnectWise, Autotask (and later Xero, QBO) simulators and /_sim/ control."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)

    def handle(self, *args: Any, **options: Any) -> None:
        from ledgerbridge_sim.__main__ import main

        self.stdout.write(f"Simulators on http://{options['host']}:{options['port']}/")
        main(["--host", options["host"], "--port", str(options["port"])])
