from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from ledgerbridge import __version__
from ledgerbridge.accounts.access import Access, Membership, membership
from ledgerbridge.accounts.roles import Perm


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    needs: Perm | Access


# The main navigation, shown only to those who may open each page.
MAIN_NAV = [
    NavItem("Dashboard", "web:dashboard", Access.SIGNED_IN),
    NavItem("Companies", "companies:list", Perm.VIEW_COMPANIES),
    NavItem("Sync", "sync:home", Perm.SYNC),
    NavItem("Users", "accounts:users", Perm.MANAGE_USERS),
    NavItem("Account", "accounts:account", Perm.EDIT_ACCOUNT),
    NavItem("Audit log", "accounts:audit-log", Perm.VIEW_AUDIT_LOG),
    NavItem("API log", "apilog:calls", Perm.MANAGE_API_LOG),
    NavItem("Support", "accounts:support-accounts", Access.STAFF),
]
USER_NAV = [
    NavItem("Profile", "accounts:profile", Perm.MANAGE_OWN_PROFILE),
]


def _visible(items: list[NavItem], member: Membership) -> list[dict[str, str]]:
    shown = []
    for item in items:
        if isinstance(item.needs, Perm) and not member.can(item.needs):
            continue
        if item.needs == Access.STAFF and member.mode not in ("staff", "support"):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:  # the page's area is not installed in this build
            continue
        shown.append({"label": item.label, "url": url, "url_name": item.url_name})
    return shown


def site(request: HttpRequest) -> dict[str, object]:
    context: dict[str, object] = {"site_name": settings.SITE_NAME, "version": __version__}
    if hasattr(request, "user"):
        member = membership(request)
        context |= {
            "membership": member,
            "main_nav": _visible(MAIN_NAV, member),
            "user_nav": _visible(USER_NAV, member),
        }
    return context
