"""Session lifetime and two-factor enrolment, enforced on every request."""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django_htmx.http import HttpResponseClientRedirect

from ledgerbridge.accounts.models import TwoFactorPolicy, User
from ledgerbridge.core import clock

SESSION_SIGNED_IN_AT = "lb_signed_in_at"
SESSION_LAST_SEEN_AT = "lb_last_seen_at"
# Last-seen is rewritten at most this often (seconds), not on every request: the idle timeout
# is then exact to within a minute and a busy page does not rewrite its session each time.
LAST_SEEN_RESOLUTION = 60

API_PREFIX = "/api/"
JSON_PREFIXES = (API_PREFIX, "/_allauth/")
HEALTH_PATH = "/api/v1/health"


def start_session_clock(request: HttpRequest) -> None:
    """Note the sign-in time; called for every login (see signals.py)."""
    now = clock.now().timestamp()
    request.session[SESSION_SIGNED_IN_AT] = now
    request.session[SESSION_LAST_SEEN_AT] = now


def _minutes(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class SessionTimeoutMiddleware:
    """Ends sessions idle too long (SESSION_IDLE_TIMEOUT) or too old (SESSION_ABSOLUTE_TIMEOUT).

    The session itself is deleted on the server (Django's logout flushes it), so a copied cookie
    stops working too. Pages redirect to the sign-in page with a message; JSON endpoints carry on
    as signed out, so the API answers 401 wherever it needs someone signed in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            reason = self._expired(request)
            if reason is not None:
                response = self._end(request, reason)
                if response is not None:
                    return response
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> str | None:
        session = request.session
        now = clock.now().timestamp()
        signed_in_at = session.get(SESSION_SIGNED_IN_AT)
        last_seen_at = session.get(SESSION_LAST_SEEN_AT)
        if signed_in_at is None or last_seen_at is None:
            # A session from before these checks existed: its clock starts now.
            start_session_clock(request)
            return None
        if now - signed_in_at > settings.SESSION_ABSOLUTE_TIMEOUT:
            return (
                f"You were signed out because you signed in more than "
                f"{_minutes(settings.SESSION_ABSOLUTE_TIMEOUT)} ago. Sign in again to continue."
            )
        if now - last_seen_at > settings.SESSION_IDLE_TIMEOUT:
            return (
                f"You were signed out after {_minutes(settings.SESSION_IDLE_TIMEOUT)} without "
                "activity. Sign in again to continue."
            )
        if now - last_seen_at >= LAST_SEEN_RESOLUTION:
            session[SESSION_LAST_SEEN_AT] = now
        return None

    def _end(self, request: HttpRequest, reason: str) -> HttpResponse | None:
        session_key = request.session.session_key
        logout(request)
        if session_key:
            UserSession.objects.filter(session_key=session_key).delete()
        if request.path_info.startswith(JSON_PREFIXES):
            return None
        messages.info(request, reason)
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(reverse(settings.LOGIN_URL))
        return redirect_to_login(request.get_full_path())


def enrolment_required(user: User) -> bool:
    """Whether `user` must have a second factor: instance staff always, members per account."""
    if user.is_staff:
        return True
    return user.account is not None and user.account.two_factor_policy == TwoFactorPolicy.REQUIRED


def has_second_factor(user: User) -> bool:
    """An authenticator app or a security key (recovery codes alone are not a second factor)."""
    found = Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    )
    return bool(found.exists())


def may_add_first_factor_without_reauthentication(request: HttpRequest) -> bool:
    """Whether allauth may skip its "confirm your password" step around the first enrolment.

    True for someone who signed in moments ago (within ACCOUNT_REAUTHENTICATION_TIMEOUT) and has
    no second factor yet, or only factors added since that sign-in (the recovery codes shown
    right after activation): they just proved their password and a fresh code, so asking again
    only adds a step. Changing a factor that existed before this sign-in still asks.
    """
    user = request.user
    if not isinstance(user, User):
        return False
    signed_in_at = request.session.get(SESSION_SIGNED_IN_AT)
    window = getattr(settings, "ACCOUNT_REAUTHENTICATION_TIMEOUT", 300)
    if signed_in_at is None or clock.now().timestamp() - signed_in_at > window:
        return False
    signed_in = datetime.fromtimestamp(signed_in_at, UTC)
    return not Authenticator.objects.filter(user=user, created_at__lt=signed_in).exists()


def _path(name: str, *args: str) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # that area is not installed in this build
        return None


@cache
def _enrolment_exempt_prefixes() -> tuple[str, ...]:
    """Paths a signed-in person who still has to enrol may open."""
    set_password = _path("accounts:set-password", "uid", "token")
    candidates = [
        _path("mfa_index"),  # every two-factor page, enrolment and re-authentication included
        _path("account_logout"),
        _path("account_reauthenticate"),  # allauth asks for the password before enrolment
        _path("accounts:codes-help"),
        set_password.split("uid/")[0] if set_password else None,
        settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}",
        "/_allauth/",
        HEALTH_PATH,
    ]
    return tuple(prefix for prefix in candidates if prefix)


class TwoFactorEnrolmentMiddleware:
    """Sends members of accounts that require two-factor to enrol before any other page.

    Instance staff must always enrol. The API answers 403 to a browser session that has not
    enrolled; personal API tokens are unaffected (a token can only be created after enrolment).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if isinstance(user, User):
            path = request.path_info
            if enrolment_required(user) and not has_second_factor(user):
                # Read by the enrolment page to explain why it appeared.
                request.two_factor_enrolment_required = True  # type: ignore[attr-defined]
                if not path.startswith(_enrolment_exempt_prefixes()):
                    if path.startswith(API_PREFIX):
                        return JsonResponse({"detail": "Two-factor enrolment required"}, status=403)
                    return redirect("mfa_activate_totp")
        return self.get_response(request)
