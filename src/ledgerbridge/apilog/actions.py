"""State changes of the API call log: its settings, clearing it, and the daily purge.

Settings and clearing are the account-admin's, each one transaction with its audit event; the
purge is the scheduler's (`tasks.py`).
"""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from ledgerbridge.accounts import access
from ledgerbridge.accounts.models import Account
from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.core import clock

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 90


def _account(request: HttpRequest) -> Account:
    account = access.membership(request).account
    if account is None:
        raise PermissionDenied
    return account


def do_update_api_log_settings(
    request: HttpRequest, *, detailed_logging: bool, retention_days: int
) -> bool:
    """Switch detailed logging and set how long calls are kept; False when nothing changed."""
    if not MIN_RETENTION_DAYS <= retention_days <= MAX_RETENTION_DAYS:
        raise ValueError(f"retention of {retention_days} days is out of range")
    account = _account(request)
    with transaction.atomic():
        current = Account.objects.select_for_update().get(pk=account.pk)
        before = {
            "detailed_api_logging": current.detailed_api_logging,
            "api_log_retention_days": current.api_log_retention_days,
        }
        after = {"detailed_api_logging": detailed_logging, "api_log_retention_days": retention_days}
        if before == after:
            return False
        current.detailed_api_logging = detailed_logging
        current.api_log_retention_days = retention_days
        current.save(update_fields=list(after))
        changed = {key: {"from": before[key], "to": value} for key, value in after.items()}
        access.record(
            request,
            "api_log.settings_changed",
            target=current,
            details={key: diff for key, diff in changed.items() if diff["from"] != diff["to"]},
        )
    account.detailed_api_logging = detailed_logging
    account.api_log_retention_days = retention_days
    return True


def do_clear_api_log(request: HttpRequest) -> int:
    """Delete every logged call of the account in play; returns how many were deleted."""
    account = _account(request)
    with transaction.atomic():
        deleted, _ = ApiCallRecord.objects.filter(account=account).delete()
        access.record(request, "api_log.cleared", target=account, details={"calls": deleted})
    return deleted


def purge_expired_calls(now: datetime | None = None) -> int:
    """Delete calls older than their account's retention period; returns how many went.

    One DELETE per distinct retention setting, however many accounts there are.
    """
    now = now or clock.now()
    settings = Account.objects.values_list("api_log_retention_days", flat=True).distinct()
    deleted = 0
    for days in sorted(set(settings)):
        count, _ = ApiCallRecord.objects.filter(
            account__api_log_retention_days=days, created_at__lt=now - timedelta(days=days)
        ).delete()
        deleted += count
    return deleted
