"""State changes for accounts and users. Views, commands and tasks call these, never the models."""

from django.db import transaction
from django.http import HttpRequest

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import audit


def do_create_account(name: str, admin: User, *, request: HttpRequest | None = None) -> Account:
    """Create an MSP's account with `admin` (unsaved or saved) as its first user."""
    with transaction.atomic():
        account = Account.objects.create(name=name.strip() or admin.email)
        admin.account = account
        admin.save()
        audit.record(
            "account.created", account=account, actor=admin, target=account, request=request
        )
    return account
