"""Fixtures for the Users screen, its API, set-password links and the profile."""

import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ledgerbridge.accounts.models import Account, ApiToken, User
from ledgerbridge.api.auth import TOKEN_PREFIX, hash_token
from ledgerbridge.companies.models import Company

type OnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def admin_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def harbour(account: Account) -> Company:
    return Company.objects.create(account=account, name="Harbour Dental")


@pytest.fixture
def lighthouse(account: Account) -> Company:
    return Company.objects.create(account=account, name="Lighthouse Legal")


@pytest.fixture
def contoso_company(other_account: Account) -> Company:
    return Company.objects.create(account=other_account, name="Contoso Retail")


@pytest.fixture
def erin(other_account: Account) -> User:
    """A member of another account, for isolation checks."""
    return User.objects.create_user(
        "erin@contoso.example",
        "correct horse battery",
        account=other_account,
        first_name="Erin",
        last_name="Other",
        role="account-admin",
    )


@pytest.fixture
def committing(django_capture_on_commit_callbacks: OnCommit) -> Callable[[], Any]:
    """`with committing(): client.post(...)` runs the on-commit emails, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def make_api_token(user: User) -> str:
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user, name="script", prefix=value[:12], token_hash=hash_token(value)
    )
    return value


def link_in_last_email() -> str:
    """The path of the set-password link in the newest email (the text part)."""
    assert mail.outbox, "no email was sent"
    found = re.search(r"https?://[^/\s]+(/account/set-password/\S+/)", str(mail.outbox[-1].body))
    assert found, mail.outbox[-1].body
    return found.group(1)


STRONG_PASSWORD = "plenty of words for a passphrase"


def set_password_with(client: Client, link: str, password: str = STRONG_PASSWORD) -> Any:
    """Open a set-password link and submit a password; returns the POST's response."""
    opened = client.get(link)
    assert opened.status_code == 302, opened.content.decode()[:500]
    return client.post(opened["Location"], {"new_password1": password, "new_password2": password})
