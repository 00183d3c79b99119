"""Who is calling the API: a personal API token (Bearer), a browser session (with CSRF), or a
script's session from the JSON sign-in (allauth.headless: X-Session-Token).

Every way the caller gets the same `Membership` the web pages use, so a token carries exactly
its owner's permissions. Operations declare what they need with `@api_requires(...)`, which also
records it in API_RULES for the permissions test.
"""

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from allauth.headless.internal.sessionkit import authenticate_by_x_session_token
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Schema
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from ledgerbridge.accounts.access import (
    Access,
    NotSignedInError,
    ViewRule,
    check,
    membership_for,
)
from ledgerbridge.accounts.middleware import (
    LAST_SEEN_RESOLUTION,
    SESSION_LAST_SEEN_AT,
    SESSION_SIGNED_IN_AT,
    enrolment_required,
    has_second_factor,
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


class HeadlessSessionAuth(APIKeyHeader):
    """The session a script opened with POST /_allauth/app/v1/auth/login (and its second factor)."""

    param_name = "X-Session-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        found = authenticate_by_x_session_token(key) if key else None
        if found is None:
            return None
        user, session = found
        if not isinstance(user, User):
            return None
        if _timed_out(session):
            # Ended on the server, as the web's SessionTimeoutMiddleware ends a cookie session.
            UserSession.objects.filter(session_key=session.session_key).delete()
            session.flush()
            return None
        # The web pages send such members to enrolment first; a script cannot be sent there.
        if enrolment_required(user) and not has_second_factor(user):
            raise PermissionDenied(
                "Your account requires two-factor authentication. Sign in on the web and set "
                "up an authenticator app first."
            )
        request.user = user
        request.membership = membership_for_token_user(user)  # type: ignore[attr-defined]
        return user


def _timed_out(session: SessionBase) -> bool:
    """The web's idle and absolute session timeouts, applied to a script's session."""
    now = clock.now().timestamp()
    signed_in_at = session.get(SESSION_SIGNED_IN_AT)
    last_seen_at = session.get(SESSION_LAST_SEEN_AT)
    if signed_in_at is None or last_seen_at is None:
        # Every sign-in starts the clock (signals.py); a session without one starts it now.
        session[SESSION_SIGNED_IN_AT] = session[SESSION_LAST_SEEN_AT] = now
        session.save()
        return False
    if now - signed_in_at > settings.SESSION_ABSOLUTE_TIMEOUT:
        return True
    if now - last_seen_at > settings.SESSION_IDLE_TIMEOUT:
        return True
    if now - last_seen_at >= LAST_SEEN_RESOLUTION:
        session[SESSION_LAST_SEEN_AT] = now
        session.save()
    return False


API_AUTH = [TokenAuth(), HeadlessSessionAuth(), BrowserSessionAuth()]


class ApiError(Schema):
    """Every refusal and error the API answers: one sentence for the person reading it."""

    detail: str


# What every authenticated operation may answer besides its own responses; spread it into
# `response={200: …, **AUTH_ERRORS}` so the OpenAPI document declares them.
AUTH_ERRORS: dict[int, type[Schema]] = {401: ApiError, 403: ApiError}

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
