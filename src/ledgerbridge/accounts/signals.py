"""What LedgerBridge does when allauth signs someone in, changes a password or a second factor.

Connected from AccountsConfig.ready(). Each receiver hands over to one function in
actions/security.py.
"""

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver
from django.http import HttpRequest

from ledgerbridge.accounts.actions import security
from ledgerbridge.accounts.middleware import start_session_clock
from ledgerbridge.accounts.models import User


@receiver(auth_signals.user_logged_in, dispatch_uid="ledgerbridge.session_clock")
def _start_session_clock(sender: Any, request: HttpRequest | None, user: User, **_: Any) -> None:
    # Every login, allauth's or not, starts the idle and absolute timeouts afresh.
    if request is not None and hasattr(request, "session"):
        start_session_clock(request)


@receiver(account_signals.user_logged_in, dispatch_uid="ledgerbridge.signed_in")
def _signed_in(sender: Any, request: HttpRequest, user: User, **_: Any) -> None:
    security.clear_failed_sign_ins(request, user.email)
    security.do_notify_new_sign_in(request, user)


@receiver(account_signals.password_changed, dispatch_uid="ledgerbridge.password_changed")
def _password_changed(sender: Any, request: HttpRequest, user: User, **_: Any) -> None:
    end_others = security.wants_other_sessions_ended(request)
    security.do_finish_password_change(request, user, end_others=end_others)
    if end_others:
        messages.info(request, "Your other sessions have been signed out.")
    else:
        messages.info(request, "Your other sessions stay signed in.")


@receiver(account_signals.password_reset, dispatch_uid="ledgerbridge.password_reset")
def _password_reset(sender: Any, request: HttpRequest, user: User, **_: Any) -> None:
    security.record_password_reset(request, user)


@receiver(mfa_signals.authenticator_used, dispatch_uid="ledgerbridge.code_used")
def _authenticator_used(sender: Any, authenticator: Authenticator, **_: Any) -> None:
    security.remember_used_totp_code(authenticator)


@receiver(mfa_signals.authenticator_added, dispatch_uid="ledgerbridge.factor_added")
def _authenticator_added(
    sender: Any, request: HttpRequest, user: User, authenticator: Authenticator, **_: Any
) -> None:
    security.record_second_factor_change(request, user, authenticator, "added")


@receiver(mfa_signals.authenticator_removed, dispatch_uid="ledgerbridge.factor_removed")
def _authenticator_removed(
    sender: Any, request: HttpRequest, user: User, authenticator: Authenticator, **_: Any
) -> None:
    security.record_second_factor_change(request, user, authenticator, "removed")


@receiver(mfa_signals.authenticator_reset, dispatch_uid="ledgerbridge.factor_reset")
def _authenticator_reset(
    sender: Any, request: HttpRequest, user: User, authenticator: Authenticator, **_: Any
) -> None:
    security.record_second_factor_change(request, user, authenticator, "regenerated")
