"""The Users screen: list, invite, edit, resend, revoke, disable, enable; account admins only."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import NoReverseMatch, reverse

from ledgerbridge.accounts.access import SESSION_EMULATED_USER, SESSION_EMULATION_STARTED
from ledgerbridge.accounts.models import Account, ApiToken, User
from ledgerbridge.companies.models import Company
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from tests.accounts.users.conftest import link_in_last_email, make_api_token, set_password_with

pytestmark = pytest.mark.django_db

INVITE = {
    "email": "Carol@Northwind.example",
    "first_name": "Carol",
    "last_name": "Clerk",
    "role": "user",
}
LAST_ADMIN = "Northwind MSP must keep at least one active account admin."


def messages_on(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def table_rows(html: str) -> list[list[str]]:
    """The users table as text: one list of cell texts per member."""
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r'<tr class="user-row.*?</tr>', html, re.DOTALL)
    ]


def invite_carol(admin_client: Client, committing: Callable[[], Any], **extra: Any) -> User:
    with committing():
        response = admin_client.post("/account/users/invite/", {**INVITE, **extra})
    assert response.status_code == 302, response.content.decode()[:2000]
    return User.objects.get(email="carol@northwind.example")


# --- list ------------------------------------------------------------------------------------


def test_the_list_shows_role_status_companies_and_last_sign_in(
    admin_client: Client, alice: User, bob: User, harbour: Company, erin: User
) -> None:
    bob.companies.add(harbour)
    carol = User.objects.create_user(
        "carol@northwind.example", None, account=alice.account, invited_at=clock.now()
    )
    User.objects.create_user(
        "dan@northwind.example", "correct horse battery", account=alice.account, is_active=False
    )
    assert not carol.has_usable_password()

    response = admin_client.get("/account/users/")

    assert response.status_code == 200
    html = response.content.decode()
    rows = {row[1]: " | ".join(row) for row in table_rows(html)}
    assert set(rows) == {
        "alice@northwind.example",
        "bob@northwind.example",
        "carol@northwind.example",
        "dan@northwind.example",
    }
    assert "Account admin" in rows["alice@northwind.example"]
    assert "All companies" in rows["alice@northwind.example"]
    assert "Harbour Dental" in rows["bob@northwind.example"]
    assert "Active" in rows["bob@northwind.example"]
    assert "Invited" in rows["carol@northwind.example"]
    assert "Disabled" in rows["dan@northwind.example"]
    assert "Never" in rows["bob@northwind.example"]
    assert "erin@contoso.example" not in html
    assert '<a href="/account/users/" aria-current="page">Users</a>' in html


def test_the_list_shows_when_someone_last_signed_in(admin_client: Client, bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(last_login=clock.now().replace(year=2026, month=2, day=3))
    html = admin_client.get("/account/users/").content.decode()
    assert "3 Feb 2026" in html


# --- invite ----------------------------------------------------------------------------------


def test_inviting_creates_an_invited_user_and_emails_a_link_that_works(
    admin_client: Client, alice: User, harbour: Company, committing: Callable[[], Any]
) -> None:
    carol = invite_carol(admin_client, committing, companies=[harbour.pk])

    assert (carol.first_name, carol.last_name, carol.role) == ("Carol", "Clerk", "user")
    assert carol.account == alice.account
    assert list(carol.companies.all()) == [harbour]
    assert carol.is_invitation_pending
    assert carol.invited_by == alice
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["carol@northwind.example"]
    assert email.subject == "You are invited to Northwind MSP on LedgerBridge"
    assert "Alice Admin (alice@northwind.example) has invited you" in email.body
    assert "works once and expires in 48 hours" in email.body
    html, media = email.alternatives[0]  # type: ignore[attr-defined]
    assert media == "text/html"
    assert "Choose your password" in html
    event = AuditEvent.objects.get(action="user.invited")
    assert (event.actor, event.account, event.target_id) == (alice, alice.account, str(carol.pk))
    assert event.details == {"role": "user", "companies": ["Harbour Dental"]}

    assert set_password_with(Client(), link_in_last_email())["Location"] == "/"


def test_an_invited_admin_gets_no_company_list(
    admin_client: Client, harbour: Company, committing: Callable[[], Any]
) -> None:
    carol = invite_carol(admin_client, committing, role="account-admin", companies=[harbour.pk])
    assert carol.role == "account-admin"
    assert not carol.companies.exists()


def test_the_invite_form_needs_names_and_a_valid_email(admin_client: Client) -> None:
    response = admin_client.post(
        "/account/users/invite/",
        {"email": "carol", "first_name": "", "last_name": " ", "role": "user"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"email", "first_name", "last_name"}
    assert not mail.outbox
    assert not User.objects.filter(email__startswith="carol").exists()


def test_inviting_an_existing_member_says_so(admin_client: Client, bob: User) -> None:
    response = admin_client.post(
        "/account/users/invite/", {**INVITE, "email": "BOB@northwind.example"}
    )
    assert response.status_code == 200
    assert (
        "bob@northwind.example is already a member of Northwind MSP." in response.content.decode()
    )
    assert not mail.outbox


def test_inviting_someone_with_a_login_elsewhere_is_refused(
    admin_client: Client, erin: User
) -> None:
    response = admin_client.post("/account/users/invite/", {**INVITE, "email": erin.email})
    assert response.status_code == 200
    assert "erin@contoso.example already has a LedgerBridge login." in response.content.decode()
    assert "Contoso" not in response.content.decode()
    erin.refresh_from_db()
    assert erin.account is not None and erin.account.name == "Contoso IT"


def test_another_accounts_company_cannot_be_assigned(
    admin_client: Client, contoso_company: Company
) -> None:
    response = admin_client.post(
        "/account/users/invite/", {**INVITE, "companies": [contoso_company.pk]}
    )
    assert response.status_code == 200
    assert "companies" in response.context["form"].errors
    assert "Contoso Retail" not in response.content.decode()
    assert not User.objects.filter(email="carol@northwind.example").exists()


# --- detail and edit -------------------------------------------------------------------------


def test_the_detail_page_offers_what_fits_the_member(
    admin_client: Client, alice: User, bob: User
) -> None:
    bob_page = admin_client.get(f"/account/users/{bob.pk}/").content.decode()
    assert f'action="/account/users/{bob.pk}/disable/"' in bob_page
    assert f'action="{reverse("accounts:emulation-start", args=[bob.pk])}"' in bob_page
    assert "Resend invitation" not in bob_page

    own_page = admin_client.get(f"/account/users/{alice.pk}/").content.decode()
    assert "this is you" in own_page
    assert "/disable/" not in own_page  # nobody disables themselves
    assert "Emulate" not in own_page


def test_the_reset_second_factor_button_appears_for_enrolled_members(
    admin_client: Client, bob: User
) -> None:
    try:
        url = reverse("accounts:user-reset-2fa", args=[bob.pk])
    except NoReverseMatch:
        pytest.skip("the reset-second-factor page arrives with the security area")
    assert url not in admin_client.get(f"/account/users/{bob.pk}/").content.decode()
    Authenticator.objects.create(user=bob, type=Authenticator.Type.TOTP, data={})
    assert f'action="{url}"' in admin_client.get(f"/account/users/{bob.pk}/").content.decode()


def test_editing_names_role_and_companies_is_saved_and_audited(
    admin_client: Client, alice: User, bob: User, harbour: Company, lighthouse: Company
) -> None:
    bob.companies.add(harbour)
    form = admin_client.get(f"/account/users/{bob.pk}/edit/")
    assert form.status_code == 200
    assert 'value="Bob"' in form.content.decode()

    response = admin_client.post(
        f"/account/users/{bob.pk}/edit/",
        {
            "first_name": "Robert",
            "last_name": "User",
            "role": "merchant-user",
            "companies": [lighthouse.pk],
        },
    )

    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.first_name, bob.role) == ("Robert", "merchant-user")
    assert list(bob.companies.all()) == [lighthouse]
    details = {event.action: event.details for event in AuditEvent.objects.all()}
    assert details["user.updated"] == {"first_name": {"old": "Bob", "new": "Robert"}}
    assert details["user.role-changed"] == {"old_role": "user", "new_role": "merchant-user"}
    assert details["user.companies-changed"] == {
        "added": ["Lighthouse Legal"],
        "removed": ["Harbour Dental"],
    }
    assert all(event.actor == alice for event in AuditEvent.objects.all())


def test_promoting_to_admin_clears_the_company_list(
    admin_client: Client, bob: User, harbour: Company
) -> None:
    bob.companies.add(harbour)
    admin_client.post(
        f"/account/users/{bob.pk}/edit/",
        {"first_name": "Bob", "last_name": "User", "role": "account-admin"},
    )
    bob.refresh_from_db()
    assert bob.role == "account-admin"
    assert not bob.companies.exists()
    event = AuditEvent.objects.get(action="user.role-changed")
    assert event.details == {
        "old_role": "user",
        "new_role": "account-admin",
        "companies_cleared": ["Harbour Dental"],
    }


def test_the_last_active_admin_cannot_be_demoted(admin_client: Client, alice: User) -> None:
    # An admin who never accepted their invitation cannot rescue the account, so does not count.
    User.objects.create_user(
        "pending@northwind.example", None, account=alice.account, role="account-admin"
    )
    response = admin_client.post(
        f"/account/users/{alice.pk}/edit/",
        {"first_name": "Alicia", "last_name": "Admin", "role": "user"},
    )

    assert response.status_code == 200
    assert LAST_ADMIN in response.content.decode()
    alice.refresh_from_db()
    # Nothing of the edit was saved, not even the name.
    assert (alice.role, alice.first_name) == ("account-admin", "Alice")
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()


def test_an_admin_can_step_down_while_another_admin_is_active(
    admin_client: Client, alice: User, bob: User
) -> None:
    User.objects.filter(pk=bob.pk).update(role="account-admin")
    admin_client.post(
        f"/account/users/{alice.pk}/edit/",
        {"first_name": "Alice", "last_name": "Admin", "role": "user"},
    )
    alice.refresh_from_db()
    assert alice.role == "user"
    # She no longer manages users.
    assert admin_client.get("/account/users/").status_code == 403


# --- resend and revoke -----------------------------------------------------------------------


def test_resending_sends_a_new_link_and_kills_the_old_one(
    admin_client: Client, committing: Callable[[], Any]
) -> None:
    carol = invite_carol(admin_client, committing)
    first_link = link_in_last_email()

    with committing():
        response = admin_client.post(f"/account/users/{carol.pk}/resend-invitation/", follow=True)

    assert "A new invitation is on its way to carol@northwind.example" in messages_on(response)[-1]
    assert len(mail.outbox) == 2
    second_link = link_in_last_email()
    assert second_link != first_link
    assert "expired or was already used" in Client().get(first_link).content.decode()
    assert set_password_with(Client(), second_link)["Location"] == "/"
    assert AuditEvent.objects.filter(action="user.invitation-resent").count() == 1


def test_resending_to_someone_who_already_has_a_password_is_refused(
    admin_client: Client, bob: User
) -> None:
    response = admin_client.post(f"/account/users/{bob.pk}/resend-invitation/", follow=True)
    assert messages_on(response) == [
        "bob@northwind.example has already set a password, so there is no invitation to resend."
    ]
    assert not mail.outbox


def test_revoking_an_invitation_kills_the_link_and_disables_the_user(
    admin_client: Client, committing: Callable[[], Any]
) -> None:
    carol = invite_carol(admin_client, committing)
    link = link_in_last_email()

    response = admin_client.post(f"/account/users/{carol.pk}/revoke-invitation/", follow=True)

    assert "The invitation to carol@northwind.example is revoked" in messages_on(response)[-1]
    carol.refresh_from_db()
    assert not carol.is_active
    assert "expired or was already used" in Client().get(link).content.decode()
    assert "Disabled" in admin_client.get("/account/users/").content.decode()
    assert AuditEvent.objects.filter(action="user.invitation-revoked").exists()


# --- disable and enable ----------------------------------------------------------------------


def test_disabling_ends_sessions_and_api_tokens_at_once(
    admin_client: Client, bob: User, bob_client: Client
) -> None:
    # One session made by allauth's sign-in (tracked), one made directly (found by decoding).
    tracked = Client()
    tracked.post(
        "/accounts/login/", {"login": "bob@northwind.example", "password": "correct horse battery"}
    )
    assert UserSession.objects.filter(user=bob).count() == 1
    token = make_api_token(bob)
    assert bob_client.get("/").status_code == 200
    assert Client().get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403

    response = admin_client.post(f"/account/users/{bob.pk}/disable/", follow=True)

    assert "bob@northwind.example is disabled" in messages_on(response)[0]
    bob.refresh_from_db()
    assert not bob.is_active
    # Signed out on the very next request, in every browser.
    for client in (bob_client, tracked):
        answer = client.get("/")
        assert answer.status_code == 302
        assert answer["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=bob).exists()
    assert not [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(bob.pk)
    ]
    assert ApiToken.objects.get(user=bob).revoked_at is not None
    assert Client().get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    event = AuditEvent.objects.get(action="user.disabled")
    assert event.details == {"sessions_ended": 2, "api_tokens_revoked": 1}
    # The admin's own session is untouched.
    assert admin_client.get("/account/users/").status_code == 200


def test_enabling_lets_them_sign_in_again(admin_client: Client, bob: User) -> None:
    admin_client.post(f"/account/users/{bob.pk}/disable/")
    refused = Client()
    refused.post(
        "/accounts/login/", {"login": "bob@northwind.example", "password": "correct horse battery"}
    )
    assert "_auth_user_id" not in refused.session

    response = admin_client.post(f"/account/users/{bob.pk}/enable/", follow=True)

    assert messages_on(response)[-1] == "bob@northwind.example is enabled again."
    signed_in = Client()
    answer = signed_in.post(
        "/accounts/login/", {"login": "bob@northwind.example", "password": "correct horse battery"}
    )
    assert answer.status_code == 302
    assert signed_in.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="user.enabled").exists()


def test_the_last_active_admin_cannot_be_disabled(account: Account, alice: User, bob: User) -> None:
    # Alice cannot disable herself from the page; a second admin cannot remove the last one either.
    from ledgerbridge.accounts.actions.users import LastAdminError, do_disable_user

    with pytest.raises(LastAdminError, match=LAST_ADMIN):
        do_disable_user(alice, acting_user=None)
    alice.refresh_from_db()
    assert alice.is_active


def test_an_admin_cannot_disable_themselves(admin_client: Client, alice: User, bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(role="account-admin")
    response = admin_client.post(f"/account/users/{alice.pk}/disable/", follow=True)
    assert messages_on(response) == [
        "You cannot disable your own login; ask another account admin to do it."
    ]
    alice.refresh_from_db()
    assert alice.is_active


def test_the_buttons_only_take_posts(admin_client: Client, bob: User) -> None:
    assert admin_client.get(f"/account/users/{bob.pk}/disable/").status_code == 405
    bob.refresh_from_db()
    assert bob.is_active


# --- who may use the screen ------------------------------------------------------------------

USER_PAGES = [
    ("get", "/account/users/"),
    ("get", "/account/users/invite/"),
    ("post", "/account/users/invite/"),
    ("get", "/account/users/{id}/"),
    ("get", "/account/users/{id}/edit/"),
    ("post", "/account/users/{id}/edit/"),
    ("post", "/account/users/{id}/resend-invitation/"),
    ("post", "/account/users/{id}/revoke-invitation/"),
    ("post", "/account/users/{id}/disable/"),
    ("post", "/account/users/{id}/enable/"),
]


@pytest.mark.parametrize(("method", "url"), USER_PAGES)
def test_a_member_with_the_user_role_is_refused(
    bob_client: Client, alice: User, method: str, url: str
) -> None:
    response = getattr(bob_client, method)(
        url.format(id=alice.pk), INVITE if method == "post" else None
    )
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.is_active and alice.role == "account-admin"


@pytest.mark.parametrize(("method", "url"), [p for p in USER_PAGES if "{id}" in p[1]])
def test_another_accounts_user_is_not_found(
    admin_client: Client, erin: User, method: str, url: str
) -> None:
    response = getattr(admin_client, method)(
        url.format(id=erin.pk), INVITE if method == "post" else None
    )
    assert response.status_code == 404
    erin.refresh_from_db()
    assert erin.is_active and erin.first_name == "Erin"


def test_an_anonymous_visitor_is_sent_to_sign_in(client: Client, bob: User) -> None:
    response = client.get("/account/users/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_screen_is_refused_while_emulating(admin_client: Client, bob: User) -> None:
    session = admin_client.session
    session[SESSION_EMULATED_USER] = bob.pk
    session[SESSION_EMULATION_STARTED] = clock.now().isoformat()
    session.save()

    assert admin_client.get("/account/users/").status_code == 403
    assert admin_client.post(f"/account/users/{bob.pk}/disable/").status_code == 403
    bob.refresh_from_db()
    assert bob.is_active


def test_the_users_link_is_shown_only_to_admins(admin_client: Client, bob_client: Client) -> None:
    assert 'href="/account/users/"' in admin_client.get("/").content.decode()
    assert 'href="/account/users/"' not in bob_client.get("/").content.decode()
