"""The API log screens as an account-admin uses them: list, filters, paging, one call,
settings and "Clear logs"."""

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from tests.apilog.conftest import logged_call

pytestmark = pytest.mark.django_db

CALLS = reverse("apilog:calls")


def paths_on(page: str) -> list[str]:
    """The calls listed on a page, top to bottom, as "METHOD path"."""
    return re.findall(r"<code>([A-Z]+ [^<]+)</code>", page)


def link(page: str, label: str) -> str:
    found = re.search(rf'href="([^"]+)">{label}</a>', page)
    assert found, f"no {label} link"
    return found.group(1).replace("&amp;", "&")


def test_an_empty_log_says_what_will_appear(admin_client: Client) -> None:
    page = admin_client.get(CALLS).content.decode()
    assert "No calls logged yet" in page
    assert "Detailed logging is off" in page
    assert "Clear logs" not in page


def test_calls_are_listed_newest_first_with_status_and_duration(
    admin_client: Client, account: Account
) -> None:
    logged_call(account, path="/api.xro/2.0/Accounts", duration_ms=81)
    logged_call(
        account, method="PUT", path="/api.xro/2.0/Invoices", status=400, outcome="validation"
    )
    logged_call(account, path="/api.xro/2.0/Contacts", status=None, outcome="transient")

    page = admin_client.get(CALLS).content.decode()

    assert paths_on(page) == [
        "GET /api.xro/2.0/Contacts",
        "PUT /api.xro/2.0/Invoices",
        "GET /api.xro/2.0/Accounts",
    ]
    assert "81 ms" in page
    assert "no answer" in page and "Vendor or network fault" in page
    assert "Refused what was sent" in page


def test_filters_narrow_by_connection_status_class_and_vendor(
    admin_client: Client, account: Account
) -> None:
    logged_call(account, path="/xero-ok")
    logged_call(account, path="/xero-refused", status=404, outcome="not_found")
    logged_call(account, path="/xero-down", status=503, outcome="transient")
    logged_call(
        account,
        connection="ConnectWise PSA: Main",
        vendor="ConnectWise",
        path="/cw-ok",
    )

    def listed(**query: str) -> list[str]:
        page = admin_client.get(CALLS, query).content.decode()
        return sorted(path.split()[1] for path in paths_on(page))

    assert listed(connection="ConnectWise PSA: Main") == ["/cw-ok"]
    assert listed(status="4xx") == ["/xero-refused"]
    assert listed(status="5xx") == ["/xero-down"]
    assert listed(status="2xx", vendor="Xero") == ["/xero-ok"]
    assert listed(vendor="ConnectWise") == ["/cw-ok"]
    page = admin_client.get(CALLS, {"status": "7xx"}).content.decode()
    assert paths_on(page) == [] and "Select a valid choice" in page


def test_pages_go_older_and_back_newer_without_repeating_a_call(
    admin_client: Client, account: Account
) -> None:
    for number in range(1, 121):
        logged_call(account, path=f"/call-{number}")

    first = admin_client.get(CALLS).content.decode()
    assert paths_on(first)[0] == "GET /call-120" and len(paths_on(first)) == 50
    assert "Newer" not in first
    second = admin_client.get(link(first, "Older")).content.decode()
    assert paths_on(second)[0] == "GET /call-70" and paths_on(second)[-1] == "GET /call-21"
    third = admin_client.get(link(second, "Older")).content.decode()
    assert [p.split()[1] for p in paths_on(third)] == [f"/call-{n}" for n in range(20, 0, -1)]
    assert "Older" not in third
    back = admin_client.get(link(third, "Newer")).content.decode()
    assert paths_on(back) == paths_on(second)
    newest = admin_client.get(link(back, "Newer")).content.decode()
    assert paths_on(newest) == paths_on(first)


def test_paging_keeps_the_filter(admin_client: Client, account: Account) -> None:
    for number in range(60):
        logged_call(account, path=f"/refused-{number}", status=422, outcome="validation")
        logged_call(account, path=f"/fine-{number}")
    first = admin_client.get(CALLS, {"status": "4xx"}).content.decode()
    second = admin_client.get(link(first, "Older")).content.decode()
    assert len(paths_on(second)) == 10
    assert all("/refused-" in path for path in paths_on(first) + paths_on(second))


def test_a_detailed_call_shows_its_redacted_bodies(admin_client: Client, account: Account) -> None:
    call = logged_call(
        account,
        method="PUT",
        path="/api.xro/2.0/Contacts",
        detailed=True,
        query="summarizeErrors=false",
        request_body='{"Contacts": [{"Name": "Fabrikam Dental"}], "client_secret": "[redacted]"}',
        response_body='{"Status": "OK"}',
        response_headers={"x-rate-limit-problem": "minute"},
    )
    page = html.unescape(admin_client.get(reverse("apilog:call", args=[call.pk])).content.decode())
    assert "Fabrikam Dental" in page and '"client_secret": "[redacted]"' in page
    assert "summarizeErrors=false" in page
    assert "x-rate-limit-problem" in page
    assert "were masked" in page


def test_a_summary_only_call_says_why_it_has_no_bodies(
    admin_client: Client, account: Account
) -> None:
    call = logged_call(account)
    page = admin_client.get(reverse("apilog:call", args=[call.pk])).content.decode()
    assert "Detailed logging was off when this call was made" in page


def test_settings_switch_detailed_logging_and_retention_audited(
    admin_client: Client, account: Account, alice: User
) -> None:
    response = admin_client.post(
        reverse("apilog:settings"),
        {"detailed_logging": "on", "retention_days": "30"},
        follow=True,
    )
    page = response.content.decode()
    assert "Settings saved" in page and "Detailed logging is <strong>on</strong>" in page
    account.refresh_from_db()
    assert (account.detailed_api_logging, account.api_log_retention_days) == (True, 30)
    event = AuditEvent.objects.get(action="api_log.settings_changed")
    assert (event.actor, event.account) == (alice, account)
    assert event.details == {
        "detailed_api_logging": {"from": False, "to": True},
        "api_log_retention_days": {"from": 14, "to": 30},
    }
    again = admin_client.post(
        reverse("apilog:settings"), {"detailed_logging": "on", "retention_days": "30"}, follow=True
    )
    assert "Nothing changed." in again.content.decode()
    assert AuditEvent.objects.filter(action="api_log.settings_changed").count() == 1


def test_an_impossible_retention_is_refused_with_a_reason(
    admin_client: Client, account: Account
) -> None:
    response = admin_client.post(reverse("apilog:settings"), {"retention_days": "0"})
    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    account.refresh_from_db()
    assert account.api_log_retention_days == 14


def test_clear_logs_asks_first_then_clears_only_this_account(
    admin_client: Client, account: Account, other_account: Account, alice: User
) -> None:
    logged_call(account)
    logged_call(account)
    theirs = logged_call(other_account, connection="Xero: Contoso")

    confirm = admin_client.get(reverse("apilog:clear")).content.decode()
    assert "This deletes all 2 logged calls" in confirm
    assert ApiCallRecord.objects.filter(account=account).count() == 2

    done = admin_client.post(reverse("apilog:clear"), follow=True).content.decode()

    assert "Cleared 2 logged calls." in done
    assert not ApiCallRecord.objects.filter(account=account).exists()
    assert ApiCallRecord.objects.filter(pk=theirs.pk).exists()
    event = AuditEvent.objects.get(action="api_log.cleared")
    assert (event.actor, event.account, event.details) == (alice, account, {"calls": 2})


def test_another_accounts_calls_are_neither_listed_nor_offered_as_filters(
    admin_client: Client, account: Account, other_account: Account
) -> None:
    logged_call(account)
    theirs = logged_call(other_account, connection="Xero: Contoso Ledger", path="/contoso-only")
    page = admin_client.get(CALLS).content.decode()
    assert "contoso" not in page.lower()
    assert admin_client.get(reverse("apilog:call", args=[theirs.pk])).status_code == 404


def test_a_user_without_the_permission_is_refused(client: Client, bob: User) -> None:
    client.force_login(bob)
    assert client.get(CALLS).status_code == 403
    assert client.post(reverse("apilog:clear")).status_code == 403


def test_times_are_shown_in_utc(admin_client: Client, account: Account) -> None:
    moment = clock.now().replace(microsecond=0) - timedelta(hours=3)
    logged_call(account, created_at=moment)
    page = admin_client.get(CALLS).content.decode()
    assert moment.strftime("%Y-%m-%d %H:%M:%S") in page
