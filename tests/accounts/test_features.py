from collections.abc import Iterator

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import features
from ledgerbridge.core.features import FEATURES, Feature, feature_enabled, register
from ledgerbridge.core.models import AuditEvent


@pytest.fixture
def registry() -> Iterator[dict[str, Feature]]:
    # Tests register throwaway features; put the real registry back afterwards.
    saved = dict(FEATURES)
    yield FEATURES
    FEATURES.clear()
    FEATURES.update(saved)


@pytest.fixture
def staff(db: None) -> User:
    # Instance staff must have a second factor before reaching any page.
    user = User.objects.create_user("ops@ledgerbridge.example", "long passphrase", is_staff=True)
    TOTP.activate(user, generate_totp_secret())
    return user


def test_realtime_sync_is_registered_as_a_beta_feature() -> None:
    feature = FEATURES["realtime-sync"]
    assert feature.stage == "beta"
    assert "PSA changes" in feature.description


def test_beta_feature_is_on_only_for_accounts_in_the_beta_group(
    registry: dict[str, Feature],
) -> None:
    register("try-me", "Something new", stage="beta")
    assert feature_enabled(Account(name="In", beta_enabled=True), "try-me") is True
    assert feature_enabled(Account(name="Out", beta_enabled=False), "try-me") is False
    assert feature_enabled(None, "try-me") is False


def test_ga_feature_is_on_for_everyone(registry: dict[str, Feature]) -> None:
    register("old-news", "Shipped", stage="ga")
    assert feature_enabled(Account(name="Out", beta_enabled=False), "old-news") is True
    assert feature_enabled(None, "old-news") is True


def test_unknown_feature_name_fails_loudly() -> None:
    with pytest.raises(KeyError, match=r"realtime-synk.*registered: .*realtime-sync"):
        feature_enabled(Account(name="In", beta_enabled=True), "realtime-synk")


def test_registering_twice_or_with_an_unknown_stage_is_refused(
    registry: dict[str, Feature],
) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register("realtime-sync", "again", stage="beta")
    with pytest.raises(ValueError, match=r"stage 'alpha'"):
        register("half-done", "…", stage="alpha")  # type: ignore[arg-type]
    assert "half-done" not in FEATURES


def test_beta_features_lists_only_beta_ones(registry: dict[str, Feature]) -> None:
    register("old-news", "Shipped", stage="ga")
    assert "old-news" not in [f.name for f in features.beta_features()]
    assert "realtime-sync" in [f.name for f in features.beta_features()]


def test_account_admin_joins_and_leaves_the_beta_group(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = client.get(reverse("accounts:account")).content.decode()
    assert "Join the beta group" in page
    assert "realtime-sync" in page

    response = client.post(reverse("accounts:beta-toggle"), {"enabled": "on"}, follow=True)
    assert "joined the beta group" in response.content.decode()
    assert "Leave the beta group" in response.content.decode()
    alice.account.refresh_from_db()  # type: ignore[union-attr]
    assert feature_enabled(alice.account, "realtime-sync")

    client.post(reverse("accounts:beta-toggle"), {"enabled": "off"})
    alice.account.refresh_from_db()  # type: ignore[union-attr]
    assert not feature_enabled(alice.account, "realtime-sync")
    actions = list(
        AuditEvent.objects.filter(account=alice.account, actor=alice)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["account.beta_joined", "account.beta_left"]


def test_a_user_cannot_switch_the_beta_group(client: Client, bob: User) -> None:
    client.force_login(bob)
    assert client.post(reverse("accounts:beta-toggle"), {"enabled": "on"}).status_code == 403
    bob.account.refresh_from_db()  # type: ignore[union-attr]
    assert not bob.account.beta_enabled  # type: ignore[union-attr]


def test_staff_set_the_beta_group_of_an_account_without_a_grant(
    client: Client, staff: User, account: Account
) -> None:
    client.force_login(staff)
    response = client.post(
        reverse("accounts:support-beta", args=[account.pk]), {"enabled": "on"}, follow=True
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.beta_enabled
    # No grant: the list still shows nothing about the account, not even its name.
    assert account.name not in response.content.decode()
    event = AuditEvent.objects.get(action="account.beta_joined")
    assert (event.account, event.actor, event.details["support"]) == (account, staff, True)


def test_staff_set_the_beta_group_by_account_number(
    client: Client, staff: User, account: Account
) -> None:
    account.beta_enabled = True
    account.save()
    client.force_login(staff)
    client.post(
        reverse("accounts:support-beta-by-number"), {"account": account.pk, "enabled": "off"}
    )
    account.refresh_from_db()
    assert not account.beta_enabled
    assert AuditEvent.objects.filter(action="account.beta_left", actor=staff).exists()


def test_account_members_cannot_use_the_staff_beta_switch(
    client: Client, alice: User, other_account: Account
) -> None:
    client.force_login(alice)
    url = reverse("accounts:support-beta", args=[other_account.pk])
    assert client.post(url, {"enabled": "on"}).status_code == 403
    other_account.refresh_from_db()
    assert not other_account.beta_enabled
