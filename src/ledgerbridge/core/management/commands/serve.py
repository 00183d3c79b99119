import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
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
        parser.add_argument(
            "--skip-collectstatic",
            action="store_true",
            help="Do not refresh LEDGERBRIDGE_HOME/static (an image that collected at build time).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from granian.constants import Interfaces
        from granian.server import Server

        if not options["skip_collectstatic"]:
            # The manifest storage needs staticfiles.json to name the hashed files; without it
            # every page fails. Collecting takes well under a second, so do it on every start.
            call_command("collectstatic", interactive=False, verbosity=0)
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
