"""Acceptance 1, in a real browser: a new MSP's first admin from the printed link to the dashboard.

`createaccount` → open the set-password link → choose a password → forced authenticator-app
enrolment (the code is computed from the setup key shown on the page) → recovery codes shown →
dashboard. Then sign out and sign in again with email, password and one recovery code.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright; run with `./dev browser`.
"""

import base64
import hashlib
import hmac
import importlib.util
import io
import re
import struct
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.core.management import call_command
from pytest_django.live_server_helper import LiveServer

from ledgerbridge.accounts.models import User

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
PASSWORD = "a long and memorable passphrase"
EMAIL = "dana@fabrikam.example"

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


def totp_code(secret: str, at: float) -> str:
    """RFC 6238 with allauth's settings (SHA-1, 30-second steps, 6 digits), as a phone app does."""
    key = base64.b32decode(secret.replace(" ", "").upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def create_account(live_server: LiveServer) -> str:
    """Run the command as an operator would and return its link, pointed at the live server."""
    out = io.StringIO()
    call_command("createaccount", "--name", "Fabrikam MSP", "--email", EMAIL, stdout=out)
    links = re.findall(r"https?://\S+", out.getvalue())
    assert len(links) == 1, f"expected one link in the output:\n{out.getvalue()}"
    link = urlsplit(links[0])
    assert "/set-password/" in link.path
    # The printed origin is SITE_ROOT; the test server listens elsewhere.
    return live_server.url + link.path


@pytest.mark.django_db(transaction=True)
def test_first_admin_sets_a_password_enrols_and_signs_in_again_with_a_recovery_code(
    live_server: LiveServer,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    link = create_account(live_server)
    base = live_server.url

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)

        # The emailed/printed link: choose a password.
        page.goto(link)
        expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
        expect(page.get_by_text(EMAIL)).to_be_visible()
        page.locator("input[name=new_password1]").fill(PASSWORD)
        page.locator("input[name=new_password2]").fill(PASSWORD)
        page.get_by_role("button", name="Set password").click()

        # The account requires two-factor: enrolment comes before anything else.
        page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
        page.goto(base + "/")
        page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
        secret = page.locator("#authenticator_secret").inner_text().strip()
        assert re.fullmatch(r"[A-Z2-7 ]{16,}=*", secret), f"not a base32 setup key: {secret!r}"
        page.locator("input[name=code]").fill(totp_code(secret, time.time()))
        page.get_by_role("button", name="Activate").click()

        # Recovery codes are shown once enrolment succeeds.
        codes = page.locator("#recovery_codes li")
        expect(codes.first).to_be_visible()
        recovery_codes = [code.strip() for code in codes.all_inner_texts()]
        assert len(recovery_codes) == 10
        page.get_by_role("link", name=re.compile("continue", re.IGNORECASE)).click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

        # Sign out, then back in with the password and a recovery code instead of the app.
        page.get_by_role("button", name="Sign out").click()
        page.goto(base + "/")
        page.wait_for_url(re.compile(r"/accounts/login/"))
        page.locator("input[name=login]").fill(EMAIL)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form").filter(has=page.locator("input[name=password]")).locator(
            "button[type=submit]"
        ).first.click()
        page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
        page.locator("input[name=code]").fill(recovery_codes[0])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        assert urlsplit(page.url).path == "/"

        browser.close()

    # Out of the browser: the code is spent, the app stays enrolled.
    dana = User.objects.get(email=EMAIL)
    assert dana.has_usable_password()
    assert Authenticator.objects.filter(user=dana, type=Authenticator.Type.TOTP).exists()
    codes_row = Authenticator.objects.get(user=dana, type=Authenticator.Type.RECOVERY_CODES)
    unused = RecoveryCodes(codes_row).get_unused_codes()
    assert recovery_codes[0] not in unused
    assert len(unused) == 9
