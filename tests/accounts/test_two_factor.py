"""Two-factor authentication: enrolment policy, drift tolerance, code reuse, admin reset, help."""

import re
from datetime import timedelta
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client, RequestFactory

from ledgerbridge.accounts.access import SESSION_EMULATED_USER, SESSION_EMULATION_STARTED
from ledgerbridge.accounts.middleware import may_add_first_factor_without_reauthentication
from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from tests.accounts.security_flows import (
    PASSWORD,
    allauth_time_moved,
    browser,
    enrol_totp,
    errors,
    is_signed_in,
    member,
    recovery_codes,
    required_account,
    sign_in,
    submit_code,
    submit_password,
    totp_code,
)

pytestmark = pytest.mark.django_db

ENROL = "/accounts/2fa/totp/activate/"


@pytest.fixture
def fabrikam() -> Account:
    return required_account()


@pytest.fixture
def dana(fabrikam: Account) -> User:
    """An account-admin of an account that requires two-factor, not enrolled yet."""
    return member(fabrikam, "dana@fabrikam.example")


# --- enrolment is required before any page -------------------------------------------------------


def test_a_member_of_a_required_account_must_enrol_before_any_page(dana: User) -> None:
    client = browser()
    response = sign_in(client, dana)
    assert response.status_code == 302

    for page in ["/", "/account/profile/", "/accounts/password/change/", "/accounts/sessions/"]:
        response = client.get(page)
        assert (response.status_code, response["Location"]) == (302, ENROL), page


def test_enrolment_leaves_sign_out_help_static_files_and_health_open(dana: User) -> None:
    client = browser()
    sign_in(client, dana)

    assert client.get("/account/codes-not-working/").status_code == 200
    assert client.get("/static/web/ledgerbridge.css").status_code == 200
    assert client.get("/api/v1/health").status_code in (200, 503)
    assert client.post("/accounts/logout/").status_code == 302
    assert not is_signed_in(client)


def test_the_api_refuses_a_browser_session_that_has_not_enrolled(dana: User) -> None:
    client = browser()
    sign_in(client, dana)

    response = client.get("/api/v1/tokens")

    assert response.status_code == 403
    assert response.json() == {"detail": "Two-factor enrolment required"}


def test_enrolment_shows_qr_and_secret_then_recovery_codes_then_the_dashboard(dana: User) -> None:
    client = browser()
    sign_in(client, dana)

    page = client.get(ENROL, follow=True)
    if page.redirect_chain:
        # allauth asks for the password again before a second factor is added.
        assert page.redirect_chain[-1][0].startswith("/accounts/reauthenticate/")
        page = client.post(page.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
    html = page.content.decode()
    assert "Your account requires two-factor authentication" in html
    assert 'src="data:image/svg+xml;base64,' in html
    secret = re.search(r'data-secret="([A-Z2-7]+)"', html)
    assert secret, "the setup key is shown as text"

    done = client.post(ENROL, {"code": totp_code(secret.group(1))}, follow=True)

    assert done.redirect_chain[-1][0] == "/accounts/2fa/recovery-codes/"
    codes = re.findall(r"<li>([0-9a-z]{8})</li>", done.content.decode())
    assert len(codes) == 10
    assert sorted(codes) == sorted(recovery_codes(dana))
    assert 'href="/"' in done.content.decode()
    assert is_signed_in(client)


def test_optional_accounts_do_not_force_enrolment(account: Account) -> None:
    erin = member(account, "erin@northwind.example", role="user")
    client = browser()
    sign_in(client, erin)

    assert is_signed_in(client)


def test_instance_staff_must_always_enrol() -> None:
    ops = member(None, "ops@ledgerbridge.example", is_staff=True)
    client = browser()
    sign_in(client, ops)

    assert client.get("/")["Location"] == ENROL


# --- codes: drift and reuse ----------------------------------------------------------------------


@pytest.mark.parametrize("drift", [-30, 0, 30])
def test_codes_from_the_previous_and_next_step_are_accepted(dana: User, drift: int) -> None:
    secret = enrol_totp(dana)
    client = browser()
    code = totp_code(secret)
    submit_password(client, dana.email)

    # The server's clock is `drift` seconds away from the phone's.
    with allauth_time_moved(drift):
        response = submit_code(client, code)

    assert response.status_code == 302, errors(response)
    assert is_signed_in(client)


@pytest.mark.parametrize("drift", [-60, 60])
def test_codes_two_steps_away_are_refused(dana: User, drift: int) -> None:
    secret = enrol_totp(dana)
    client = browser()
    code = totp_code(secret)
    submit_password(client, dana.email)

    with allauth_time_moved(drift):
        response = submit_code(client, code)

    assert response.status_code == 200
    assert "Incorrect code" in errors(response)
    assert not is_signed_in(client)


def test_a_used_code_is_refused_while_it_would_still_be_valid(dana: User) -> None:
    secret = enrol_totp(dana)
    code = totp_code(secret)
    first = browser()
    submit_password(first, dana.email)
    assert submit_code(first, code).status_code == 302

    for later in (0, 40, 80):  # the code itself stays valid for three 30-second steps
        replay = browser(ip="203.0.113.9")
        submit_password(replay, dana.email)
        with allauth_time_moved(later):
            response = submit_code(replay, code)
        assert "Incorrect code" in errors(response), later
        assert not is_signed_in(replay)

    # The phone's next code works as usual.
    fresh = browser()
    submit_password(fresh, dana.email)
    with allauth_time_moved(30):
        assert submit_code(fresh, totp_code(secret, offset=30)).status_code == 302
    assert is_signed_in(fresh)


def test_a_recovery_code_signs_in_once(dana: User) -> None:
    enrol_totp(dana)
    code = recovery_codes(dana)[0]
    client = browser()
    submit_password(client, dana.email)
    assert submit_code(client, code).status_code == 302
    assert is_signed_in(client)

    again = browser()
    submit_password(again, dana.email)
    assert "Incorrect code" in errors(submit_code(again, code))
    assert len(recovery_codes(dana)) == 9


def test_recovery_codes_can_be_regenerated(dana: User) -> None:
    secret = enrol_totp(dana)
    old = set(recovery_codes(dana))
    client = browser()
    sign_in(client, dana, secret)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    response = client.post("/accounts/2fa/recovery-codes/generate/", follow=True)

    new = set(recovery_codes(dana))
    assert response.status_code == 200
    assert len(new) == 10
    assert not old & new


# --- the code prompt and the help page -----------------------------------------------------------


def test_codes_help_is_public_and_linked_from_the_code_prompt(dana: User) -> None:
    enrol_totp(dana)
    client = browser()
    submit_password(client, dana.email)

    prompt = client.get("/accounts/2fa/authenticate/").content.decode()
    assert 'href="/account/codes-not-working/"' in prompt

    help_page = Client().get("/account/codes-not-working/").content.decode()
    assert "Time correction for codes" in help_page
    assert "automatic" in help_page
    assert "recovery code" in help_page
    assert "account admin" in help_page


# --- an account admin resets someone's second factor ---------------------------------------------


@pytest.fixture
def frank(fabrikam: Account) -> User:
    return member(fabrikam, "frank@fabrikam.example", role="user")


def admin_client(admin: User) -> Client:
    secret = enrol_totp(admin)
    client = browser(ip="192.0.2.1")
    sign_in(client, admin, secret)
    return client


def test_an_admin_resets_a_members_second_factor(
    dana: User, frank: User, django_capture_on_commit_callbacks: Any
) -> None:
    frank_secret = enrol_totp(frank)
    franks_browser = browser(ip="192.0.2.50")
    sign_in(franks_browser, frank, frank_secret)
    assert is_signed_in(franks_browser)
    admin = admin_client(dana)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/account/users/{frank.pk}/reset-2fa/", follow=True)

    assert response.status_code == 200
    assert "is reset" in response.content.decode()
    assert not Authenticator.objects.filter(user=frank).exists()
    assert not UserSession.objects.filter(user=frank).exists()
    assert not is_signed_in(franks_browser)
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert (event.actor, event.target_id, event.account) == (dana, str(frank.pk), dana.account)
    assert event.details["removed"] == ["recovery_codes", "totp"]
    [notice] = mail.outbox
    assert isinstance(notice, EmailMultiAlternatives)
    assert notice.to == [frank.email]
    assert "set up your authenticator app again" in str(notice.body)
    assert "set up your authenticator app again" in str(notice.alternatives[0][0])

    # Frank signs in with his password alone and is sent to enrol again.
    client = browser(ip="192.0.2.51")
    response = submit_password(client, frank.email)
    assert response["Location"] != "/accounts/2fa/authenticate/"
    assert client.get("/")["Location"] == ENROL


def test_after_a_reset_in_an_optional_account_the_member_has_no_second_factor(
    account: Account, alice: User, bob: User
) -> None:
    secret = enrol_totp(bob)
    admin = admin_client(alice)
    admin.post(f"/account/users/{bob.pk}/reset-2fa/")

    client = browser()
    sign_in(client, bob, secret=None)
    assert is_signed_in(client)
    assert secret


def test_reset_is_refused_for_a_member_of_another_account(dana: User, bob: User) -> None:
    enrol_totp(bob)
    admin = admin_client(dana)

    assert admin.post(f"/account/users/{bob.pk}/reset-2fa/").status_code == 404
    assert Authenticator.objects.filter(user=bob).exists()


def test_reset_is_refused_to_a_user_role_and_while_emulating(
    dana: User, frank: User, fabrikam: Account
) -> None:
    gina = member(fabrikam, "gina@fabrikam.example", role="user")
    enrol_totp(gina)
    user_role = admin_client(frank)
    assert user_role.post(f"/account/users/{gina.pk}/reset-2fa/").status_code == 403

    admin = admin_client(dana)
    session = admin.session
    session[SESSION_EMULATED_USER] = frank.pk
    session[SESSION_EMULATION_STARTED] = clock.now().isoformat()
    session.save()
    assert admin.post(f"/account/users/{gina.pk}/reset-2fa/").status_code == 403
    assert admin.get("/accounts/2fa/").status_code == 403
    assert Authenticator.objects.filter(user=gina).exists()


def test_a_reset_needs_a_post(dana: User, frank: User) -> None:
    enrol_totp(frank)
    admin = admin_client(dana)

    assert admin.get(f"/account/users/{frank.pk}/reset-2fa/").status_code == 405
    assert Authenticator.objects.filter(user=frank).exists()


def test_the_first_enrolment_just_after_sign_in_may_skip_the_password_prompt(dana: User) -> None:
    # For the account adapter's is_reauthentication_required (see the middleware's docstring).
    start = clock.now()
    clock.set_now(start)
    client = browser()
    sign_in(client, dana)
    request = RequestFactory().get(ENROL)
    request.session = client.session
    request.user = dana

    assert may_add_first_factor_without_reauthentication(request)
    clock.set_now(start + timedelta(minutes=6))
    assert not may_add_first_factor_without_reauthentication(request)
    clock.set_now(start)
    # The factor added in this session (then its recovery codes) needs no second prompt...
    enrol_totp(dana)
    assert may_add_first_factor_without_reauthentication(request)


def test_a_factor_from_before_this_sign_in_still_asks_for_the_password(dana: User) -> None:
    secret = enrol_totp(dana)
    clock.set_now(clock.now() + timedelta(seconds=5))
    client = browser()
    sign_in(client, dana, secret)
    assert is_signed_in(client)
    request = RequestFactory().get(ENROL)
    request.session = client.session
    request.user = dana

    assert not may_add_first_factor_without_reauthentication(request)
