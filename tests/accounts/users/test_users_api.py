"""The users API: the Users screen's actions for scripts, checked against the OpenAPI document."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ledgerbridge.accounts.models import ApiToken, User
from ledgerbridge.companies.models import Company
from ledgerbridge.core.models import AuditEvent
from tests.accounts.users.conftest import link_in_last_email, make_api_token, set_password_with
from tests.api.openapi import assert_matches_openapi, openapi_document

pytestmark = pytest.mark.django_db

CAROL = {
    "email": "Carol@Northwind.example",
    "first_name": "Carol",
    "last_name": "Clerk",
    "role": "user",
}


@pytest.fixture(scope="module")
def document(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return openapi_document()


@pytest.fixture
def api(alice: User) -> Client:
    """Alice's script, authenticated with her personal API token."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}")


def checked(response: Any, document: dict[str, Any], status: int) -> Any:
    assert response.status_code == status, response.content.decode()[:1000]
    assert_matches_openapi(response, document)
    return response.json()


def test_every_users_operation_is_in_the_document(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert set(paths["/api/v1/users"]) == {"get", "post"}
    assert set(paths["/api/v1/users/{user_id}"]) == {"get", "patch"}
    for action in ("disable", "enable", "resend-invitation", "revoke-invitation"):
        assert set(paths[f"/api/v1/users/{{user_id}}/{action}"]) == {"post"}


def test_listing_shows_the_accounts_members_only(
    api: Client, alice: User, bob: User, harbour: Company, erin: User, document: dict[str, Any]
) -> None:
    bob.companies.add(harbour)
    body = checked(api.get("/api/v1/users"), document, 200)

    assert [member["email"] for member in body] == [alice.email, bob.email]
    admin, user = body
    assert (admin["role"], admin["status"], admin["all_companies"]) == (
        "account-admin",
        "active",
        True,
    )
    assert user["companies"] == [{"id": harbour.pk, "name": "Harbour Dental"}]


def test_a_browser_session_works_too(alice: User, document: dict[str, Any]) -> None:
    client = Client()
    client.force_login(alice)
    checked(client.get("/api/v1/users"), document, 200)


def test_inviting_sends_the_email_and_answers_201(
    api: Client,
    alice: User,
    harbour: Company,
    committing: Callable[[], Any],
    document: dict[str, Any],
) -> None:
    with committing():
        response = api.post(
            "/api/v1/users", {**CAROL, "companies": [harbour.pk]}, content_type="application/json"
        )

    body = checked(response, document, 201)
    assert body["email"] == "carol@northwind.example"
    assert body["status"] == "invited"
    assert body["companies"] == [{"id": harbour.pk, "name": "Harbour Dental"}]
    assert "set-password" not in response.content.decode()  # the link goes only to Carol
    assert mail.outbox[0].to == ["carol@northwind.example"]
    assert AuditEvent.objects.get(action="user.invited").actor == alice
    assert set_password_with(Client(), link_in_last_email())["Location"] == "/"


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"email": "bob@northwind.example"}, 409, "bob@northwind.example is already a member"),
        ({"email": "erin@contoso.example"}, 409, "erin@contoso.example already has a LedgerBridge"),
        ({"email": "carol"}, 400, "“carol” is not a valid email address."),
        ({"first_name": "  "}, 400, "Enter the first name."),
    ],
)
def test_a_refused_invitation_says_why(
    api: Client,
    bob: User,
    erin: User,
    document: dict[str, Any],
    change: dict[str, str],
    status: int,
    detail: str,
) -> None:
    response = api.post("/api/v1/users", {**CAROL, **change}, content_type="application/json")
    assert checked(response, document, status)["detail"].startswith(detail)
    assert not mail.outbox


def test_another_accounts_company_is_refused(
    api: Client, contoso_company: Company, document: dict[str, Any]
) -> None:
    response = api.post(
        "/api/v1/users",
        {**CAROL, "companies": [contoso_company.pk]},
        content_type="application/json",
    )
    assert checked(response, document, 400) == {
        "detail": "Some of the chosen companies do not belong to Northwind MSP."
    }
    assert not User.objects.filter(email="carol@northwind.example").exists()


def test_patching_changes_names_role_and_companies(
    api: Client, bob: User, harbour: Company, document: dict[str, Any]
) -> None:
    response = api.patch(
        f"/api/v1/users/{bob.pk}",
        {"last_name": "Builder", "role": "merchant-admin", "companies": [harbour.pk]},
        content_type="application/json",
    )
    body = checked(response, document, 200)
    assert (body["first_name"], body["last_name"], body["role"]) == (
        "Bob",
        "Builder",
        "merchant-admin",
    )
    assert body["companies"] == [{"id": harbour.pk, "name": "Harbour Dental"}]
    event = AuditEvent.objects.get(action="user.role-changed")
    assert event.details == {"old_role": "user", "new_role": "merchant-admin"}


def test_the_last_admin_cannot_be_demoted(
    api: Client, alice: User, document: dict[str, Any]
) -> None:
    response = api.patch(
        f"/api/v1/users/{alice.pk}", {"role": "user"}, content_type="application/json"
    )
    assert checked(response, document, 409) == {
        "detail": "Northwind MSP must keep at least one active account admin."
    }
    alice.refresh_from_db()
    assert alice.role == "account-admin"


def test_disabling_revokes_tokens_and_enabling_restores_sign_in(
    api: Client, bob: User, document: dict[str, Any]
) -> None:
    token = make_api_token(bob)
    bobs_script = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bobs_script.get("/api/v1/users").status_code == 403  # known, but not an admin

    body = checked(api.post(f"/api/v1/users/{bob.pk}/disable"), document, 200)

    assert body["status"] == "disabled"
    assert ApiToken.objects.get(user=bob).revoked_at is not None
    assert bobs_script.get("/api/v1/users").status_code == 401
    again = checked(api.post(f"/api/v1/users/{bob.pk}/disable"), document, 400)
    assert again == {"detail": "bob@northwind.example is already disabled."}

    assert checked(api.post(f"/api/v1/users/{bob.pk}/enable"), document, 200)["status"] == "active"
    # A revoked token stays revoked: enabling does not bring old credentials back.
    assert bobs_script.get("/api/v1/users").status_code == 401


def test_resend_and_revoke_an_invitation(
    api: Client, committing: Callable[[], Any], document: dict[str, Any]
) -> None:
    with committing():
        carol_id = api.post("/api/v1/users", CAROL, content_type="application/json").json()["id"]
    first_link = link_in_last_email()

    with committing():
        body = checked(api.post(f"/api/v1/users/{carol_id}/resend-invitation"), document, 200)
    assert body["status"] == "invited"
    assert len(mail.outbox) == 2
    assert link_in_last_email() != first_link

    body = checked(api.post(f"/api/v1/users/{carol_id}/revoke-invitation"), document, 200)
    assert body["status"] == "disabled"
    refused = checked(api.post(f"/api/v1/users/{carol_id}/resend-invitation"), document, 409)
    assert refused == {
        "detail": "carol@northwind.example is disabled. "
        "Enable them before resending the invitation."
    }


def test_resending_to_an_active_user_is_a_conflict(
    api: Client, bob: User, document: dict[str, Any]
) -> None:
    body = checked(api.post(f"/api/v1/users/{bob.pk}/resend-invitation"), document, 409)
    assert body == {
        "detail": "bob@northwind.example has already set a password, so there is no invitation "
        "to resend."
    }


OPERATIONS = [
    ("get", "/api/v1/users/{id}"),
    ("patch", "/api/v1/users/{id}"),
    ("post", "/api/v1/users/{id}/disable"),
    ("post", "/api/v1/users/{id}/enable"),
    ("post", "/api/v1/users/{id}/resend-invitation"),
    ("post", "/api/v1/users/{id}/revoke-invitation"),
]


@pytest.mark.parametrize(("method", "url"), OPERATIONS)
def test_another_accounts_user_is_404(
    api: Client, erin: User, document: dict[str, Any], method: str, url: str
) -> None:
    response = getattr(api, method)(
        url.format(id=erin.pk), {"first_name": "X"}, content_type="application/json"
    )
    checked(response, document, 404)
    erin.refresh_from_db()
    assert erin.is_active and erin.first_name == "Erin"


@pytest.mark.parametrize(
    ("method", "url"), [("get", "/api/v1/users"), ("post", "/api/v1/users"), *OPERATIONS]
)
def test_the_user_role_gets_403(
    alice: User, bob: User, document: dict[str, Any], method: str, url: str
) -> None:
    bobs_script = Client(HTTP_AUTHORIZATION=f"Bearer {make_api_token(bob)}")
    response = getattr(bobs_script, method)(
        url.format(id=alice.pk), {**CAROL, "role": "user"}, content_type="application/json"
    )
    checked(response, document, 403)
    alice.refresh_from_db()
    assert alice.is_active and alice.role == "account-admin"


def test_without_credentials_the_answer_is_401(client: Client, document: dict[str, Any]) -> None:
    checked(client.get("/api/v1/users"), document, 401)


def test_a_role_that_does_not_exist_is_refused_as_documented(
    api: Client, bob: User, document: dict[str, Any]
) -> None:
    response = api.patch(
        f"/api/v1/users/{bob.pk}", {"role": "boss"}, content_type="application/json"
    )
    body = checked(response, document, 422)
    assert body["detail"][0]["loc"][-1] == "role"
    bob.refresh_from_db()
    assert bob.role == "user"


def test_patching_one_name_leaves_the_other_alone(
    api: Client, alice: User, document: dict[str, Any]
) -> None:
    # The first admin from `createaccount` may have no names yet.
    nameless = User.objects.create_user(
        "dana@northwind.example", "correct horse battery", account=alice.account
    )
    response = api.patch(
        f"/api/v1/users/{nameless.pk}", {"first_name": "Dana"}, content_type="application/json"
    )
    body = checked(response, document, 200)
    assert (body["first_name"], body["last_name"]) == ("Dana", "")
    blank = api.patch(
        f"/api/v1/users/{nameless.pk}", {"last_name": " "}, content_type="application/json"
    )
    assert checked(blank, document, 400) == {"detail": "Enter the last name."}
