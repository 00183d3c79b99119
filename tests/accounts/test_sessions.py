"""Sessions: a new id at sign-in, idle and absolute timeouts, the sessions page, real sign-out."""

from datetime import datetime, timedelta

import pytest
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from ledgerbridge.accounts.models import User
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from tests.accounts.security_flows import browser, is_signed_in, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def start() -> datetime:
    moment = clock.now()
    clock.set_now(moment)
    return moment


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_signing_in_issues_a_new_session_id(alice: User) -> None:
    client = browser()
    session = client.session
    session["probe"] = "before sign-in"
    session.save()
    before = str(session.session_key)
    client.cookies[settings.SESSION_COOKIE_NAME] = before

    sign_in(client, alice)

    assert is_signed_in(client)
    assert session_key(client) != before
    assert not Session.objects.filter(session_key=before).exists()


def test_signing_out_ends_the_session_on_the_server(alice: User) -> None:
    client = browser()
    sign_in(client, alice)
    stolen = session_key(client)

    client.post("/accounts/logout/")

    replay = browser()
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    assert not is_signed_in(replay)
    assert not Session.objects.filter(session_key=stolen).exists()


# --- timeouts ------------------------------------------------------------------------------------


def test_a_session_idle_for_30_minutes_ends(alice: User, start: datetime) -> None:
    client = browser()
    sign_in(client, alice)
    key = session_key(client)

    clock.set_now(start + timedelta(minutes=29))
    assert is_signed_in(client)
    clock.set_now(start + timedelta(minutes=58))  # 29 minutes after the last request
    assert is_signed_in(client)

    clock.set_now(start + timedelta(minutes=58 + 31))
    response = client.get("/account/profile/", follow=True)

    assert response.redirect_chain[0][0].startswith("/accounts/login/?next=/account/profile/")
    assert "signed out after 30 minutes without activity" in response.content.decode()
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()


def test_a_session_ends_12_hours_after_sign_in_however_active(alice: User, start: datetime) -> None:
    client = browser()
    sign_in(client, alice)

    for minutes in range(20, 12 * 60, 20):
        clock.set_now(start + timedelta(minutes=minutes))
        assert is_signed_in(client), minutes

    clock.set_now(start + timedelta(hours=12, minutes=1))
    response = client.get("/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "more than 12 hours ago" in response.content.decode()
    assert not is_signed_in(client)


def test_the_api_answers_401_once_the_session_has_expired(alice: User, start: datetime) -> None:
    client = browser()
    sign_in(client, alice)
    assert client.get("/api/v1/tokens").status_code == 200

    clock.set_now(start + timedelta(minutes=31))
    response = client.get("/api/v1/tokens")

    assert response.status_code == 401
    assert not is_signed_in(client)


def test_htmx_requests_are_sent_to_sign_in_with_a_client_redirect(
    alice: User, start: datetime
) -> None:
    client = browser()
    sign_in(client, alice)

    clock.set_now(start + timedelta(minutes=31))
    response = client.get("/", HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == "/accounts/login/"


# --- the sessions page ---------------------------------------------------------------------------


def test_the_sessions_page_lists_sessions_and_ends_another_one(alice: User) -> None:
    laptop = browser(ip="192.0.2.10", agent="Laptop Firefox/140.0")
    phone = browser(ip="192.0.2.20", agent="Phone Safari/18.0")
    sign_in(laptop, alice)
    sign_in(phone, alice)

    page = laptop.get("/accounts/sessions/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "base.html" in [template.name for template in page.templates]
    assert "Laptop Firefox/140.0" in html and "Phone Safari/18.0" in html
    assert "192.0.2.20" in html and "This browser" in html
    phones = UserSession.objects.get(user=alice, user_agent="Phone Safari/18.0")

    response = laptop.post(f"/account/sessions/{phones.pk}/end/", follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/sessions/"
    assert "Signed out the session from 192.0.2.20" in response.content.decode()
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    event = AuditEvent.objects.get(action="user.session_ended")
    assert (event.actor, event.details["ip"], event.details["current"]) == (
        alice,
        "192.0.2.20",
        False,
    )


def test_ending_this_browsers_own_session_signs_out(alice: User) -> None:
    client = browser()
    sign_in(client, alice)
    mine = UserSession.objects.get(user=alice)

    response = client.post(f"/account/sessions/{mine.pk}/end/")

    assert response["Location"] == "/accounts/login/"
    assert not is_signed_in(client)


def test_nobody_can_end_someone_elses_session(alice: User, bob: User) -> None:
    alices, bobs = browser(), browser(ip="192.0.2.99")
    sign_in(alices, alice)
    sign_in(bobs, bob)
    bob_session = UserSession.objects.get(user=bob)

    assert alices.post(f"/account/sessions/{bob_session.pk}/end/").status_code == 404
    assert is_signed_in(bobs)


def test_sign_out_all_other_sessions(alice: User) -> None:
    here, there, elsewhere = browser(), browser(ip="192.0.2.2"), browser(ip="192.0.2.3")
    for client in (here, there, elsewhere):
        sign_in(client, alice)

    here.post("/accounts/sessions/")

    assert is_signed_in(here)
    assert not is_signed_in(there) and not is_signed_in(elsewhere)
