"""The `ledgerbridge` command: Django's management commands under the project's name.

`ledgerbridge migrate`, `serve`, `worker`, `scheduler`, `createsuperuser`, `rotate-keys`, …
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerbridge.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    # Commands with dashes read better on a command line; Django's modules use underscores.
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    args[0] = "ledgerbridge"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
