"""Each account's calls are purged daily once older than its own retention period."""

from datetime import UTC, datetime, timedelta

import pytest

from ledgerbridge.accounts.models import Account
from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.core import clock, scheduler
from ledgerbridge.core.scheduler import Scheduler
from ledgerbridge.core.tasks import import_task_modules
from tests.apilog.conftest import logged_call

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def aged(account: Account, days: float) -> ApiCallRecord:
    return logged_call(account, path=f"/{days}-days-old", created_at=NOW - timedelta(days=days))


def purge_work() -> scheduler.DueWork:
    import_task_modules()
    return next(w for w in scheduler.registered() if w.name == "apilog.purge_expired_calls")


def test_the_purge_is_daily_due_work_and_keeps_each_accounts_own_period(
    account: Account, other_account: Account
) -> None:
    other_account.api_log_retention_days = 3
    other_account.save()
    kept_ours = [aged(account, 1), aged(account, 13.9)]
    aged(account, 14.1)
    kept_theirs = [aged(other_account, 2.9)]
    aged(other_account, 3.1)
    aged(other_account, 13)
    clock.set_now(NOW)

    work = purge_work()
    assert work.every == timedelta(days=1)
    assert Scheduler([work]).run_once() == [work.name]

    assert set(ApiCallRecord.objects.all()) == {*kept_ours, *kept_theirs}
    # Once a day: a second tick the same day leaves even newly expired calls for tomorrow.
    clock.set_now(NOW + timedelta(hours=2))
    aged(account, 20)
    assert Scheduler([work]).run_once() == []
    assert ApiCallRecord.objects.count() == 4
    clock.set_now(NOW + timedelta(days=1))
    assert Scheduler([work]).run_once() == [work.name]
    # A day on, the 13.9-day-old call (ours) and the 2.9-day-old one (theirs) expired too.
    assert list(ApiCallRecord.objects.all()) == [kept_ours[0]]
