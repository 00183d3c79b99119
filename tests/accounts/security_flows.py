"""Helpers for the security tests: real allauth sign-ins, authenticator codes, allauth's time.

Sign-ins go through allauth's pages with the test client (POST /accounts/login/, then
/accounts/2fa/authenticate/), exactly as a browser would.
"""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from unittest import mock

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client
from django.utils import timezone

from ledgerbridge.accounts.models import Account, User

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase for spring"

_real_time = time.time
_real_tz_now = timezone.now


def required_account(name: str = "Fabrikam MSP") -> Account:
    """An account that requires two-factor (the product default)."""
    return Account.objects.create(name=name, two_factor_policy="required")


def member(
    account: Account | None, email: str, *, role: str = "account-admin", **fields: Any
) -> User:
    return User.objects.create_user(
        email,
        PASSWORD,
        account=account,
        role=role,
        first_name=email.split("@")[0].title(),
        **fields,
    )


def enrol_totp(user: User) -> str:
    """Give `user` an authenticator app (and recovery codes); returns the TOTP secret."""
    secret = str(generate_totp_secret())
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def recovery_codes(user: User) -> list[str]:
    auth = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    codes: list[str] = auth.wrap().get_unused_codes()
    return codes


def totp_code(secret: str, *, offset: float = 0) -> str:
    """The code an authenticator app shows `offset` seconds from now (allauth's own maths)."""
    counter = int(_real_time() + offset) // 30
    return str(format_hotp_value(hotp_value(secret, counter)))


@contextmanager
def allauth_time_moved(seconds: float) -> Iterator[None]:
    """Move the time allauth and the database cache see, without sleeping.

    allauth reads time.time() for TOTP steps and rate-limit windows; the database cache reads
    time.time() when storing and timezone.now() when checking expiry. Our own code follows
    core.clock instead, which tests move separately.
    """
    with (
        mock.patch("time.time", lambda: _real_time() + seconds),
        mock.patch(
            "django.core.cache.backends.db.tz_now",
            lambda: _real_tz_now() + timedelta(seconds=seconds),
        ),
    ):
        yield


def browser(ip: str = "198.51.100.7", agent: str = "Mozilla/5.0 (Test) Firefox/140.0") -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)


def submit_password(client: Client, email: str, password: str = PASSWORD) -> Any:
    return client.post("/accounts/login/", {"login": email, "password": password})


def submit_code(client: Client, code: str) -> Any:
    return client.post("/accounts/2fa/authenticate/", {"code": code})


def sign_in(
    client: Client,
    user: User,
    secret: str | None = None,
    *,
    password: str = PASSWORD,
    offset: float = 0,
) -> Any:
    """The whole sign-in: password, then (if enrolled) the authenticator code."""
    response = submit_password(client, user.email, password)
    if secret is not None:
        assert response["Location"] == "/accounts/2fa/authenticate/", response
        response = submit_code(client, totp_code(secret, offset=offset))
    return response


def is_signed_in(client: Client) -> bool:
    """Whether the dashboard opens (rather than sending the visitor to sign in or enrol)."""
    response = client.get("/")
    return response.status_code == 200


def errors(response: Any) -> str:
    """The page's error messages as text, for asserting what the person reads."""
    html = response.content.decode()
    found = re.findall(r'class="(?:field-error|alert alert-error)"[^>]*>(.*?)</', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", item).strip() for item in found)
