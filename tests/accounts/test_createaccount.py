"""`ledgerbridge createaccount`: the account, its first admin and a single-use set-password link."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INVALID_LINK = b"This link has expired or was already used."


def create_account(*args: str) -> str:
    out = StringIO()
    call_command("createaccount", *args, stdout=out)
    return out.getvalue()


def printed_link(output: str) -> str:
    found = re.search(r"^(https?://\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def choose_password(client: Client, path: str) -> object:
    opened = client.get(path)
    assert opened.status_code == 302, opened.content.decode()[:300]
    password = "a sturdy passphrase here"
    return client.post(opened["Location"], {"new_password1": password, "new_password2": password})


@override_settings(SITE_ROOT="https://ledgerbridge.northwind.example/")
def test_creates_the_account_and_an_invited_admin_and_prints_a_link(client: Client) -> None:
    output = create_account(
        "--name",
        "Northwind MSP",
        "--email",
        "Alice@Northwind.example",
        "--first-name",
        "Alice",
        "--last-name",
        "Admin",
    )

    account = Account.objects.get()
    assert account.name == "Northwind MSP"
    admin = User.objects.get()
    assert (admin.email, admin.account, admin.role) == (
        "alice@northwind.example",
        account,
        "account-admin",
    )
    assert (admin.first_name, admin.last_name) == ("Alice", "Admin")
    assert not admin.has_usable_password()
    assert admin.invited_at is not None
    assert "Created Northwind MSP with account admin alice@northwind.example" in output
    assert "it works once, for 48 hours" in output
    link = printed_link(output)
    assert link.startswith("https://ledgerbridge.northwind.example/account/set-password/")
    event = AuditEvent.objects.get(action="account.created")
    assert (event.account, event.actor) == (account, admin)


def test_the_printed_link_sets_the_password_and_signs_in_once(client: Client) -> None:
    output = create_account("--name", "Northwind MSP", "--email", "alice@northwind.example")
    path = printed_link(output).split("127.0.0.1:8000", 1)[1]

    response = choose_password(client, path)

    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == "/"  # type: ignore[index]
    admin = User.objects.get()
    assert admin.check_password("a sturdy passphrase here")
    assert client.session["_auth_user_id"] == str(admin.pk)

    # The same link a second time, even from another browser, is dead.
    again = Client().get(path)
    assert again.status_code == 200
    assert INVALID_LINK in again.content


def test_the_printed_link_expires_after_48_hours() -> None:
    clock.set_now(MOMENT)
    path = printed_link(
        create_account("--name", "Northwind MSP", "--email", "alice@northwind.example")
    ).split("127.0.0.1:8000", 1)[1]

    clock.set_now(MOMENT + timedelta(hours=47, minutes=59))
    assert Client().get(path).status_code == 302  # still valid

    clock.set_now(MOMENT + timedelta(hours=48, seconds=1))
    expired = Client().get(path)
    assert expired.status_code == 200
    assert INVALID_LINK in expired.content
    assert b"Ask your account admin to resend the invitation." in expired.content


def test_an_invalid_email_is_refused_and_nothing_is_created() -> None:
    with pytest.raises(CommandError, match="“not-an-email” is not a valid email address"):
        create_account("--name", "Northwind MSP", "--email", "not-an-email")
    assert not Account.objects.exists()
    assert not User.objects.exists()


def test_an_email_already_used_is_refused(alice: User) -> None:
    with pytest.raises(CommandError, match=r"alice@northwind\.example already has a LedgerBridge"):
        create_account("--name", "Another MSP", "--email", "ALICE@northwind.example")
    assert list(Account.objects.values_list("name", flat=True)) == ["Northwind MSP"]


def test_a_blank_name_is_refused() -> None:
    with pytest.raises(CommandError, match="Give the account a name"):
        create_account("--name", "  ", "--email", "alice@northwind.example")
    assert not User.objects.exists()


def test_the_first_admin_can_enrol_a_second_factor_after_choosing_a_password(
    client: Client,
) -> None:
    # The link proved the email address; allauth refuses to enrol an unverified one.
    output = create_account("--name", "Northwind MSP", "--email", "alice@northwind.example")
    choose_password(client, printed_link(output).split("127.0.0.1:8000", 1)[1])

    # allauth asks for the password again before any second-factor change, as after any sign-in.
    client.post("/accounts/reauthenticate/", {"password": "a sturdy passphrase here"})
    page = client.get("/accounts/2fa/totp/activate/")

    assert page.status_code == 200
    assert 'name="code"' in page.content.decode()
