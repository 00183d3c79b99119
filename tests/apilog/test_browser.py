"""The API log in Chromium, by keyboard only, with no JavaScript error and no failed request.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright; run with `./dev browser` (or
`pytest -m browser tests/apilog/test_browser.py`).
"""

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.apilog.models import ApiCallRecord
from ledgerbridge.core.models import AuditEvent
from tests.apilog.conftest import logged_call

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-component-update"]
EMAIL = "erin@fabrikam.example"
PASSWORD = "a long and memorable passphrase"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None,
        reason="needs Debian's Chromium at /usr/bin/chromium and the playwright package",
    ),
]


def test_an_admin_reads_filters_and_clears_the_log_by_keyboard(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    account = Account.objects.create(name="Fabrikam MSP", two_factor_policy="optional")
    User.objects.create_user(EMAIL, PASSWORD, account=account, role="account-admin")
    logged_call(account, path="/api.xro/2.0/Accounts")
    logged_call(
        account,
        method="PUT",
        path="/api.xro/2.0/Invoices",
        status=400,
        outcome="validation",
        detailed=True,
        request_body='{"Invoices": [{"Reference": "INV-1042"}]}',
        response_body='{"Message": "A validation exception occurred"}',
    )
    problems: list[str] = []

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(f"failed {request.url}"))

        def bad_status(response: Any) -> None:
            if response.status >= 400:
                problems.append(f"{response.status} {response.url}")

        page.on("response", bad_status)

        page.goto(live_server.url + "/accounts/login/")
        page.locator("input[name=login]").fill(EMAIL)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("input[name=password]").press("Enter")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        # The dashboard loads parts of itself; let them finish rather than abort them.
        page.wait_for_load_state("networkidle")

        page.goto(live_server.url + "/account/api-log/")
        expect(page.get_by_role("heading", name="API log")).to_be_visible()
        # Filter to refused calls with the keyboard: focus the labelled select, choose, submit.
        page.get_by_label("Status").focus()
        page.keyboard.press("ArrowDown")  # Succeeded (2xx)
        page.keyboard.press("ArrowDown")  # Redirected (3xx)
        page.keyboard.press("ArrowDown")  # Refused (4xx)
        page.get_by_role("button", name="Filter").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**status=4xx**")
        rows = page.locator("table.calls-table tbody tr")
        expect(rows).to_have_count(1)
        rows.get_by_role("link").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Request body")).to_be_visible()
        expect(page.get_by_text("INV-1042")).to_be_visible()
        page.get_by_role("link", name="Back to the API log").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**status=4xx**")

        # Settings: tick detailed logging with Space, type a retention, submit with Enter.
        page.get_by_role("link", name="Log settings").first.focus()
        page.keyboard.press("Enter")
        page.get_by_label("Keep request and response bodies").focus()
        page.keyboard.press("Space")
        page.get_by_label("Keep calls for (days)").fill("7")
        page.get_by_label("Keep calls for (days)").press("Enter")
        expect(page.get_by_text("Settings saved")).to_be_visible()

        page.get_by_role("link", name="Clear logs").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Clear the API log?")).to_be_visible()
        page.get_by_role("button", name="Clear logs").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_text("Cleared 2 logged calls.")).to_be_visible()
        expect(page.get_by_role("heading", name="No calls logged yet")).to_be_visible()
        browser.close()

    assert not problems, problems
    account.refresh_from_db()
    assert (account.detailed_api_logging, account.api_log_retention_days) == (True, 7)
    assert not ApiCallRecord.objects.filter(account=account).exists()
    assert AuditEvent.objects.filter(action="api_log.cleared", account=account).exists()
