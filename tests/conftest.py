"""Shared fixtures: the usual cast (an account, alice the admin, bob the user, a second account)."""

from collections.abc import Iterator

import pytest

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.core import clock


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    # A test that froze the clock must not leak frozen time into the next one.
    yield
    clock.set_now(None)


# The shared accounts make two-factor optional so tests about other things are not sent to
# enrolment first; tests about enrolment make their own "required" accounts.
@pytest.fixture
def account(db: None) -> Account:
    return Account.objects.create(name="Northwind MSP", two_factor_policy="optional")


@pytest.fixture
def other_account(db: None) -> Account:
    return Account.objects.create(name="Contoso IT", two_factor_policy="optional")


@pytest.fixture
def alice(account: Account) -> User:
    return User.objects.create_user(
        "alice@northwind.example",
        "correct horse battery",
        account=account,
        first_name="Alice",
        last_name="Admin",
        role="account-admin",
    )


@pytest.fixture
def bob(account: Account) -> User:
    return User.objects.create_user(
        "bob@northwind.example",
        "correct horse battery",
        account=account,
        first_name="Bob",
        last_name="User",
        role="user",
    )
