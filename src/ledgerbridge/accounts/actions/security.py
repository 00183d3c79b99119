"""Passwords, second factors, sessions and sign-in throttling: the state changes behind them.

allauth runs the flows themselves (sign-in, password change and reset, enrolment); these
functions are what LedgerBridge adds around them, each owning its audit event and its email.
"""

import logging
import time
from importlib import import_module
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core.internal import ratelimit as allauth_ratelimit
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from allauth.mfa.utils import decrypt
from allauth.usersessions.internal.flows.sessions import end_sessions as allauth_end_sessions
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from ledgerbridge.accounts import access
from ledgerbridge.accounts.actions.users import end_sessions
from ledgerbridge.accounts.middleware import enrolment_required
from ledgerbridge.accounts.models import User
from ledgerbridge.core import audit, clock

logger = logging.getLogger(__name__)

# The new-sign-in notice is for sign-ins that checked a password in this session this recently
# (the password step and the code step are one sign-in). The automatic sign-in right after
# choosing a password from an invitation link checks none, so it is not announced.
PASSWORD_STEP_WINDOW = 15 * 60


class SecurityActionError(Exception):
    """A security change that was refused, with the message the person reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- emails ----------------------------------------------------------------------------------


def _absolute(url_name: str) -> str:
    return settings.SITE_ROOT.rstrip("/") + reverse(url_name)


def _send_security_email(user: User, name: str, subject: str, context: dict[str, Any]) -> None:
    """Send accounts/security/emails/<name>.txt and .html; a mail failure is logged, not raised."""
    context = {"user": user, "site_name": settings.SITE_NAME, **context}
    message = EmailMultiAlternatives(
        subject=f"{settings.SITE_NAME}: {subject}",
        body=render_to_string(f"accounts/security/emails/{name}.txt", context),
        to=[user.email],
    )
    message.attach_alternative(
        render_to_string(f"accounts/security/emails/{name}.html", context), "text/html"
    )
    try:
        message.send()
    except Exception:
        # The change itself is done and audited; a lost notice must not undo it.
        logger.exception("Could not send a security email", extra={"user_id": user.pk})


def client_ip(request: HttpRequest) -> str:
    try:
        return str(get_account_adapter(request).get_client_ip(request))
    except PermissionDenied:  # allauth found no usable address
        return "unknown"


def client_browser(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", "") or "unknown")[:300]


# --- signing in ------------------------------------------------------------------------------


def signed_in_with_password(request: HttpRequest, user: User) -> bool:
    """Whether this session checked `user`'s password moments ago (allauth's own records)."""
    since = time.time() - PASSWORD_STEP_WINDOW
    return any(
        record.get("method") == "password" and float(record.get("at", 0)) >= since
        for record in get_authentication_records(request, user)
    )


def do_notify_new_sign_in(request: HttpRequest, user: User) -> None:
    """Email `user` that someone signed in as them: when, from which address and browser."""
    if not signed_in_with_password(request, user):
        return
    context = {
        "when": clock.now(),
        "ip": client_ip(request),
        "browser": client_browser(request),
        "sessions_url": _absolute("usersessions_list"),
        "change_password_url": _absolute("account_change_password"),
    }
    transaction.on_commit(
        lambda: _send_security_email(user, "new_sign_in", "New sign-in to your account", context)
    )


def clear_failed_sign_ins(request: HttpRequest, email: str) -> None:
    """A successful sign-in resets the failed-password count for that email address.

    allauth only takes back the successful attempt itself, because wiping the whole limit would
    let an attacker mix in sign-ins to their own account. Only the per-email count is reset here,
    and only its owner (who knows the password and the second factor) can get here; the per-IP
    count is left alone for the same reason allauth leaves it.
    """
    key = get_account_adapter(request)._get_login_attempts_cache_key(request, email=email)
    for rate in allauth_ratelimit.get_rates(app="allauth.account", action="login_failed"):
        if rate.per == "key":
            cache.delete(
                allauth_ratelimit.get_cache_key(
                    request, app="allauth.account", action="login_failed", rate=rate, key=key
                )
            )


def remember_used_totp_code(authenticator: Authenticator) -> None:
    """Keep a used authenticator-app code refused for as long as it would otherwise be accepted.

    allauth remembers a used code for one 30-second step, but with MFA_TOTP_TOLERANCE a code
    stays valid for 2 x tolerance + 1 steps; without this, a code seen over someone's shoulder
    could be replayed 31 to 90 seconds later.
    """
    if authenticator.type != Authenticator.Type.TOTP:
        return
    secret = decrypt(authenticator.data["secret"])
    wrapper = TOTP(authenticator)
    lifetime = mfa_settings.TOTP_PERIOD * (2 * mfa_settings.TOTP_TOLERANCE + 1)
    for counter in yield_hotp_counters_from_time():
        code = format_hotp_value(hotp_value(secret, counter))
        # touch() only extends markers that exist, i.e. the code just used.
        cache.touch(wrapper._get_used_cache_key(code), lifetime)


# --- passwords -------------------------------------------------------------------------------


def wants_other_sessions_ended(request: HttpRequest) -> bool:
    """The "Sign out my other sessions" choice on our password change page.

    Requests that were not offered the choice (the JSON API) get Django's own behaviour, which
    ends the other sessions.
    """
    if request.POST.get("sign_out_other_sessions_offered"):
        return bool(request.POST.get("sign_out_other_sessions"))
    return True


def do_finish_password_change(request: HttpRequest, user: User, *, end_others: bool) -> None:
    """After allauth changed the password: end or keep the other sessions, and audit it.

    A new password already invalidates every other session (Django hashes the password into
    them); ending them deletes them outright, keeping them re-signs them with the new hash.
    """
    with transaction.atomic():
        if end_others:
            do_end_other_sessions(request, user, audit_it=False)
        else:
            _keep_other_sessions(request, user)
        access.record(
            request,
            "user.password_changed",
            target=user,
            details={"other_sessions_ended": end_others},
        )


def record_password_reset(request: HttpRequest, user: User) -> None:
    """A password set from a "Forgot password" link (signed out, so audited as the user)."""
    audit.record(
        "user.password_reset", account=user.account, actor=user, target=user, request=request
    )


# --- second factors --------------------------------------------------------------------------


def record_second_factor_change(
    request: HttpRequest, user: User, authenticator: Authenticator, change: str
) -> None:
    """Audit a person adding, removing or regenerating one of their own second factors."""
    audit.record(
        f"user.second_factor_{change}",
        account=user.account,
        actor=user,
        target=user,
        request=request,
        details={"type": str(authenticator.type)},
    )


def do_reset_second_factor(member: User, *, request: HttpRequest) -> list[str]:
    """An account admin removes every second factor of `member` and ends their sessions.

    The member enrols again at their next sign-in when the account requires two-factor; in an
    account where it is optional they simply have none until they set one up.
    """
    acting = access.membership(request).real_user
    if acting is not None and acting.pk == member.pk:
        raise SecurityActionError(
            "You cannot reset your own second factor here. "
            "Use Two-factor authentication on your profile to change it."
        )
    with transaction.atomic():
        authenticators = Authenticator.objects.filter(user=member)
        removed = sorted({str(kind) for kind in authenticators.values_list("type", flat=True)})
        if not removed:
            raise SecurityActionError(f"{member.email} has no second factor to reset.")
        authenticators.delete()
        sessions_ended = end_sessions(member)
        access.record(
            request,
            "user.second_factor_reset",
            target=member,
            details={"removed": removed, "sessions_ended": sessions_ended},
        )
        context = {
            "reset_by": acting,
            "account": member.account,
            "must_enrol": enrolment_required(member),
            "login_url": _absolute("account_login"),
            "codes_help_url": _absolute("accounts:codes-help"),
        }
        transaction.on_commit(
            lambda: _send_security_email(
                member, "second_factor_reset", "Your second factor was reset", context
            )
        )
    return removed


# --- sessions --------------------------------------------------------------------------------


def _other_sessions(request: HttpRequest, user: User) -> list[UserSession]:
    return list(
        UserSession.objects.filter(user=user).exclude(session_key=request.session.session_key)
    )


def do_end_other_sessions(request: HttpRequest, user: User, *, audit_it: bool = True) -> int:
    """Sign `user` out everywhere except this browser; returns how many sessions ended."""
    others = _other_sessions(request, user)
    with transaction.atomic():
        allauth_end_sessions(request, others)
        if audit_it:
            access.record(
                request, "user.sessions_ended", target=user, details={"sessions": len(others)}
            )
    return len(others)


def _keep_other_sessions(request: HttpRequest, user: User) -> None:
    engine = import_module(settings.SESSION_ENGINE)
    new_hash = user.get_session_auth_hash()
    for tracked in _other_sessions(request, user):
        store = engine.SessionStore(tracked.session_key)
        if store.get(SESSION_KEY) == str(user.pk):
            store[HASH_SESSION_KEY] = new_hash
            store.save()


def do_end_session(request: HttpRequest, user: User, session: UserSession) -> bool:
    """End one of `user`'s sessions from the sessions page; True if it was this browser's."""
    assert session.user_id == user.pk
    current = bool(session.session_key == request.session.session_key)
    with transaction.atomic():
        access.record(
            request,
            "user.session_ended",
            target=user,
            details={"ip": session.ip, "browser": session.user_agent[:200], "current": current},
        )
        allauth_end_sessions(request, [session])
    return current
