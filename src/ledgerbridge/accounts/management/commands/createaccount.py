from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledgerbridge.accounts.actions.users import UserAdminError, do_create_account
from ledgerbridge.accounts.models import User
from ledgerbridge.accounts.tokens import set_password_url


class Command(BaseCommand):
    help = (
        "Create an MSP's account and its first account admin, and print a single-use link "
        "(valid 48 hours) where that admin chooses a password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The MSP's name, e.g. 'Northwind MSP'.")
        parser.add_argument("--email", required=True, help="The first account admin's email.")
        parser.add_argument("--first-name", default="", help="The first admin's first name.")
        parser.add_argument("--last-name", default="", help="The first admin's last name.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("Give the account a name with --name, e.g. --name 'Northwind MSP'.")
        admin = User(
            email=options["email"],
            first_name=options["first_name"].strip(),
            last_name=options["last_name"].strip(),
        )
        # No password yet: the admin chooses one from the link, then enrols a second factor.
        admin.set_unusable_password()
        try:
            account = do_create_account(name, admin)
        except UserAdminError as error:
            raise CommandError(error.message) from None
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
        self.stdout.write(
            self.style.SUCCESS(f"Created {account.name} with account admin {admin.email}.")
        )
        self.stdout.write(
            f"Send them this link to choose a password (it works once, for {hours} hours):\n"
            f"{set_password_url(admin)}"
        )
