from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts.models import Account, PsaCredential, SupportGrant, User
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent


@pytest.fixture
def admin_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def test_account_admin_sees_the_account_page_from_the_navigation(admin_client: Client) -> None:
    dashboard = admin_client.get(reverse("web:dashboard")).content.decode()
    assert f'href="{reverse("accounts:account")}"' in dashboard
    page = admin_client.get(reverse("accounts:account")).content.decode()
    for heading in ("Settings", "PSA API credentials", "Support access", "Beta group"):
        assert heading in page
    assert 'value="Northwind MSP"' in page


def test_changing_the_two_factor_policy_is_audited(
    admin_client: Client, account: Account, alice: User
) -> None:
    response = admin_client.post(
        reverse("accounts:account"),
        {"name": "Northwind MSP", "two_factor_policy": "required"},
        follow=True,
    )
    assert "Two-factor authentication is now required" in response.content.decode()
    account.refresh_from_db()
    assert account.two_factor_policy == "required"
    event = AuditEvent.objects.get(action="account.two_factor_policy_changed")
    assert (event.actor, event.account) == (alice, account)
    assert event.details == {"from": "optional", "to": "required"}
    assert not AuditEvent.objects.filter(action="account.renamed").exists()


def test_renaming_the_account_is_audited(admin_client: Client, account: Account) -> None:
    admin_client.post(
        reverse("accounts:account"), {"name": "  Northwind IT  ", "two_factor_policy": "optional"}
    )
    account.refresh_from_db()
    assert account.name == "Northwind IT"
    event = AuditEvent.objects.get(action="account.renamed")
    assert event.details == {"from": "Northwind MSP", "to": "Northwind IT"}


def test_saving_without_changes_records_nothing(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("accounts:account"),
        {"name": "Northwind MSP", "two_factor_policy": "optional"},
        follow=True,
    )
    assert "Nothing changed." in response.content.decode()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "   ", "two_factor_policy": "optional"}, "This field is required"),
        ({"name": "X", "two_factor_policy": "sometimes"}, "Select a valid choice"),
    ],
)
def test_invalid_settings_are_explained_and_not_saved(
    admin_client: Client, account: Account, data: dict[str, str], message: str
) -> None:
    response = admin_client.post(reverse("accounts:account"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    account.refresh_from_db()
    assert (account.name, account.two_factor_policy) == ("Northwind MSP", "optional")
    # The page header still names the stored account, not the rejected input.
    assert "Settings for Northwind MSP" in response.content.decode()


def test_users_cannot_open_or_change_the_account(
    client: Client, bob: User, account: Account
) -> None:
    client.force_login(bob)
    assert client.get(reverse("accounts:account")).status_code == 403
    response = client.post(
        reverse("accounts:account"), {"name": "Mine", "two_factor_policy": "optional"}
    )
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.name == "Northwind MSP"
    dashboard = client.get(reverse("web:dashboard")).content.decode()
    assert f'href="{reverse("accounts:account")}"' not in dashboard


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, account: Account) -> None:
    response = client.get(reverse("accounts:account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_page_shows_only_this_accounts_credentials_and_grants(
    admin_client: Client, other_account: Account
) -> None:
    eve = User.objects.create_user("eve@contoso.example", "x" * 16, account=other_account)
    PsaCredential.objects.create(
        account=other_account, psa="autotask", label="Contoso API", is_primary=True
    )
    SupportGrant.objects.create(
        account=other_account,
        granted_by=eve,
        reason="Contoso trouble",
        expires_at=clock.now() + timedelta(hours=1),
    )
    page = admin_client.get(reverse("accounts:account")).content.decode()
    assert "Contoso" not in page
    assert "No PSA credentials yet" in page
    assert "Support can enter this account" not in page
