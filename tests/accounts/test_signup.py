"""Sign-up creates an MSP's account; its first admin proves the address with the mailed link."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def sign_up(client: Client, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    def post(**changes: str) -> Any:
        # Emails go out when the transaction commits; run those callbacks as a commit would.
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/accounts/signup/", {**SIGNUP, **changes})

    return post


SIGNUP = {
    "account_name": " Fabrikam IT ",
    "first_name": "Dana",
    "last_name": "Reyes",
    "email": "Dana@Fabrikam.example",
}
NEW_PASSWORD = "a long enough passphrase"


def _link_path(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/account/set-password/\S+/)", str(message.body))
    assert found, message.body
    return found.group(1)


def test_signing_up_creates_a_named_account_with_an_invited_admin(
    client: Client, sign_up: Callable[..., Any]
) -> None:
    response = sign_up()

    assert response.status_code == 200
    assert b"Check your email" in response.content
    user = User.objects.get()
    assert user.email == "dana@fabrikam.example"
    assert (user.first_name, user.last_name) == ("Dana", "Reyes")
    assert user.role == "account-admin"
    assert not user.has_usable_password()
    assert user.account is not None
    assert user.account.name == "Fabrikam IT"
    assert user.can(Perm.MANAGE_USERS) and user.can(Perm.EDIT_ACCOUNT)
    event = AuditEvent.objects.get(action="account.created")
    assert (event.account, event.actor) == (user.account, user)
    assert [message.to for message in mail.outbox] == [["dana@fabrikam.example"]]


def test_the_mailed_link_sets_the_password_and_leads_to_two_factor_enrolment(
    client: Client, sign_up: Callable[..., Any]
) -> None:
    sign_up()
    page = client.get(_link_path(mail.outbox[0]), follow=True)
    assert page.status_code == 200

    response = client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else _link_path(mail.outbox[0]),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert response.status_code == 200
    user = User.objects.get()
    assert user.check_password(NEW_PASSWORD)
    # The new account requires two-factor: the first page after the password is enrolment.
    assert response.redirect_chain[-1][0].startswith("/accounts/2fa/totp/activate/")


def test_without_a_name_the_account_is_named_after_the_email_domain(
    client: Client, sign_up: Callable[..., Any]
) -> None:
    sign_up(account_name="")

    account = Account.objects.get()
    assert account.name == "fabrikam.example"


def test_the_signup_page_asks_for_the_msps_name_and_no_password(
    client: Client, sign_up: Callable[..., Any]
) -> None:
    html = client.get("/accounts/signup/").content.decode()
    assert 'name="account_name"' in html
    assert html.index('name="account_name"') < html.index('name="email"')
    assert 'type="password"' not in html


def test_missing_names_are_refused_and_nothing_is_created(
    client: Client, sign_up: Callable[..., Any]
) -> None:
    response = sign_up(first_name="", last_name="")
    assert response.status_code == 200
    assert b"This field is required" in response.content
    assert not User.objects.exists()
    assert not Account.objects.exists()


def test_a_known_email_gets_the_same_answer_and_a_notice_but_no_second_account(
    sign_up: Callable[..., Any], alice: User
) -> None:
    fresh = sign_up(email="someone@new.example")
    known = sign_up(email="alice@northwind.example")

    # Nothing on the page tells whether the address already had a login.
    def strip(content: bytes, email: str) -> bytes:
        without_csrf = re.sub(rb'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', b"", content)
        return without_csrf.replace(email.encode(), b"EMAIL")

    assert strip(fresh.content, "someone@new.example") == strip(
        known.content, "alice@northwind.example"
    )
    assert User.objects.filter(email="alice@northwind.example").count() == 1
    assert Account.objects.filter(users__email="alice@northwind.example").count() == 1
    notice = mail.outbox[-1]
    assert notice.to == ["alice@northwind.example"]
    assert "already has a" in str(notice.body)


@override_settings(SIGNUP_OPEN=False)
def test_closed_signup_creates_nobody(client: Client, sign_up: Callable[..., Any]) -> None:
    page = client.get("/accounts/signup/")
    assert page.status_code == 404
    assert b"closed" in page.content.lower()
    sign_up()
    assert not User.objects.exists()
    assert not Account.objects.exists()
