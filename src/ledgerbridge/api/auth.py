"""Who is calling the API: a browser session (with CSRF) or a personal API token (Bearer).

Either way the caller gets the same `Membership` the web pages use, so a token carries exactly
its owner's permissions. Operations declare what they need with `@api_requires(...)`, which also
records it in API_RULES for the permissions test.
"""

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from ledgerbridge.accounts.access import (
    Access,
    NotSignedInError,
    ViewRule,
    check,
    membership_for,
)
from ledgerbridge.accounts.models import ApiToken, User
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.core import clock

TOKEN_PREFIX = "lbk_"  # noqa: S105 - a public marker that makes leaked tokens greppable


def hash_token(token: str) -> str:
    # Tokens are long random strings, so a fast unsalted hash is enough to make a leaked table
    # useless while keeping the lookup a single indexed query.
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_token(token: str) -> User | None:
    """The active owner of a live token, recording when it was last used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = (
        ApiToken.objects.select_related("user", "user__account")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if found is None:
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=clock.now())
    return found.user


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is None:
            return None
        request.user = user
        # A token never carries a session's emulation or support state.
        request.membership = membership_for_token_user(user)  # type: ignore[attr-defined]
        return user


def membership_for_token_user(user: User) -> Any:
    from ledgerbridge.accounts.access import Membership

    if user.is_staff and user.account_id is None:
        return Membership(user, user, None, "staff")
    return Membership(user, user, user.account, "member" if user.account else "no-account")


class BrowserSessionAuth(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        if not user.is_authenticated:
            return None
        assert isinstance(user, User)
        request.membership = membership_for(request)  # type: ignore[attr-defined]
        return user


API_AUTH = [TokenAuth(), BrowserSessionAuth()]

API_RULES: dict[Callable[..., Any], ViewRule] = {}

F = TypeVar("F", bound=Callable[..., Any])


def api_requires(needs: Perm | Access, *, refuse_while_emulating: bool = False) -> Callable[[F], F]:
    """Declare and enforce what an API operation needs: 401 unauthenticated, 403 not allowed."""
    rule = ViewRule(needs, refuse_while_emulating)

    def decorate(operation: F) -> F:
        @wraps(operation)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                check(request, rule)
            except NotSignedInError:
                raise HttpError(401, "Sign in or send a personal API token.") from None
            return operation(request, *args, **kwargs)

        API_RULES[wrapper] = rule
        return wrapper  # type: ignore[return-value]

    return decorate
