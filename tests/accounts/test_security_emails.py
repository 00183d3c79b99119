"""Security emails: plain text and HTML, through Django's email backend."""

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives

from ledgerbridge.accounts.actions.users import do_invite_user
from ledgerbridge.accounts.models import Account, User
from ledgerbridge.accounts.tokens import set_password_path
from ledgerbridge.core import clock
from tests.accounts.security_flows import (
    NEW_PASSWORD,
    PASSWORD,
    browser,
    enrol_totp,
    member,
    required_account,
    sign_in,
    totp_code,
)

pytestmark = pytest.mark.django_db


Committing = Callable[[], AbstractContextManager[Any]]


@pytest.fixture
def committing(django_capture_on_commit_callbacks: Any) -> Committing:
    """`with committing(): client.post(...)` sends the on-commit emails, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def html_of(message: EmailMessage) -> str:
    assert isinstance(message, EmailMultiAlternatives)
    [(body, kind)] = message.alternatives
    assert kind == "text/html"
    return str(body)


def test_each_sign_in_sends_a_notice_with_time_address_and_browser(
    committing: Committing, alice: User
) -> None:
    clock.set_now(datetime(2026, 3, 4, 9, 15, tzinfo=UTC))
    client = browser(ip="203.0.113.77", agent="Mozilla/5.0 (Macintosh) Safari/605.1.15")

    with committing():
        sign_in(client, alice)

    [notice] = mail.outbox
    assert notice.to == [alice.email]
    assert notice.subject == "LedgerBridge: New sign-in to your account"
    for body in (str(notice.body), html_of(notice)):
        assert "4 March 2026, 09:15 UTC" in body
        assert "203.0.113.77" in body
        assert "Mozilla/5.0 (Macintosh) Safari/605.1.15" in body
        assert "/accounts/sessions/" in body


def test_the_notice_comes_after_the_second_factor_not_the_password(committing: Committing) -> None:
    fabrikam: Account = required_account()
    dana = member(fabrikam, "dana@fabrikam.example")
    secret = enrol_totp(dana)
    client = browser()

    with committing():
        client.post("/accounts/login/", {"login": dana.email, "password": PASSWORD})
    assert mail.outbox == []
    with committing():
        client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert [m.subject for m in mail.outbox] == ["LedgerBridge: New sign-in to your account"]


def test_no_notice_for_the_sign_in_right_after_choosing_a_password(
    committing: Committing, account: Account, alice: User
) -> None:
    carol = do_invite_user(
        account,
        email="carol@northwind.example",
        first_name="Carol",
        last_name="New",
        role="user",
        acting_user=alice,
    )
    client = browser()
    page = client.get(set_password_path(carol), follow=True)

    with committing():
        client.post(
            page.redirect_chain[-1][0],
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )

    assert client.get("/").status_code == 200
    assert [m.subject for m in mail.outbox if "sign-in" in m.subject] == []
    # Her next sign-in, with the password she chose, is announced.
    with committing():
        sign_in(browser(), User.objects.get(pk=carol.pk), password=NEW_PASSWORD)
    assert [m.subject for m in mail.outbox if "sign-in" in m.subject] == [
        "LedgerBridge: New sign-in to your account"
    ]


def test_the_password_reset_email_has_text_and_html_and_says_48_hours(alice: User) -> None:
    browser().post("/accounts/password/reset/", {"email": alice.email})

    [message] = mail.outbox
    assert message.subject == "LedgerBridge: Reset your password"
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", str(message.body))
    assert link
    html = html_of(message)
    assert link.group(0) in html
    assert "48 hours" in str(message.body) and "48 hours" in html
    assert "second factor" in str(message.body)


def test_a_password_change_is_confirmed_by_email(committing: Committing, alice: User) -> None:
    client = browser(ip="203.0.113.5")
    sign_in(client, alice)

    with committing():
        client.post(
            "/accounts/password/change/",
            {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )

    [message] = mail.outbox
    assert message.to == [alice.email]
    assert "Your password was changed." in html_of(message)
    assert "203.0.113.5" in str(message.body)


def test_the_second_factor_reset_notice_has_text_and_html(
    committing: Committing, alice: User, bob: User
) -> None:
    enrol_totp(bob)
    admin_secret = enrol_totp(alice)
    client = browser()
    sign_in(client, alice, admin_secret)

    with committing():
        client.post(f"/account/users/{bob.pk}/reset-2fa/")

    [notice] = mail.outbox
    assert notice.to == [bob.email]
    assert notice.subject == "LedgerBridge: Your second factor was reset"
    for body in (str(notice.body), html_of(notice)):
        assert "Alice Admin" in body
        assert "no longer work" in body
        # Northwind makes two-factor optional: Bob is told he can sign in without one.
        assert "does not require a second factor" in body
