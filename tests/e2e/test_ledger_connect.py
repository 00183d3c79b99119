"""Acceptance 1 (ledger connections), in a real browser against the simulators on a real port.

An account admin signs in, connects one company to Xero through the simulator's consent page
(ticking the organisation, pressing Allow) and another to QuickBooks (choosing the company).
Both clocks then move past the access tokens' expiry: "Check connection" refreshes and still
works. Finally LedgerBridge is made to hold a refresh token Xero rotated away more than 30
minutes ago (restored from before the rotation, as a backup would): "Check connection" marks
the connection disconnected, and the page says why and offers Reconnect.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright; run with `./dev browser`.
"""

import importlib.util
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_django.live_server_helper import LiveServer

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.companies.models import Company, LedgerConnection
from ledgerbridge.core import clock
from tests.companies.conftest import QBO_US, XERO_AU, point_settings_at

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
EMAIL = "dana@fabrikam.example"
PASSWORD = "a long and memorable passphrase"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None,
        reason=(
            "needs Debian's Chromium at /usr/bin/chromium and the playwright package "
            "(./dev browser installs both)"
        ),
    ),
]


def move_clocks(sim_url: str, seconds: int) -> None:
    """Advance the simulator's virtual clock and LedgerBridge's together."""
    moved = httpx.post(f"{sim_url}/_sim/clock", json={"advance_seconds": seconds})
    assert moved.status_code == 200
    clock.advance(timedelta(seconds=seconds))


@pytest.mark.django_db(transaction=True)
def test_admin_connects_xero_and_quickbooks_refreshes_and_sees_a_dead_sign_in(
    live_server: LiveServer, simulator_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test reads and changes rows
    # between clicks (the server runs in its own thread), which Django allows when told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    point_settings_at(settings, simulator_url)
    # The clocks jump by hours; the admin is not signed out meanwhile.
    settings.SESSION_IDLE_TIMEOUT = settings.SESSION_ABSOLUTE_TIMEOUT = 7 * 24 * 3600
    now = datetime.now(UTC).replace(microsecond=0)
    clock.set_now(now)
    httpx.post(f"{simulator_url}/_sim/clock", json={"set": now.isoformat(), "frozen": True})

    account = Account.objects.create(name="Fabrikam MSP", two_factor_policy="optional")
    User.objects.create_user(EMAIL, PASSWORD, account=account, role="account-admin")
    books_au = Company.objects.create(account=account, name="Fabrikam Books AU")
    books_us = Company.objects.create(account=account, name="Fabrikam Books US")
    base = live_server.url

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)

        page.goto(base + "/accounts/login/")
        page.locator("input[name=login]").fill(EMAIL)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form").filter(has=page.locator("input[name=password]")).locator(
            "button[type=submit]"
        ).first.click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

        # Xero: the consent page offers every organisation; tick one and allow.
        page.goto(base + "/companies/")
        page.get_by_role("link", name="Fabrikam Books AU").click()
        page.get_by_role("button", name="Connect to Xero").click()
        page.wait_for_url(re.compile(re.escape(simulator_url) + r"/xero/identity/connect/"))
        expect(page.get_by_role("heading", name=re.compile("connect to Xero"))).to_be_visible()
        page.get_by_label(XERO_AU[1]).check()
        page.get_by_role("button", name="Allow access").click()
        page.wait_for_url(f"{base}/companies/{books_au.pk}/")
        expect(page.get_by_test_id("connection-status")).to_contain_text(XERO_AU[1])
        expect(page.get_by_text("Connected “Fabrikam Books AU” to Xero")).to_be_visible()

        # QuickBooks: one company per consent; the realmId comes back on the redirect.
        page.goto(f"{base}/companies/{books_us.pk}/")
        page.get_by_role("button", name="Connect to QuickBooks").click()
        page.wait_for_url(re.compile(re.escape(simulator_url) + r"/qbo/connect/oauth2"))
        page.get_by_label(QBO_US[1]).check()
        page.get_by_role("button", name="Allow access").click()
        page.wait_for_url(f"{base}/companies/{books_us.pk}/")
        expect(page.get_by_test_id("connection-status")).to_contain_text(QBO_US[1])

        xero = LedgerConnection.objects.get(company=books_au)
        assert (xero.system, xero.organisation_id) == ("xero", XERO_AU[0])
        qbo = LedgerConnection.objects.get(company=books_us)
        assert (qbo.system, qbo.organisation_id) == ("qbo", QBO_US[0])

        # Past both access tokens' lifetimes: checking refreshes and still reaches the ledger.
        move_clocks(simulator_url, 4000)
        page.get_by_role("button", name="Check connection").click()
        expect(
            page.get_by_role("status").get_by_text(f"Connected to QuickBooks: {QBO_US[1]}.")
        ).to_be_visible()
        page.goto(f"{base}/companies/{books_au.pk}/")
        before_rotation = LedgerConnection.objects.get(pk=xero.pk).refresh_token
        page.get_by_role("button", name="Check connection").click()
        expect(
            page.get_by_role("status").get_by_text(f"Connected to Xero: {XERO_AU[1]}.")
        ).to_be_visible()
        rotated = LedgerConnection.objects.get(pk=xero.pk)
        assert rotated.last_refreshed_at is not None
        assert rotated.refresh_token != before_rotation

        # LedgerBridge holds the pre-rotation refresh token, and Xero's 30-minute grace is over.
        LedgerConnection.objects.filter(pk=xero.pk).update(
            refresh_token=before_rotation, access_expires_at=clock.now()
        )
        move_clocks(simulator_url, 31 * 60)
        page.get_by_role("button", name="Check connection").click()
        banner = page.get_by_test_id("disconnected-banner")
        expect(banner).to_contain_text(
            f"Xero no longer accepts LedgerBridge's sign-in for {XERO_AU[1]}; reconnect."
        )
        expect(banner.get_by_role("button", name="Reconnect to Xero")).to_be_visible()

        browser.close()

    ended = LedgerConnection.objects.get(pk=xero.pk)
    assert not ended.is_connected and ended.refresh_token is None
    assert LedgerConnection.objects.get(pk=qbo.pk).is_connected
