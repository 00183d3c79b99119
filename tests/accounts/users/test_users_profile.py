"""The own profile: names, and the way to password, two-factor, sessions and API tokens."""

import pytest
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts.access import SESSION_EMULATED_USER, SESSION_EMULATION_STARTED
from ledgerbridge.accounts.models import User
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_the_profile_links_to_every_security_page(bob_client: Client) -> None:
    response = bob_client.get("/account/profile/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "bob@northwind.example" in html
    assert "User at Northwind MSP" in html
    for name in ("account_change_password", "mfa_index", "usersessions_list", "accounts:tokens"):
        url = reverse(name)
        assert f'href="{url}"' in html, name


def test_changing_the_own_name_is_saved_and_audited(bob_client: Client, bob: User) -> None:
    response = bob_client.post(
        "/account/profile/", {"first_name": " Robert ", "last_name": "Builder"}, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["Your profile is saved."]
    bob.refresh_from_db()
    assert (bob.first_name, bob.last_name) == ("Robert", "Builder")
    event = AuditEvent.objects.get(action="profile.updated")
    assert (event.actor, event.account) == (bob, bob.account)
    assert event.details == {
        "first_name": {"old": "Bob", "new": "Robert"},
        "last_name": {"old": "User", "new": "Builder"},
    }


def test_names_are_required(bob_client: Client, bob: User) -> None:
    response = bob_client.post("/account/profile/", {"first_name": "", "last_name": "User"})
    assert response.status_code == 200
    assert "first_name" in response.context["form"].errors
    bob.refresh_from_db()
    assert bob.first_name == "Bob"
    assert not AuditEvent.objects.exists()


def test_saving_without_changes_records_nothing(bob_client: Client) -> None:
    bob_client.post("/account/profile/", {"first_name": "Bob", "last_name": "User"})
    assert not AuditEvent.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/account/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_profile_is_refused_while_emulating(admin_client: Client, bob: User) -> None:
    session = admin_client.session
    session[SESSION_EMULATED_USER] = bob.pk
    session[SESSION_EMULATION_STARTED] = clock.now().isoformat()
    session.save()

    assert admin_client.get("/account/profile/").status_code == 403
    admin_client.post("/account/profile/", {"first_name": "Mallory", "last_name": "X"})
    bob.refresh_from_db()
    assert bob.first_name == "Bob"
