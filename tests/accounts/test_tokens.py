"""Personal API tokens: shown once, stored hashed, carry the owner's permissions, revocable."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client, RequestFactory

from ledgerbridge.accounts.access import (
    SESSION_EMULATED_USER,
    SESSION_EMULATION_STARTED,
    SESSION_SUPPORT_ACCOUNT,
    ViewRule,
    check,
)
from ledgerbridge.accounts.actions.tokens import do_create_api_token, do_revoke_api_token
from ledgerbridge.accounts.models import Account, ApiToken, SupportGrant, User
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.api.auth import TokenAuth
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from tests.api.openapi import assert_matches_openapi, openapi_document

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bearer(value: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


def create_on_page(client: Client, name: str) -> str:
    response = client.post("/account/tokens/", {"name": name})
    assert response.status_code == 200
    value = response.context["issued"].value
    assert isinstance(value, str)
    return value


# --- the page ---------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works_with_the_api(bob: User) -> None:
    client = signed_in(bob)
    response = client.post("/account/tokens/", {"name": "Month-end script"})

    value = response.context["issued"].value
    assert value.startswith("lbk_") and len(value) > 40
    assert value in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    # Reloading the page never shows it again; the list shows only its first characters.
    again = client.get("/account/tokens/").content.decode()
    assert value not in again
    assert "Month-end script" in again
    assert value[:12] in again

    api = Client().get("/api/v1/tokens", **bearer(value))
    assert api.status_code == 200
    assert [token["name"] for token in api.json()] == ["Month-end script"]


def test_the_token_value_is_never_stored_in_plain_text(alice: User) -> None:
    value = create_on_page(signed_in(alice), "Nightly export")

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608 - our own table name
        rows = cursor.fetchall()
    assert len(rows) == 1
    stored = " ".join(str(column) for column in rows[0])
    assert value not in stored
    assert value[12:] not in stored, "more than the short prefix is stored"
    token = ApiToken.objects.get()
    assert token.prefix == value[:12]
    assert token.token_hash != value and len(token.token_hash) == 64


def test_creating_and_revoking_are_audited_without_the_token(alice: User) -> None:
    client = signed_in(alice)
    value = create_on_page(client, "CI")
    token = ApiToken.objects.get()
    client.post(f"/account/tokens/{token.pk}/revoke/")

    events = list(AuditEvent.objects.order_by("id"))
    assert [event.action for event in events] == ["api_token.created", "api_token.revoked"]
    for event in events:
        assert (event.account, event.actor, event.target_id) == (
            alice.account,
            alice,
            str(token.pk),
        )
        recorded = json.dumps([event.details, event.target_repr])
        assert value not in recorded and token.token_hash not in recorded


def test_the_list_shows_last_use_and_revocation(bob: User) -> None:
    client = signed_in(bob)
    clock.set_now(MOMENT)
    value = create_on_page(client, "Reporting")
    page = client.get("/account/tokens/").content.decode()
    assert "Never" in page

    clock.set_now(MOMENT + timedelta(hours=5))
    Client().get("/api/v1/tokens", **bearer(value))
    page = client.get("/account/tokens/").content.decode()
    assert "2 Mar 2026 14:00" in page

    client.post(f"/account/tokens/{ApiToken.objects.get().pk}/revoke/")
    page = client.get("/account/tokens/").content.decode()
    assert "Revoked 2 Mar 2026 14:00" in page


def test_an_empty_name_is_refused_with_a_message(bob: User) -> None:
    response = signed_in(bob).post("/account/tokens/", {"name": "   "})
    assert response.status_code == 200
    assert response.context["issued"] is None
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_member_sees_only_their_own_tokens(alice: User, bob: User) -> None:
    do_create_api_token(alice, "Alice's script")
    do_create_api_token(bob, "Bob's script")
    page = signed_in(bob).get("/account/tokens/").content.decode()
    assert "Bob&#x27;s script" in page
    assert "Alice" not in page.split("Your tokens", 1)[1]


def test_revoking_someone_elses_token_is_not_found(alice: User, bob: User) -> None:
    # Even the account-admin cannot revoke a colleague's token through the personal page.
    issued = do_create_api_token(bob, "Bob's script")
    response = signed_in(alice).post(f"/account/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_revoking_twice_says_so_and_records_once(bob: User) -> None:
    client = signed_in(bob)
    create_on_page(client, "Old laptop")
    token = ApiToken.objects.get()
    client.post(f"/account/tokens/{token.pk}/revoke/")
    response = client.post(f"/account/tokens/{token.pk}/revoke/", follow=True)
    assert "was already revoked" in response.content.decode()
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_revoke_only_accepts_post(bob: User) -> None:
    issued = do_create_api_token(bob, "Script")
    response = signed_in(bob).get(f"/account/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 405
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def emulating(admin: User, target: User) -> Client:
    client = signed_in(admin)
    session = client.session
    session[SESSION_EMULATED_USER] = target.pk
    session[SESSION_EMULATION_STARTED] = clock.now().isoformat()
    session.save()
    return client


def test_tokens_are_refused_while_emulating(alice: User, bob: User) -> None:
    issued = do_create_api_token(bob, "Bob's script")
    client = emulating(alice, bob)

    assert client.get("/account/tokens/").status_code == 403
    assert client.post("/account/tokens/", {"name": "sneaky"}).status_code == 403
    assert client.post(f"/account/tokens/{issued.token.pk}/revoke/").status_code == 403
    assert client.get("/api/v1/tokens").status_code == 403
    assert (
        client.post(
            "/api/v1/tokens", {"name": "sneaky"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert ApiToken.objects.count() == 1


def test_support_access_cannot_create_tokens(account: Account, alice: User) -> None:
    staff = User.objects.create_user("ops@ledgerbridge.example", "x" * 16, is_staff=True)
    TOTP.activate(staff, generate_totp_secret())  # instance staff always have a second factor
    SupportGrant.objects.create(
        account=account, granted_by=alice, expires_at=clock.now() + timedelta(hours=1)
    )
    client = signed_in(staff)
    session = client.session
    session[SESSION_SUPPORT_ACCOUNT] = account.pk
    session.save()

    response = client.post("/account/tokens/", {"name": "backdoor"})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


# --- the token as a credential ----------------------------------------------------------------


def test_using_a_token_records_when_it_was_last_used(bob: User) -> None:
    issued = do_create_api_token(bob, "Script")
    assert issued.token.last_used_at is None

    clock.set_now(MOMENT)
    Client().get("/api/v1/tokens", **bearer(issued.value))
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == MOMENT

    clock.advance(timedelta(days=3))
    Client().get("/api/v1/tokens", **bearer(issued.value))
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == MOMENT + timedelta(days=3)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda issued: do_revoke_api_token(issued.token), id="revoked"),
        pytest.param(
            lambda issued: User.objects.filter(pk=issued.token.user_id).update(is_active=False),
            id="owner-disabled",
        ),
    ],
)
def test_a_revoked_token_or_one_of_a_disabled_user_is_refused(bob: User, spoil: Any) -> None:
    issued = do_create_api_token(bob, "Script")
    assert Client().get("/api/v1/tokens", **bearer(issued.value)).status_code == 200
    spoil(issued)

    response = Client().get("/api/v1/tokens", **bearer(issued.value))
    assert response.status_code == 401
    assert_matches_openapi(response)


@pytest.mark.parametrize(
    "header",
    ["Bearer lbk_not-a-real-token", "Bearer not-even-our-format", "Token abc", ""],
)
def test_a_wrong_or_missing_token_is_refused(bob: User, header: str) -> None:
    do_create_api_token(bob, "Script")
    response = Client().get("/api/v1/tokens", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_a_token_carries_exactly_its_owners_permissions(alice: User, bob: User) -> None:
    factory = RequestFactory()
    needs_user_admin = ViewRule(Perm.MANAGE_USERS)
    for owner, allowed in [(alice, True), (bob, False)]:
        value = do_create_api_token(owner, "Script").value
        request = factory.get("/api/v1/anything", **bearer(value))
        assert TokenAuth()(request) == owner
        if allowed:
            check(request, needs_user_admin)
        else:
            with pytest.raises(PermissionDenied):
                check(request, needs_user_admin)
        check(request, ViewRule(Perm.MANAGE_OWN_PROFILE))


# --- the API operations -----------------------------------------------------------------------


def test_api_create_list_and_revoke_match_the_document(bob: User) -> None:
    document = openapi_document()
    session = signed_in(bob)

    created = session.post(
        "/api/v1/tokens", {"name": "From the API"}, content_type="application/json"
    )
    assert created.status_code == 201
    assert_matches_openapi(created, document)
    value = created.json()["token"]
    assert value.startswith("lbk_")
    assert ApiToken.objects.get().token_hash != value

    listed = Client().get("/api/v1/tokens", **bearer(value))
    assert_matches_openapi(listed, document)
    assert listed.json()[0]["prefix"] == value[:12]
    assert "token" not in listed.json()[0]

    token_id = created.json()["id"]
    revoked = Client().post(f"/api/v1/tokens/{token_id}/revoke", **bearer(value))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert_matches_openapi(revoked, document)
    # The token revoked itself: it stops working at once.
    assert Client().get("/api/v1/tokens", **bearer(value)).status_code == 401


def test_api_refuses_another_members_token_and_anonymous_callers(alice: User, bob: User) -> None:
    document = openapi_document()
    issued = do_create_api_token(alice, "Alice's script")
    own = do_create_api_token(bob, "Bob's script").value

    response = Client().post(f"/api/v1/tokens/{issued.token.pk}/revoke", **bearer(own))
    assert response.status_code == 404
    assert_matches_openapi(response, document)
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None

    anonymous = Client().get("/api/v1/tokens")
    assert anonymous.status_code == 401
    assert_matches_openapi(anonymous, document)


def test_api_refuses_a_blank_name(bob: User) -> None:
    response = signed_in(bob).post(
        "/api/v1/tokens", {"name": "   "}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Give the token a name."}
    assert_matches_openapi(response)
    assert not ApiToken.objects.exists()


def test_api_emulation_refusal_matches_the_document(alice: User, bob: User) -> None:
    response = emulating(alice, bob).get("/api/v1/tokens")
    assert response.status_code == 403
    assert_matches_openapi(response)
