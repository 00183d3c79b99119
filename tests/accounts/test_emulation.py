from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ledgerbridge.accounts import access
from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent

BANNER = "You are emulating"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def carol(account: Account) -> User:
    return User.objects.create_user(
        "carol@northwind.example",
        "correct horse battery",
        account=account,
        first_name="Carol",
        last_name="Admin",
        role="account-admin",
    )


@pytest.fixture
def emulating(client: Client, alice: User, bob: User) -> Client:
    """Alice (account-admin) emulating Bob (user)."""
    clock.set_now(START)
    client.force_login(alice)
    response = client.post(reverse("accounts:emulation-start", args=[bob.pk]))
    assert response.status_code == 302
    return client


def test_starting_shows_the_banner_on_every_page(emulating: Client, bob: User) -> None:
    page = emulating.get(reverse("web:dashboard")).content.decode()
    assert BANNER in page and bob.email in page
    assert 'action="/account/emulation/stop/"' in page
    # The admin's navigation is gone: the page is what Bob sees.
    assert reverse("accounts:users") not in page
    event = AuditEvent.objects.get(action="emulation.started")
    assert (event.actor.email, event.acting_as, event.target_id) == (  # type: ignore[union-attr]
        "alice@northwind.example",
        None,
        str(bob.pk),
    )


@pytest.mark.parametrize(
    "url_name", ["accounts:users", "accounts:profile", "accounts:tokens", "accounts:account"]
)
def test_user_admin_and_identity_pages_are_refused_while_emulating(
    emulating: Client, url_name: str
) -> None:
    assert emulating.get(reverse(url_name)).status_code == 403


def _declared_refusals() -> list[str]:
    names = []

    def walk(patterns: list[URLPattern | URLResolver], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            else:
                rule = access.VIEW_RULES.get(pattern.callback)
                if (
                    rule is not None
                    and rule.refuse_while_emulating
                    and not pattern.pattern.converters
                ):
                    names.append(f"{namespace}:{pattern.name}" if namespace else str(pattern.name))

    walk(get_resolver().url_patterns, "")
    return names


def test_every_view_declared_refuse_while_emulating_is_refused(emulating: Client) -> None:
    names = _declared_refusals()
    assert "accounts:users" in names
    for name in names:
        assert emulating.get(reverse(name)).status_code == 403, name


# allauth's pages are refused by MembershipMiddleware, not by a decorator of ours.
ALLAUTH_IDENTITY_PAGES = [
    "account_change_password",
    "account_set_password",
    "account_email",
    "mfa_index",
    "mfa_activate_totp",
    "mfa_view_recovery_codes",
    "usersessions_list",
]


@pytest.mark.parametrize("url_name", ALLAUTH_IDENTITY_PAGES)
def test_allauth_identity_pages_are_refused_while_emulating(
    emulating: Client, url_name: str
) -> None:
    assert emulating.get(reverse(url_name)).status_code == 403


def test_actions_while_emulating_name_both_identities(
    emulating: Client, alice: User, bob: User
) -> None:
    emulating.post(reverse("accounts:emulation-stop"))
    event = AuditEvent.objects.get(action="emulation.stopped")
    assert (event.actor, event.acting_as, event.account) == (alice, bob, alice.account)


@override_settings(SESSION_IDLE_TIMEOUT=24 * 3600)
def test_emulation_ends_after_thirty_minutes_with_a_notice(emulating: Client, alice: User) -> None:
    clock.set_now(START + timedelta(minutes=29))
    assert BANNER in emulating.get(reverse("web:dashboard")).content.decode()

    clock.set_now(START + timedelta(minutes=31))
    page = emulating.get(reverse("web:dashboard")).content.decode()
    assert BANNER not in page
    assert "Emulation has ended." in page
    # Alice is herself again, with her own pages.
    assert emulating.get(reverse("accounts:users")).status_code == 200
    assert access.SESSION_EMULATED_USER not in emulating.session
    # The trail records the end exactly once, under the admin's own name.
    [ended] = AuditEvent.objects.filter(action="emulation.expired")
    assert (ended.actor, ended.acting_as) == (alice, None)


def test_stop_returns_the_admin_to_her_own_view(emulating: Client, bob: User) -> None:
    response = emulating.post(reverse("accounts:emulation-stop"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("accounts:users")
    html = response.content.decode()
    assert BANNER not in html
    assert f"You stopped emulating {bob.get_full_name()}" in html
    assert emulating.get(reverse("accounts:account")).status_code == 200


def test_emulation_cannot_be_started_while_emulating(emulating: Client, account: Account) -> None:
    dave = User.objects.create_user("dave@northwind.example", "x" * 16, account=account)
    response = emulating.post(reverse("accounts:emulation-start", args=[dave.pk]))
    assert response.status_code == 403


def test_only_active_user_role_members_can_be_emulated(
    client: Client, alice: User, carol: User, account: Account
) -> None:
    client.force_login(alice)
    gone = User.objects.create_user("gone@northwind.example", "x" * 16, account=account)
    gone.is_active = False
    gone.save()
    cases = {
        carol.pk: "Carol Admin is a Account admin. Only members with the User role",
        gone.pk: "is disabled. Only active members can be emulated.",
        alice.pk: "You cannot emulate yourself.",
    }
    for user_id, message in cases.items():
        response = client.post(reverse("accounts:emulation-start", args=[user_id]), follow=True)
        assert message in response.content.decode()
        assert access.SESSION_EMULATED_USER not in client.session
    assert not AuditEvent.objects.filter(action="emulation.started").exists()


def test_members_of_another_account_are_not_found(
    client: Client, alice: User, other_account: Account
) -> None:
    stranger = User.objects.create_user("eve@contoso.example", "x" * 16, account=other_account)
    client.force_login(alice)
    response = client.post(reverse("accounts:emulation-start", args=[stranger.pk]))
    assert response.status_code == 404
    assert access.SESSION_EMULATED_USER not in client.session


def test_a_user_cannot_emulate(client: Client, bob: User, account: Account) -> None:
    other = User.objects.create_user("frank@northwind.example", "x" * 16, account=account)
    client.force_login(bob)
    assert client.post(reverse("accounts:emulation-start", args=[other.pk])).status_code == 403


def test_starting_needs_a_post(client: Client, alice: User, bob: User) -> None:
    client.force_login(alice)
    assert client.get(reverse("accounts:emulation-start", args=[bob.pk])).status_code == 405


def test_signing_out_while_emulating_works_and_ends_it(emulating: Client) -> None:
    assert emulating.post(reverse("account_logout")).status_code == 302
    assert access.SESSION_EMULATED_USER not in emulating.session
    assert emulating.get(reverse("web:dashboard")).status_code == 302
