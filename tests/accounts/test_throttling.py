"""Throttling failed sign-ins: passwords and second-factor codes, per email (user) and per IP.

10 failures in 15 minutes, then a cool-off until the oldest failure is 15 minutes old; the same
message whether or not the account exists; a successful sign-in resets the count. The counts live
in Django's cache, the database cache here, so every worker process sees the same numbers.
"""

import itertools

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, User
from tests.accounts.security_flows import (
    allauth_time_moved,
    browser,
    enrol_totp,
    errors,
    is_signed_in,
    member,
    required_account,
    submit_code,
    submit_password,
    totp_code,
)

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many failed login attempts. Try again later."
LIMIT = 10
COOL_OFF = 15 * 60

_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def new_ip() -> str:
    return next(_addresses)


def fail_passwords(email: str, times: int, *, ip: str | None = None) -> None:
    """Wrong passwords for `email`, each from its own address unless `ip` is given."""
    for _ in range(times):
        response = submit_password(browser(ip=ip or new_ip()), email, "wrong password entirely")
        assert response.status_code == 200
        assert TOO_MANY not in errors(response)


# --- passwords, per email ------------------------------------------------------------------------


def test_ten_wrong_passwords_lock_the_email_even_with_the_right_one(alice: User) -> None:
    fail_passwords(alice.email, LIMIT)

    client = browser(ip=new_ip())
    response = submit_password(client, alice.email)

    assert TOO_MANY in errors(response)
    assert not is_signed_in(client)


def test_the_message_is_the_same_for_an_email_with_no_account(alice: User) -> None:
    fail_passwords(alice.email, LIMIT)
    fail_passwords("nobody@northwind.example", LIMIT)

    known = errors(submit_password(browser(ip=new_ip()), alice.email, "another guess here"))
    unknown = errors(submit_password(browser(ip=new_ip()), "nobody@northwind.example", "guess"))

    assert known == unknown == TOO_MANY


def test_the_cool_off_ends_fifteen_minutes_after_the_failures(alice: User) -> None:
    fail_passwords(alice.email, LIMIT)

    with allauth_time_moved(COOL_OFF - 60):
        assert TOO_MANY in errors(submit_password(browser(ip=new_ip()), alice.email))
    with allauth_time_moved(COOL_OFF + 1):
        client = browser(ip=new_ip())
        assert submit_password(client, alice.email).status_code == 302
        assert is_signed_in(client)


def test_a_successful_sign_in_resets_the_count_for_that_email(alice: User) -> None:
    fail_passwords(alice.email, LIMIT - 1)
    assert submit_password(browser(ip=new_ip()), alice.email).status_code == 302

    # Without the reset, the next failure would be the tenth and lock Alice out.
    fail_passwords(alice.email, LIMIT - 1)
    client = browser(ip=new_ip())
    assert submit_password(client, alice.email).status_code == 302
    assert is_signed_in(client)


# --- passwords, per IP ---------------------------------------------------------------------------


def test_ten_wrong_passwords_from_one_address_lock_that_address(alice: User, bob: User) -> None:
    attacker = new_ip()
    for n in range(LIMIT):
        submit_password(browser(ip=attacker), f"guess{n}@northwind.example", "wrong password")

    assert TOO_MANY in errors(submit_password(browser(ip=attacker), bob.email))
    # Bob himself, from his own address, is not affected.
    client = browser(ip=new_ip())
    assert submit_password(client, bob.email).status_code == 302
    assert is_signed_in(client)


# --- second-factor codes -------------------------------------------------------------------------


@pytest.fixture
def fabrikam() -> Account:
    return required_account()


def at_code_prompt(user: User, ip: str | None = None) -> Client:
    client = browser(ip=ip or new_ip())
    assert submit_password(client, user.email)["Location"] == "/accounts/2fa/authenticate/"
    return client


def fail_codes(user: User, times: int, *, ip: str | None = None) -> None:
    for _ in range(times):
        response = submit_code(at_code_prompt(user, ip), "000000")
        assert "Incorrect code" in errors(response)


def test_ten_wrong_codes_lock_the_user_even_with_the_right_code(fabrikam: Account) -> None:
    dana = member(fabrikam, "dana@fabrikam.example")
    secret = enrol_totp(dana)
    fail_codes(dana, LIMIT)

    client = at_code_prompt(dana)
    response = submit_code(client, totp_code(secret))

    assert TOO_MANY in errors(response)
    assert not is_signed_in(client)

    with allauth_time_moved(COOL_OFF + 1):
        client = at_code_prompt(dana)
        assert submit_code(client, totp_code(secret, offset=COOL_OFF + 1)).status_code == 302
    assert is_signed_in(client)


def test_wrong_codes_count_against_the_address_too(fabrikam: Account) -> None:
    dana = member(fabrikam, "dana@fabrikam.example")
    erin = member(fabrikam, "erin@fabrikam.example")
    enrol_totp(dana)
    enrol_totp(erin)
    attacker = new_ip()
    fail_codes(dana, LIMIT // 2, ip=attacker)
    fail_codes(erin, LIMIT - LIMIT // 2, ip=attacker)

    # The address has used its ten failures: even a password step from it is refused now.
    assert TOO_MANY in errors(submit_password(browser(ip=attacker), erin.email))


def test_a_right_code_resets_the_count(fabrikam: Account) -> None:
    dana = member(fabrikam, "dana@fabrikam.example")
    secret = enrol_totp(dana)
    fail_codes(dana, LIMIT - 1)
    assert submit_code(at_code_prompt(dana), totp_code(secret)).status_code == 302

    fail_codes(dana, LIMIT - 1)
    with allauth_time_moved(30):
        client = at_code_prompt(dana)
        assert submit_code(client, totp_code(secret, offset=30)).status_code == 302
    assert is_signed_in(client)
