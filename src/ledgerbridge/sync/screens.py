"""State changes the sync screens need that the engine's actions do not cover.

The record and run actions live in `sync.actions`; this module holds only what belongs to the
screens themselves, each a function that owns its transaction and audit event.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from ledgerbridge.accounts import access
from ledgerbridge.accounts.models import Account


def set_sync_all_shown(request: HttpRequest, *, shown: bool) -> bool:
    """Show or hide the Sync screen's "Sync All" button for the whole account.

    Returns whether anything changed (saving the same choice again records nothing).
    """
    account = access.membership(request).account
    if account is None:
        raise PermissionDenied
    with transaction.atomic():
        changed = (
            Account.objects.filter(pk=account.pk)
            .exclude(show_sync_all=shown)
            .update(show_sync_all=shown)
        )
        if changed:
            access.record(
                request,
                "account.sync_all_shown" if shown else "account.sync_all_hidden",
                target=account,
                details={"show_sync_all": shown},
            )
    account.show_sync_all = shown
    return bool(changed)
