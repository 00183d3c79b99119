import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve LedgerBridge over HTTP with granian (WSGI); static files via WhiteNoise."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("LEDGERBRIDGE_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("LEDGERBRIDGE_PORT", "8000"))
        )
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("LEDGERBRIDGE_WEB_WORKERS", "1"))
        )
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("LEDGERBRIDGE_WEB_THREADS", "4"))
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from granian.constants import Interfaces
        from granian.server import Server

        self.stdout.write(
            f"LedgerBridge on http://{options['host']}:{options['port']}/ (data in {settings.HOME})"
        )
        server = Server(
            "ledgerbridge.wsgi:application",
            address=options["host"],
            port=options["port"],
            interface=Interfaces.WSGI,
            workers=options["workers"],
            blocking_threads=options["threads"],
        )
        server.serve()
