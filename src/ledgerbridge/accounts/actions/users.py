"""Accounts and their members: creation, invitations, roles, disabling."""

from django.db import transaction
from django.http import HttpRequest

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.accounts.roles import Role
from ledgerbridge.core import audit


def do_create_account(name: str, admin: User, *, request: HttpRequest | None = None) -> Account:
    """Create an MSP's account with `admin` (unsaved or saved) as its first user."""
    with transaction.atomic():
        account = Account.objects.create(name=name.strip() or admin.email)
        admin.account = account
        admin.role = Role.ACCOUNT_ADMIN
        admin.save()
        audit.record(
            "account.created", account=account, actor=admin, target=account, request=request
        )
    return account
