"""Set-password links: single use, 48 hours, voided by a newer link, never skipping two-factor."""

from datetime import UTC, datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.test import Client

from ledgerbridge.accounts.actions.users import do_invite_user, do_resend_invitation
from ledgerbridge.accounts.models import Account, User
from ledgerbridge.accounts.tokens import set_password_path
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from tests.accounts.users.conftest import STRONG_PASSWORD, set_password_with

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INVALID = (
    "This link has expired or was already used. Ask your account admin to resend the invitation."
)


def invite(account: Account, alice: User, email: str = "carol@northwind.example") -> User:
    return do_invite_user(
        account,
        email=email,
        first_name="Carol",
        last_name="Clerk",
        role="user",
        acting_user=alice,
    )


def test_the_token_leaves_the_address_bar_before_the_form_is_shown(
    account: Account, alice: User, client: Client
) -> None:
    carol = invite(account, alice)
    link = set_password_path(carol)
    token = link.rstrip("/").rsplit("/", 1)[1]

    opened = client.get(link)

    assert opened.status_code == 302
    assert token not in opened["Location"]
    form = client.get(opened["Location"])
    assert form.status_code == 200
    html = form.content.decode()
    assert "Choose your password" in html
    assert "carol@northwind.example" in html
    assert 'name="new_password1"' in html
    assert token not in html


def test_setting_the_password_signs_in_verifies_the_email_and_is_recorded(
    account: Account, alice: User, client: Client
) -> None:
    carol = invite(account, alice)

    response = set_password_with(client, set_password_path(carol))

    assert response.status_code == 302
    assert response["Location"] == "/"
    carol.refresh_from_db()
    assert carol.check_password(STRONG_PASSWORD)
    assert not carol.is_invitation_pending
    assert client.session["_auth_user_id"] == str(carol.pk)
    assert client.get("/").status_code == 200
    assert EmailAddress.objects.filter(user=carol, verified=True, primary=True).exists()
    event = AuditEvent.objects.get(action="user.password-set")
    assert (event.actor, event.account, event.details) == (
        carol,
        account,
        {"accepted_invitation": True},
    )


def test_a_link_works_only_once(account: Account, alice: User, client: Client) -> None:
    carol = invite(account, alice)
    link = set_password_path(carol)
    set_password_with(client, link)

    again = Client().get(link)

    assert again.status_code == 200
    assert INVALID in again.content.decode()


def test_a_link_expires_after_48_hours(account: Account, alice: User) -> None:
    clock.set_now(MOMENT)
    carol = invite(account, alice)
    link = set_password_path(carol)

    clock.set_now(MOMENT + timedelta(hours=48, seconds=1))
    response = Client().get(link)

    assert INVALID in response.content.decode()


def test_a_link_that_expires_while_the_form_is_open_is_refused(
    account: Account, alice: User, client: Client
) -> None:
    clock.set_now(MOMENT)
    carol = invite(account, alice)
    opened = client.get(set_password_path(carol))

    clock.set_now(MOMENT + timedelta(hours=49))
    response = client.post(
        opened["Location"], {"new_password1": STRONG_PASSWORD, "new_password2": STRONG_PASSWORD}
    )

    assert INVALID in response.content.decode()
    carol.refresh_from_db()
    assert not carol.has_usable_password()


def test_a_newer_link_voids_the_older_one(account: Account, alice: User) -> None:
    carol = invite(account, alice)
    older = set_password_path(carol)
    do_resend_invitation(carol, acting_user=alice)
    newer = set_password_path(carol)

    assert INVALID in Client().get(older).content.decode()
    assert set_password_with(Client(), newer)["Location"] == "/"


def test_a_weak_password_is_refused_with_the_reason(
    account: Account, alice: User, client: Client
) -> None:
    carol = invite(account, alice)
    opened = client.get(set_password_path(carol))

    for password, reason in (
        ("short pass", "at least 12 characters"),
        ("password1234", "too common"),
        ("carol@northwind", "too similar"),
    ):
        response = client.post(
            opened["Location"], {"new_password1": password, "new_password2": password}
        )
        assert response.status_code == 200
        assert reason in response.content.decode(), password
    carol.refresh_from_db()
    assert not carol.has_usable_password()
    assert "_auth_user_id" not in client.session


def test_a_user_with_a_second_factor_is_sent_to_sign_in_not_signed_in(
    account: Account, alice: User, client: Client
) -> None:
    carol = invite(account, alice)
    Authenticator.objects.create(user=carol, type=Authenticator.Type.TOTP, data={})

    response = set_password_with(client, set_password_path(carol))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    carol.refresh_from_db()
    assert carol.check_password(STRONG_PASSWORD)
    page = client.get(response["Location"])
    assert "Sign in with it and your second factor" in page.content.decode()


@pytest.mark.parametrize(
    "link",
    [
        "/account/set-password/MTIzNDU2/abc-def/",
        "/account/set-password/not-base64/abc-def/",
        "/account/set-password/MQ/set/",
    ],
)
def test_a_made_up_link_gets_the_same_page(client: Client, alice: User, link: str) -> None:
    response = client.get(link)
    assert response.status_code == 200
    assert INVALID in response.content.decode()


def test_a_disabled_users_link_is_dead(account: Account, alice: User) -> None:
    carol = invite(account, alice)
    link = set_password_path(carol)
    User.objects.filter(pk=carol.pk).update(is_active=False)

    assert INVALID in Client().get(link).content.decode()
