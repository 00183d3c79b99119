"""JSON sign-in for scripts and tests through allauth.headless (the "app" client)."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.conf import settings
from django.test import Client
from django.urls import NoReverseMatch, reverse

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import clock

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"
PASSWORD = "correct horse battery"  # the shared fixtures' password
MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def login(email: str, password: str = PASSWORD) -> Any:
    return Client().post(
        f"{APP}/auth/login", {"email": email, "password": password}, content_type="application/json"
    )


def totp_now(secret: str) -> str:
    # allauth's own HOTP helper, at the current 30-second step.
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def as_script(session_token: str) -> dict[str, str]:
    return {"HTTP_X_SESSION_TOKEN": session_token}


def test_password_only_sign_in_returns_a_session_token(alice: User) -> None:
    assert alice.account is not None and alice.account.two_factor_policy == "optional"
    response = login("alice@northwind.example")

    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["is_authenticated"] is True
    assert body["data"]["user"]["email"] == "alice@northwind.example"
    token = body["meta"]["session_token"]

    session = Client().get(f"{APP}/auth/session", **as_script(token))
    assert session.status_code == 200
    assert session.json()["data"]["user"]["email"] == "alice@northwind.example"


def test_a_second_factor_is_asked_for_and_then_completes_the_sign_in(bob: User) -> None:
    secret = generate_totp_secret()
    TOTP.activate(bob, secret)

    first = login("bob@northwind.example")
    assert first.status_code == 401
    body = first.json()
    assert body["meta"]["is_authenticated"] is False
    pending = [flow for flow in body["data"]["flows"] if flow.get("is_pending")]
    assert [flow["id"] for flow in pending] == ["mfa_authenticate"]
    assert "totp" in pending[0]["types"]
    token = body["meta"]["session_token"]
    # Half signed-in is not signed in: the pending session reaches nothing.
    assert Client().get("/api/v1/tokens", **as_script(token)).status_code == 401

    second = Client().post(
        f"{APP}/auth/2fa/authenticate",
        {"code": totp_now(secret)},
        content_type="application/json",
        **as_script(token),
    )
    assert second.status_code == 200
    assert second.json()["meta"]["is_authenticated"] is True
    assert second.json()["data"]["user"]["email"] == "bob@northwind.example"


def test_a_wrong_second_factor_code_does_not_sign_in(bob: User) -> None:
    secret = generate_totp_secret()
    TOTP.activate(bob, secret)
    token = login("bob@northwind.example").json()["meta"]["session_token"]
    wrong = f"{(int(totp_now(secret)) + 1) % 1_000_000:06d}"

    response = Client().post(
        f"{APP}/auth/2fa/authenticate",
        {"code": wrong},
        content_type="application/json",
        **as_script(token),
    )
    assert response.status_code == 400
    assert Client().get(f"{APP}/auth/session", **as_script(token)).status_code == 401


def test_a_wrong_password_looks_the_same_whether_or_not_the_email_exists(alice: User) -> None:
    known = login("alice@northwind.example", "not the password at all")
    unknown = login("nobody@northwind.example", "not the password at all")

    assert known.status_code == unknown.status_code == 400
    assert known.json() == unknown.json()
    assert known.json()["errors"][0]["code"] == "email_password_mismatch"
    assert "session_token" not in known.content.decode()


def test_a_disabled_user_cannot_sign_in(alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = login("alice@northwind.example")
    assert response.status_code == 401
    assert response.json()["meta"] == {"is_authenticated": False}


def test_only_the_app_client_is_served() -> None:
    # The web pages are allauth's regular views; a second cookie-based JSON API is not offered.
    with pytest.raises(NoReverseMatch):
        reverse("headless:browser:account:login")
    assert reverse("headless:app:account:login") == f"{APP}/auth/login"


# --- the JSON sign-in's session opens the LedgerBridge API too ---------------------------------


def test_a_script_signs_in_with_json_and_creates_a_personal_token(bob: User) -> None:
    token = login("bob@northwind.example").json()["meta"]["session_token"]

    created = Client().post(
        "/api/v1/tokens", {"name": "Nightly"}, content_type="application/json", **as_script(token)
    )
    assert created.status_code == 201
    personal = created.json()["token"]
    listed = Client().get("/api/v1/tokens", HTTP_AUTHORIZATION=f"Bearer {personal}")
    assert [row["name"] for row in listed.json()] == ["Nightly"]

    # Signing out ends the script's session for the API as well.
    Client().delete(f"{APP}/auth/session", **as_script(token))
    assert Client().get("/api/v1/tokens", **as_script(token)).status_code == 401


def test_a_scripts_session_ends_after_the_idle_timeout(bob: User) -> None:
    clock.set_now(MOMENT)
    token = login("bob@northwind.example").json()["meta"]["session_token"]
    # Activity inside the idle window keeps the session alive…
    for _ in range(3):
        clock.advance(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT - 60))
        assert Client().get("/api/v1/tokens", **as_script(token)).status_code == 200
    # …a longer silence ends it, on the server: allauth no longer knows it either.
    clock.advance(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 1))
    assert Client().get("/api/v1/tokens", **as_script(token)).status_code == 401
    assert Client().get(f"{APP}/auth/session", **as_script(token)).status_code in (401, 410)


def test_a_scripts_session_ends_at_the_absolute_timeout_however_busy(bob: User) -> None:
    clock.set_now(MOMENT)
    token = login("bob@northwind.example").json()["meta"]["session_token"]
    step = timedelta(seconds=settings.SESSION_IDLE_TIMEOUT // 2)
    elapsed = timedelta(0)
    while elapsed + step <= timedelta(seconds=settings.SESSION_ABSOLUTE_TIMEOUT):
        clock.advance(step)
        elapsed += step
        assert Client().get("/api/v1/tokens", **as_script(token)).status_code == 200
    clock.advance(step)
    assert Client().get("/api/v1/tokens", **as_script(token)).status_code == 401


def test_an_unknown_session_token_is_refused(bob: User) -> None:
    assert Client().get("/api/v1/tokens", **as_script("not-a-session")).status_code == 401


def test_a_member_who_must_enrol_cannot_use_the_api_before_enrolling(db: None) -> None:
    account = Account.objects.create(name="Strict MSP", two_factor_policy="required")
    User.objects.create_user("carol@strict.example", PASSWORD, account=account, role="user")
    token = login("carol@strict.example").json()["meta"]["session_token"]

    response = Client().get("/api/v1/tokens", **as_script(token))
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]


def test_the_unused_phone_endpoints_answer_instead_of_crashing(bob: User) -> None:
    # allauth.headless mounts phone endpoints whether or not phones are used; LedgerBridge has none.
    token = login("bob@northwind.example").json()["meta"]["session_token"]
    script = Client(raise_request_exception=False)

    listed = script.get(f"{APP}/account/phone", **as_script(token))
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    added = script.post(
        f"{APP}/account/phone",
        {"phone": "+61412345678"},
        content_type="application/json",
        **as_script(token),
    )
    assert added.status_code == 400
