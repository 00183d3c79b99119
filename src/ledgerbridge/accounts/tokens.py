"""Set-password links: sent in invitations and printed by `createaccount`.

A link is single-use and expires after settings.PASSWORD_RESET_TIMEOUT (48 hours). It dies when
the password changes (Django hashes the password into the token) and whenever the user's
`security_stamp` rotates: setting a password, resending or revoking an invitation, disabling.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from ledgerbridge.accounts.models import User
from ledgerbridge.core import clock


class SetPasswordTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "ledgerbridge.accounts.tokens.SetPasswordTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{user.security_stamp}"

    def _now(self) -> datetime:
        # Django compares naive datetimes here; ours are UTC from the injectable clock, so a test
        # can move past the 48 hours without sleeping.
        return clock.now().astimezone(UTC).replace(tzinfo=None)


set_password_tokens = SetPasswordTokenGenerator()


def set_password_path(user: User) -> str:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = set_password_tokens.make_token(user)
    return reverse("accounts:set-password", args=[uidb64, token])


def set_password_url(user: User) -> str:
    """The absolute link a person opens to choose their password (contains a secret token)."""
    return settings.SITE_ROOT.rstrip("/") + set_password_path(user)


def user_for_set_password_link(uidb64: str, token: str) -> User | None:
    """The active user the link belongs to, or None however it fails (no enumeration)."""
    try:
        user_id = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).select_related("account").first()
    if user is None or not set_password_tokens.check_token(user, token):
        return None
    return user
