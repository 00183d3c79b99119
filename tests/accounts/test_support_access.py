from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts import access
from ledgerbridge.accounts.models import Account, SupportGrant, User, live_support_grant
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENDED = "The support grant for that account has ended."


@pytest.fixture(autouse=True)
def _long_idle_timeout(settings: Any) -> None:
    # Grants outlast the session idle timeout; these tests are about grants, not idle sessions.
    settings.SESSION_IDLE_TIMEOUT = 30 * 24 * 3600


@pytest.fixture(autouse=True)
def _frozen_clock() -> None:
    clock.set_now(START)


@pytest.fixture
def staff(db: None) -> User:
    # Instance staff must have a second factor before reaching any page.
    user = User.objects.create_user(
        "ops@ledgerbridge.example", "operator passphrase", is_staff=True, first_name="Olga"
    )
    TOTP.activate(user, generate_totp_secret())
    return user


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def admin_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def _grant(admin_client: Client, duration: str = "1h", reason: str = "Invoices stuck") -> None:
    response = admin_client.post(
        reverse("accounts:support-grant-create"), {"duration": duration, "reason": reason}
    )
    assert response.status_code == 302


def test_staff_without_a_grant_see_nothing_and_cannot_enter(
    staff_client: Client, account: Account, alice: User
) -> None:
    page = staff_client.get(reverse("accounts:support-accounts"))
    assert page.status_code == 200
    assert account.name not in page.content.decode()
    assert "No account has granted support access" in page.content.decode()

    assert (
        staff_client.post(reverse("accounts:support-enter", args=[account.pk])).status_code == 403
    )
    assert access.SESSION_SUPPORT_ACCOUNT not in staff_client.session
    assert staff_client.get(reverse("accounts:users")).status_code == 403
    assert staff_client.get(reverse("accounts:audit-log")).status_code == 403
    # A number that is no account gets the same answer as an account without a grant.
    assert staff_client.post(reverse("accounts:support-enter", args=[99999])).status_code == 403


def test_account_admin_grants_time_boxed_access_shown_on_the_account_page(
    admin_client: Client, alice: User, account: Account
) -> None:
    _grant(admin_client, "1d", "March invoices not reaching Xero")
    grant = SupportGrant.objects.get()
    assert (grant.account, grant.granted_by) == (account, alice)
    assert grant.expires_at == START + timedelta(days=1)
    page = admin_client.get(reverse("accounts:account")).content.decode()
    assert "Support can enter this account until 3 Mar 2026 09:00 UTC" in page
    assert "Granted by Alice Admin" in page and "March invoices not reaching Xero" in page
    event = AuditEvent.objects.get(action="support.granted")
    assert event.details["hours"] == 24 and event.actor == alice


def test_a_grant_longer_than_seven_days_is_not_offered(
    admin_client: Client, account: Account
) -> None:
    response = admin_client.post(
        reverse("accounts:support-grant-create"), {"duration": "30d", "reason": "Long"}
    )
    assert response.status_code == 400
    assert not SupportGrant.objects.exists()


def test_a_grant_needs_a_reason(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("accounts:support-grant-create"), {"duration": "1h", "reason": "  "}
    )
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not SupportGrant.objects.exists()


def test_users_cannot_grant_support_access(client: Client, bob: User) -> None:
    client.force_login(bob)
    response = client.post(
        reverse("accounts:support-grant-create"), {"duration": "1h", "reason": "Please"}
    )
    assert response.status_code == 403
    assert not SupportGrant.objects.exists()


def test_with_a_grant_staff_enter_and_work_as_support(
    admin_client: Client, staff_client: Client, staff: User, account: Account, alice: User
) -> None:
    _grant(admin_client)
    listing = staff_client.get(reverse("accounts:support-accounts")).content.decode()
    assert account.name in listing and "Invoices stuck" in listing

    response = staff_client.post(reverse("accounts:support-enter", args=[account.pk]), follow=True)
    html = response.content.decode()
    assert "Support access to <strong>Northwind MSP</strong>" in html
    assert staff_client.get(reverse("accounts:users")).status_code == 200
    assert staff_client.get(reverse("accounts:audit-log")).status_code == 200

    # What they do is audited as support, in the account's log, under their own name.
    staff_client.post(reverse("accounts:beta-toggle"), {"enabled": "on"})
    entered = AuditEvent.objects.get(action="support.entered")
    joined = AuditEvent.objects.get(action="account.beta_joined")
    for event in (entered, joined):
        assert (event.account, event.actor, event.details["support"]) == (account, staff, True)
    log = staff_client.get(reverse("accounts:audit-log")).content.decode()
    assert "badge-support" in log


def test_support_cannot_extend_its_own_grant_or_emulate(
    admin_client: Client, staff_client: Client, account: Account, bob: User
) -> None:
    _grant(admin_client)
    staff_client.post(reverse("accounts:support-enter", args=[account.pk]))
    response = staff_client.post(
        reverse("accounts:support-grant-create"),
        {"duration": "7d", "reason": "More time"},
        follow=True,
    )
    assert "Support staff cannot extend their own access" in response.content.decode()
    assert SupportGrant.objects.count() == 1
    response = staff_client.post(reverse("accounts:emulation-start", args=[bob.pk]), follow=True)
    assert "not during support access" in response.content.decode()
    assert access.SESSION_EMULATED_USER not in staff_client.session


def test_revoking_ends_access_on_the_next_request(
    admin_client: Client, staff_client: Client, account: Account, alice: User
) -> None:
    _grant(admin_client)
    staff_client.post(reverse("accounts:support-enter", args=[account.pk]))
    assert staff_client.get(reverse("accounts:users")).status_code == 200

    grant = SupportGrant.objects.get()
    admin_client.post(reverse("accounts:support-grant-revoke", args=[grant.pk]))
    grant.refresh_from_db()
    assert grant.revoked_by == alice and grant.revoked_at is not None
    assert AuditEvent.objects.filter(action="support.revoked", actor=alice).exists()

    page = staff_client.get(reverse("web:dashboard")).content.decode()
    assert ENDED in page
    assert "Support access to" not in page
    assert staff_client.get(reverse("accounts:users")).status_code == 403
    assert (
        staff_client.post(reverse("accounts:support-enter", args=[account.pk])).status_code == 403
    )


def test_expiry_ends_access_on_the_next_request(
    admin_client: Client, staff_client: Client, account: Account
) -> None:
    _grant(admin_client, "4h")
    staff_client.post(reverse("accounts:support-enter", args=[account.pk]))
    clock.set_now(START + timedelta(hours=3, minutes=59))
    assert staff_client.get(reverse("accounts:audit-log")).status_code == 200

    clock.set_now(START + timedelta(hours=4, seconds=1))
    assert ENDED in staff_client.get(reverse("web:dashboard")).content.decode()
    assert staff_client.get(reverse("accounts:audit-log")).status_code == 403
    listing = staff_client.get(reverse("accounts:support-accounts")).content.decode()
    assert account.name not in listing
    page = admin_client.get(reverse("accounts:account")).content.decode()
    assert "Earlier grants" in page and "expired 2 Mar 2026 13:00" in page


def test_a_new_grant_replaces_the_live_one(admin_client: Client, account: Account) -> None:
    _grant(admin_client, "1h")
    _grant(admin_client, "3d")
    assert SupportGrant.objects.count() == 2
    live = live_support_grant(account)
    assert live is not None and live.expires_at == START + timedelta(days=3)
    assert SupportGrant.objects.filter(revoked_at__isnull=False).count() == 1


def test_leaving_returns_staff_to_the_support_list(
    admin_client: Client, staff_client: Client, staff: User, account: Account
) -> None:
    _grant(admin_client)
    staff_client.post(reverse("accounts:support-enter", args=[account.pk]))
    response = staff_client.post(reverse("accounts:support-leave"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:support-accounts")
    assert "You left Northwind MSP." in response.content.decode()
    assert staff_client.get(reverse("accounts:users")).status_code == 403
    left = AuditEvent.objects.get(action="support.left")
    assert (left.account, left.actor, left.details["support"]) == (account, staff, True)


def test_another_accounts_grant_cannot_be_revoked(
    admin_client: Client, other_account: Account
) -> None:
    theirs = SupportGrant.objects.create(
        account=other_account,
        granted_by=User.objects.create_user("eve@contoso.example", "x" * 16, account=other_account),
        expires_at=clock.now() + timedelta(hours=1),
    )
    response = admin_client.post(reverse("accounts:support-grant-revoke", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_members_cannot_open_the_staff_support_pages(
    admin_client: Client, account: Account
) -> None:
    assert admin_client.get(reverse("accounts:support-accounts")).status_code == 403
    assert (
        admin_client.post(reverse("accounts:support-enter", args=[account.pk])).status_code == 403
    )
