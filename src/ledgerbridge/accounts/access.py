"""Who is acting, in which account, with which permissions — and the checks views rely on.

Every request gets a `Membership` (set by `MembershipMiddleware`): the signed-in person
(`real_user`), the user whose permissions apply (`user`: the emulated member while an
account-admin emulates one), the account in play (the member's own, or the one an instance
operator entered under a live support grant) and the mode. Views declare what they need with
`@requires(Perm.X)`; the declarations form the table the permissions test walks.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import wraps
from typing import Any, Literal, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from ledgerbridge.accounts.models import Account, User, live_support_grant
from ledgerbridge.accounts.roles import ROLES, Perm, Role
from ledgerbridge.companies.models import Company
from ledgerbridge.core import audit, clock
from ledgerbridge.core.models import AuditEvent

EMULATION_LIMIT = timedelta(minutes=30)
SESSION_EMULATED_USER = "lb_emulated_user_id"
SESSION_EMULATION_STARTED = "lb_emulation_started_at"
SESSION_SUPPORT_ACCOUNT = "lb_support_account_id"

Mode = Literal["anonymous", "member", "emulating", "support", "staff", "no-account"]


@dataclass
class Membership:
    real_user: User | None
    user: User | None
    account: Account | None
    mode: Mode
    notices: list[str] = field(default_factory=list)

    @property
    def is_emulating(self) -> bool:
        return self.mode == "emulating"

    @property
    def is_support(self) -> bool:
        return self.mode == "support"

    @property
    def acting_role(self) -> Role | None:
        if self.mode == "support":
            # Support works the account as an account-admin would, every step audited.
            return Role.ACCOUNT_ADMIN
        if self.mode in ("member", "emulating") and self.user is not None:
            return Role(self.user.role)
        return None

    def can(self, perm: Perm) -> bool:
        role = self.acting_role
        return role is not None and perm in ROLES[role].permissions

    def companies(self) -> QuerySet[Company]:
        """The companies this membership may work with."""
        role = self.acting_role
        if role is None or self.account is None:
            return Company.objects.none()
        if ROLES[role].all_companies:
            return Company.objects.filter(account=self.account)
        assert self.user is not None
        return self.user.companies.filter(account=self.account)


def membership_for(request: HttpRequest) -> Membership:
    user = request.user
    if not user.is_authenticated:
        return Membership(None, None, None, "anonymous")
    assert isinstance(user, User)
    session = request.session
    if user.is_staff and user.account_id is None:
        account_id = session.get(SESSION_SUPPORT_ACCOUNT)
        if account_id is not None:
            account = Account.objects.filter(pk=account_id).first()
            if account is not None and live_support_grant(account) is not None:
                return Membership(user, user, account, "support")
            session.pop(SESSION_SUPPORT_ACCOUNT, None)
            return Membership(
                user, user, None, "staff", ["The support grant for that account has ended."]
            )
        return Membership(user, user, None, "staff")
    if user.account is None:
        return Membership(user, user, None, "no-account")
    emulated_id = session.get(SESSION_EMULATED_USER)
    if emulated_id is not None:
        target = _valid_emulation_target(user, emulated_id, session.get(SESSION_EMULATION_STARTED))
        if target is not None:
            return Membership(user, target, user.account, "emulating")
        end_emulation(request)
        # The trail shows when emulation stopped even if nobody pressed "stop emulating".
        audit.record(
            "emulation.expired",
            account=user.account,
            actor=user,
            request=request,
            details={"emulated_user_id": emulated_id},
        )
        return Membership(user, user, user.account, "member", ["Emulation has ended."])
    return Membership(user, user, user.account, "member")


def _valid_emulation_target(admin: User, target_id: int, started: str | None) -> User | None:
    if started is None or admin.account_id is None or not admin.can(Perm.EMULATE_USERS):
        return None
    if clock.now() - datetime.fromisoformat(started) > EMULATION_LIMIT:
        return None
    return User.objects.filter(
        pk=target_id, account_id=admin.account_id, is_active=True, role=Role.USER
    ).first()


def end_emulation(request: HttpRequest) -> None:
    request.session.pop(SESSION_EMULATED_USER, None)
    request.session.pop(SESSION_EMULATION_STARTED, None)


# allauth's own pages that change who someone is; our views say so with refuse_while_emulating.
IDENTITY_URL_NAMES = {
    "account_change_password",
    "account_set_password",
    "account_email",
    "account_reauthenticate",
}
IDENTITY_URL_NAME_PREFIXES = ("mfa_", "usersessions_")


def is_identity_page(url_name: str | None, path: str) -> bool:
    if path.startswith("/_allauth/"):
        return True
    if url_name is None:
        return False
    return url_name in IDENTITY_URL_NAMES or url_name.startswith(IDENTITY_URL_NAME_PREFIXES)


class MembershipMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = membership_for(request)  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        url_name = match.url_name if match else None
        if membership(request).is_emulating and is_identity_page(url_name, request.path):
            raise PermissionDenied("This page is not available while you emulate another user.")
        return None


def membership(request: HttpRequest) -> Membership:
    found = getattr(request, "membership", None)
    if found is None:
        found = membership_for(request)
        request.membership = found  # type: ignore[attr-defined]
    assert isinstance(found, Membership)
    return found


# --- the declared table of who may open which view -------------------------------------------


class Access(StrEnum):
    PUBLIC = "public"  # anyone, signed in or not (sign-in, sign-up, reset, health)
    SIGNED_IN = "signed-in"  # any signed-in person, with or without an account
    STAFF = "staff"  # instance operators only


@dataclass(frozen=True)
class ViewRule:
    needs: Perm | Access
    # Pages that change who someone is (password, second factor, tokens, user admin) are refused
    # while an account-admin emulates a member.
    refuse_while_emulating: bool = False


VIEW_RULES: dict[Callable[..., Any], ViewRule] = {}

V = TypeVar("V", bound=Callable[..., HttpResponse])


def requires(needs: Perm | Access, *, refuse_while_emulating: bool = False) -> Callable[[V], V]:
    """Declare and enforce what a view needs: 401→login, 403 when not allowed."""
    rule = ViewRule(needs, refuse_while_emulating)

    def decorate(view: V) -> V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            check(request, rule)
            return view(request, *args, **kwargs)

        VIEW_RULES[wrapper] = rule
        return wrapper  # type: ignore[return-value]

    return decorate


class NotSignedInError(Exception):
    pass


def check(request: HttpRequest, rule: ViewRule) -> None:
    """Raise NotSignedInError or PermissionDenied unless the rule lets this request through."""
    if rule.needs == Access.PUBLIC:
        return
    member = membership(request)
    if member.mode == "anonymous":
        raise NotSignedInError
    if rule.refuse_while_emulating and member.is_emulating:
        raise PermissionDenied("This page is not available while you emulate another user.")
    if rule.needs == Access.SIGNED_IN:
        return
    if rule.needs == Access.STAFF:
        if member.mode not in ("staff", "support"):
            raise PermissionDenied
        return
    assert isinstance(rule.needs, Perm)
    if not member.can(rule.needs):
        raise PermissionDenied


class NotSignedInMiddleware:
    """Turns NotSignedInError from a view into a redirect to the sign-in page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotSignedInError):
            return redirect_to_login(request.get_full_path())
        return None


# --- fetch and authorise in one call ---------------------------------------------------------


def get_in_account_or_404[M: Model](
    request: HttpRequest, queryset: QuerySet[M], **lookup: Any
) -> M:
    """The object if it belongs to the account in play; 404 otherwise (never 403: no probing)."""
    member = membership(request)
    if member.account is None:
        raise Http404
    found = queryset.filter(account=member.account, **lookup).first()
    if found is None:
        raise Http404
    return found


def get_company_or_404(request: HttpRequest, company_id: int) -> Company:
    company = membership(request).companies().filter(pk=company_id).first()
    if company is None:
        raise Http404
    return company


def record(
    request: HttpRequest,
    action: str,
    *,
    target: Model | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Audit an action taken through a request, with both identities when emulating/supporting."""
    member = membership(request)
    extra = dict(details or {})
    if member.is_support:
        extra["support"] = True
    return audit.record(
        action,
        account=member.account,
        actor=member.real_user,
        acting_as=member.user if member.is_emulating else None,
        target=target,
        request=request,
        details=extra,
    )
