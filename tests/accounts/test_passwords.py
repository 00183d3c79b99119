"""Passwords (OWASP ASVS level 2): length, no composition rules, change, forgot-password links."""

import re
from datetime import timedelta
from typing import Any

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from ledgerbridge.accounts.models import Account, User, new_security_stamp
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from tests.accounts.security_flows import (
    NEW_PASSWORD,
    PASSWORD,
    browser,
    enrol_totp,
    errors,
    is_signed_in,
    member,
    required_account,
    sign_in,
    submit_code,
    submit_password,
    totp_code,
)

pytestmark = pytest.mark.django_db


def refusal_codes(password: str, user: User | None = None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return {str(item.code) for item in error.error_list}
    return set()


# --- what a password may be ----------------------------------------------------------------------


def test_passphrases_of_128_characters_and_more_are_accepted(alice: User) -> None:
    passphrase = ("tangerine harbour lantern " * 10)[:128]
    assert len(passphrase) == 128
    assert refusal_codes(passphrase, alice) == set()
    assert refusal_codes("x7" * 512, alice) == set()  # 1024 characters


def test_absurdly_long_passwords_are_refused(alice: User) -> None:
    assert refusal_codes("x7" * 512 + "y", alice) == {"password_too_long"}


def test_short_common_and_user_similar_passwords_are_refused(alice: User) -> None:
    assert "password_too_short" in refusal_codes("eleven char", alice)
    assert "password_too_common" in refusal_codes("123456789qwerty", alice)
    assert "password_too_similar" in refusal_codes("alice@northwind.example", alice)


def test_no_composition_rules(alice: User) -> None:
    # No digits, capitals or symbols needed: length is what counts.
    assert refusal_codes("plain lower case words", alice) == set()


# --- changing it ---------------------------------------------------------------------------------


def change_password(client: Client, **extra: str) -> Any:
    data = {
        "oldpassword": PASSWORD,
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "sign_out_other_sessions_offered": "1",
        **extra,
    }
    return client.post("/accounts/password/change/", data)


def test_changing_the_password_needs_the_current_one(alice: User) -> None:
    client = browser()
    sign_in(client, alice)

    response = change_password(client, oldpassword="not my password at all")

    assert response.status_code == 200
    assert "current password" in errors(response).lower()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_change_form_offers_to_sign_out_other_sessions_ticked(alice: User) -> None:
    client = browser()
    sign_in(client, alice)

    html = client.get("/accounts/password/change/").content.decode()

    checkbox = re.search(r'<input type="checkbox" name="sign_out_other_sessions"[^>]*>', html)
    assert checkbox and "checked" in checkbox.group(0)
    assert "Sign out my other sessions" in html


def two_browsers(user: User) -> tuple[Client, Client]:
    here, elsewhere = browser(ip="192.0.2.10"), browser(ip="192.0.2.20", agent="Other/1.0")
    sign_in(here, user)
    sign_in(elsewhere, user)
    assert is_signed_in(here) and is_signed_in(elsewhere)
    return here, elsewhere


def test_a_ticked_change_signs_out_the_other_sessions_and_keeps_this_one(alice: User) -> None:
    here, elsewhere = two_browsers(alice)
    other_key = elsewhere.session.session_key

    response = change_password(here, sign_out_other_sessions="on")

    assert response.status_code == 302
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
    assert not Session.objects.filter(session_key=other_key).exists()
    assert UserSession.objects.filter(user=alice).count() == 1
    event = AuditEvent.objects.get(action="user.password_changed")
    assert event.details == {"other_sessions_ended": True}


def test_an_unticked_change_keeps_the_other_sessions(alice: User) -> None:
    here, elsewhere = two_browsers(alice)

    response = change_password(here)  # the checkbox is not sent when unticked

    assert response.status_code == 302
    assert is_signed_in(here)
    assert is_signed_in(elsewhere)
    assert AuditEvent.objects.get(action="user.password_changed").details == {
        "other_sessions_ended": False
    }


# --- forgot password -----------------------------------------------------------------------------


def reset_link() -> str:
    found = re.search(
        r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", str(mail.outbox[-1].body)
    )
    assert found, mail.outbox[-1].body
    return found.group(1)


def request_reset(client: Client, email: str) -> Any:
    return client.post("/accounts/password/reset/", {"email": email})


def choose_new_password(client: Client, link: str, password: str = NEW_PASSWORD) -> Any:
    form = client.get(link, follow=True)
    return client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"password1": password, "password2": password},
    )


def test_the_reset_email_says_the_link_is_valid_for_48_hours(alice: User) -> None:
    request_reset(browser(), alice.email)

    [message] = mail.outbox
    assert message.to == [alice.email]
    assert "48 hours" in str(message.body)
    assert isinstance(message, EmailMultiAlternatives)
    html = message.alternatives[0][0]
    assert "48 hours" in str(html) and reset_link() in str(html)


def test_a_reset_link_works_once(alice: User) -> None:
    client = browser()
    request_reset(client, alice.email)
    link = reset_link()

    response = choose_new_password(client, link)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)

    again = browser()
    page = again.get(link, follow=True)
    assert "This link no longer works" in page.content.decode()
    choose_new_password(again, link, "yet another fine passphrase")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_a_reset_link_expires_after_48_hours(alice: User) -> None:
    start = clock.now()
    clock.set_now(start)
    request_reset(browser(), alice.email)
    link = reset_link()

    clock.set_now(start + timedelta(hours=47, minutes=59))
    assert "Choose a new password" in browser().get(link, follow=True).content.decode()

    clock.set_now(start + timedelta(hours=48, seconds=1))
    assert "This link no longer works" in browser().get(link, follow=True).content.decode()
    assert choose_new_password(browser(), link).status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_reset_link_dies_when_the_security_stamp_rotates(alice: User) -> None:
    request_reset(browser(), alice.email)
    link = reset_link()
    # Disabling a user, revoking an invitation or setting a password rotates the stamp.
    User.objects.filter(pk=alice.pk).update(security_stamp=new_security_stamp())

    assert "This link no longer works" in browser().get(link, follow=True).content.decode()


def test_a_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(alice: User) -> None:
    known = request_reset(browser(), alice.email)
    mail.outbox.clear()

    unknown = request_reset(browser(), "nobody@northwind.example")

    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert mail.outbox == []
    done = browser().get(known["Location"]).content.decode()
    assert "If the address you entered belongs to" in done


def test_a_reset_never_skips_the_second_factor() -> None:
    fabrikam: Account = required_account()
    dana = member(fabrikam, "dana@fabrikam.example")
    secret = enrol_totp(dana)
    client = browser()
    request_reset(client, dana.email)

    response = choose_new_password(client, reset_link())

    # The reset signs no one in ...
    assert response["Location"] == "/accounts/password/reset/key/done/"
    assert not is_signed_in(client)
    # ... and the next sign-in asks for the code after the new password.
    response = submit_password(client, dana.email, NEW_PASSWORD)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert not is_signed_in(client)
    assert submit_code(client, totp_code(secret)).status_code == 302
    assert is_signed_in(client)
    event = AuditEvent.objects.get(action="user.password_reset")
    assert (event.actor, event.account) == (dana, fabrikam)
