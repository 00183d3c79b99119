import pytest
from django.test import Client, override_settings

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core.models import AuditEvent

SIGNUP = {
    "email": "Dana@Fabrikam.example",
    "password1": "a long enough passphrase",
    "password2": "a long enough passphrase",
}


@pytest.mark.django_db
def test_signing_up_creates_an_account_owned_by_the_new_user(client: Client) -> None:
    response = client.post("/accounts/signup/", SIGNUP)

    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "dana@fabrikam.example"
    assert user.account is not None
    assert user.account.name == "fabrikam.example"
    event = AuditEvent.objects.get(action="account.created")
    assert (event.account, event.actor) == (user.account, user)


@pytest.mark.django_db
def test_a_short_password_is_refused_and_nothing_is_created(client: Client) -> None:
    response = client.post(
        "/accounts/signup/", {**SIGNUP, "password1": "short", "password2": "short"}
    )
    assert response.status_code == 200
    assert b"at least 12 characters" in response.content
    assert not User.objects.exists()
    assert not Account.objects.exists()


@pytest.mark.django_db
@override_settings(SIGNUP_OPEN=False)
def test_closed_signup_creates_nobody(client: Client) -> None:
    page = client.get("/accounts/signup/")
    assert b"closed" in page.content.lower()
    client.post("/accounts/signup/", SIGNUP)
    assert not User.objects.exists()
