"""Personal API tokens: created (shown once, stored hashed) and revoked by their owner."""

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest

from ledgerbridge.accounts.access import record
from ledgerbridge.accounts.models import ApiToken, User
from ledgerbridge.api.auth import TOKEN_PREFIX, hash_token
from ledgerbridge.core import audit, clock

# Long enough that lists can tell tokens apart, far too short to guess the rest from.
PREFIX_LENGTH = 12


@dataclass(frozen=True)
class IssuedToken:
    """A new token row and its value, which exists only here: it is never stored or logged."""

    token: ApiToken
    value: str


def new_token_value() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def do_create_api_token(
    user: User, name: str, *, request: HttpRequest | None = None
) -> IssuedToken:
    """Issue `user` a token named `name`; the caller shows `value` once and forgets it."""
    value = new_token_value()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip(),
            prefix=value[:PREFIX_LENGTH],
            token_hash=hash_token(value),
        )
        _audit("api_token.created", token, request)
    return IssuedToken(token, value)


def do_revoke_api_token(token: ApiToken, *, request: HttpRequest | None = None) -> bool:
    """Revoke `token` at once; False (and nothing recorded) if it was already revoked."""
    with transaction.atomic():
        # Conditional UPDATE: two simultaneous revokes record one event, not two.
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=clock.now()
        )
        token.refresh_from_db(fields=["revoked_at"])
        if revoked:
            _audit("api_token.revoked", token, request)
    return bool(revoked)


def _audit(action: str, token: ApiToken, request: HttpRequest | None) -> None:
    # The prefix identifies the token to an auditor; the value and hash never leave the row.
    details = {"name": token.name, "prefix": token.prefix}
    if request is not None:
        record(request, action, target=token, details=details)
    else:
        audit.record(
            action, account=token.user.account, actor=token.user, target=token, details=details
        )
