"""Accounts and their members: creation, invitations, roles, companies, disabling.

Every function here is one state change: it owns its transaction, its audit event and its emails
(sent after commit). The Users screen, the users API, `createaccount` and sign-up all call these.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Literal

from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import models, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from ledgerbridge.accounts import access
from ledgerbridge.accounts.models import Account, ApiToken, User, new_security_stamp
from ledgerbridge.accounts.roles import ROLES, Role
from ledgerbridge.accounts.tokens import set_password_url
from ledgerbridge.companies.models import Company
from ledgerbridge.core import audit, clock

logger = logging.getLogger(__name__)

UserStatus = Literal["active", "invited", "disabled"]


class UserAdminError(Exception):
    """A change the Users screen refuses, with the message the account admin reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmailInUseError(UserAdminError):
    """The email address already belongs to a login (emails are unique across LedgerBridge)."""


class LastAdminError(UserAdminError):
    """The change would leave the account without an active account admin."""


class InvitationStateError(UserAdminError):
    """Resend or revoke asked of someone without a pending invitation."""


# --- helpers ---------------------------------------------------------------------------------


def clean_email(email: str) -> str:
    """The address as stored (trimmed, lower-case), or UserAdminError if it is not an address."""
    cleaned = (email or "").strip().lower()
    try:
        validate_email(cleaned)
    except ValidationError:
        raise UserAdminError(f"“{email.strip()}” is not a valid email address.") from None
    return cleaned


def _ensure_email_free(email: str, account: Account | None = None) -> None:
    existing = User.objects.filter(email__iexact=email).select_related("account").first()
    if existing is None:
        return
    if account is not None and existing.account_id == account.pk:
        raise EmailInUseError(f"{email} is already a member of {account.name}.")
    raise EmailInUseError(
        f"{email} already has a LedgerBridge login. Each person signs in with one email address; "
        "use a different one."
    )


def _required_name(value: str, what: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise UserAdminError(f"Enter the {what}.")
    return cleaned


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise UserAdminError(f"“{value}” is not a role. Choose one of: {choices}.") from None


def _account_companies(account: Account, companies: Iterable[Company | int]) -> list[Company]:
    """The companies asked for, all of which must belong to `account`."""
    wanted = {company.pk if isinstance(company, Company) else int(company) for company in companies}
    found = list(Company.objects.filter(account=account, pk__in=wanted))
    if len(found) != len(wanted):
        raise UserAdminError(f"Some of the chosen companies do not belong to {account.name}.")
    return found


def _active_admins(account: Account) -> "models.QuerySet[User]":
    # "Active" means able to sign in today: enabled and with a password (an admin whose
    # invitation is still pending cannot rescue the account yet).
    return User.objects.filter(account=account, role=Role.ACCOUNT_ADMIN, is_active=True).exclude(
        password__startswith=UNUSABLE_PASSWORD_PREFIX
    )


def _keep_an_admin(user: User) -> None:
    """Refuse to demote or disable `user` if they are the account's last active admin."""
    assert user.account is not None
    # Lock the account row so two admins demoting each other cannot both pass the check (on
    # SQLite, IMMEDIATE transactions already serialise writers).
    Account.objects.select_for_update().filter(pk=user.account.pk).first()
    admins = _active_admins(user.account)
    if admins.filter(pk=user.pk).exists() and not admins.exclude(pk=user.pk).exists():
        raise LastAdminError(f"{user.account.name} must keep at least one active account admin.")


def _record(
    action: str,
    *,
    account: Account | None,
    acting_user: User | None,
    request: HttpRequest | None,
    target: models.Model,
    details: dict[str, Any] | None = None,
) -> None:
    if request is not None and getattr(request.user, "is_authenticated", False):
        # Through a page or the API: the membership knows both identities and support access.
        access.record(request, action, target=target, details=details)
    else:
        audit.record(
            action,
            account=account,
            actor=acting_user,
            target=target,
            request=request,
            details=details,
        )


def _name_changes(
    user: User, first_name: str | None, last_name: str | None
) -> dict[str, dict[str, str]]:
    """The audit details of a name change (old and new); None leaves that name as it is."""
    wanted = {
        field: _required_name(value, label)
        for field, label, value in (
            ("first_name", "first name", first_name),
            ("last_name", "last name", last_name),
        )
        if value is not None
    }
    return {
        field: {"old": getattr(user, field), "new": value}
        for field, value in wanted.items()
        if getattr(user, field) != value
    }


def _company_names(companies: Iterable[Company]) -> list[str]:
    return sorted(company.name for company in companies)


def _send_invitation(user: User, link: str, invited_by: User | None) -> None:
    assert user.account is not None
    expires = clock.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    context = {
        "user": user,
        "account": user.account,
        "invited_by": invited_by,
        "link": link,
        "expires": expires,
        "site_name": settings.SITE_NAME,
    }
    subject = f"You are invited to {user.account.name} on {settings.SITE_NAME}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("accounts/emails/invitation.txt", context),
        to=[user.email],
    )
    message.attach_alternative(
        render_to_string("accounts/emails/invitation.html", context), "text/html"
    )
    try:
        message.send()
    except Exception:
        # The invitation is recorded; the admin can resend once mail works again.
        logger.exception("Could not send the invitation email", extra={"user_id": user.pk})


def _email_invitation_after_commit(user: User, invited_by: User | None) -> None:
    link = set_password_url(user)
    transaction.on_commit(lambda: _send_invitation(user, link, invited_by))


def end_sessions(user: User) -> int:
    """Delete every server-side session of `user`; returns how many ended."""
    ended: set[str] = set()
    for tracked in UserSession.objects.filter(user=user):
        ended.add(tracked.session_key)
        tracked.end()
    # Sessions allauth did not record (a login made outside its flows) are found by decoding.
    user_id = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == user_id:
            ended.add(session.session_key)
            session.delete()
    return len(ended)


# --- accounts --------------------------------------------------------------------------------


def do_create_account(name: str, admin: User, *, request: HttpRequest | None = None) -> Account:
    """Create an MSP's account with the unsaved `admin` as its first account-admin.

    Sign-up passes a user with the password they chose; `createaccount` passes one with an
    unusable password, who is then invited (the caller prints or sends the set-password link).
    """
    email = clean_email(admin.email)
    with transaction.atomic():
        _ensure_email_free(email)
        account = Account.objects.create(name=name.strip() or email.split("@")[-1])
        admin.email = email
        admin.account = account
        admin.role = Role.ACCOUNT_ADMIN
        if not admin.has_usable_password():
            admin.invited_at = clock.now()
        admin.save()
        audit.record(
            "account.created",
            account=account,
            actor=admin,
            target=account,
            request=request,
            details={"first_admin": admin.email},
        )
    return account


def do_sign_up(
    *, account_name: str, email: str, first_name: str, last_name: str, request: HttpRequest
) -> Account | None:
    """Self-service sign-up: a new account whose first admin proves the address by its link.

    No password is taken here: the set-password link mailed to the address is the proof that the
    person owns it. An address that already has a login gets a notice instead of a second
    account; the caller shows the same page either way, so sign-up reveals nobody's address.
    """
    email = clean_email(email)
    if User.objects.filter(email__iexact=email).exists():
        transaction.on_commit(lambda: _send_signup_notice(email))
        return None
    admin = User(email=email, first_name=first_name.strip(), last_name=last_name.strip())
    admin.set_unusable_password()
    with transaction.atomic():
        account = do_create_account(account_name, admin, request=request)
        _email_invitation_after_commit(admin, None)
    return account


def _send_signup_notice(email: str) -> None:
    context = {"email": email, "site_name": settings.SITE_NAME, "site_root": settings.SITE_ROOT}
    message = EmailMultiAlternatives(
        subject=f"Someone tried to sign up to {settings.SITE_NAME} with your address",
        body=render_to_string("accounts/emails/signup_existing.txt", context),
        to=[email],
    )
    try:
        message.send()
    except Exception:
        logger.exception("Could not send the sign-up notice")


# --- invitations -----------------------------------------------------------------------------


def do_invite_user(
    account: Account,
    *,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    companies: Iterable[Company | int] = (),
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> User:
    """Add a member who sets their own password from an emailed link (valid 48 hours)."""
    email = clean_email(email)
    first_name = _required_name(first_name, "first name")
    last_name = _required_name(last_name, "last name")
    chosen_role = _role(role)
    assigned = [] if ROLES[chosen_role].all_companies else _account_companies(account, companies)
    with transaction.atomic():
        _ensure_email_free(email, account)
        user = User(
            email=email,
            first_name=first_name,
            last_name=last_name,
            account=account,
            role=chosen_role,
            invited_at=clock.now(),
            invited_by=acting_user,
        )
        user.set_unusable_password()
        user.save()
        user.companies.set(assigned)
        _record(
            "user.invited",
            account=account,
            acting_user=acting_user,
            request=request,
            target=user,
            details={"role": chosen_role.value, "companies": _company_names(assigned)},
        )
        _email_invitation_after_commit(user, acting_user)
    return user


def do_resend_invitation(
    user: User, *, acting_user: User | None, request: HttpRequest | None = None
) -> None:
    """Send a fresh link; the one sent before stops working."""
    if not user.is_active:
        raise InvitationStateError(
            f"{user.email} is disabled. Enable them before resending the invitation."
        )
    if not user.is_invitation_pending:
        raise InvitationStateError(
            f"{user.email} has already set a password, so there is no invitation to resend."
        )
    with transaction.atomic():
        user.security_stamp = new_security_stamp()
        user.invited_at = clock.now()
        user.save(update_fields=["security_stamp", "invited_at"])
        _record(
            "user.invitation-resent",
            account=user.account,
            acting_user=acting_user,
            request=request,
            target=user,
        )
        _email_invitation_after_commit(user, acting_user)


def do_revoke_invitation(
    user: User, *, acting_user: User | None, request: HttpRequest | None = None
) -> None:
    """Withdraw a pending invitation: the link dies and the user is disabled."""
    if not (user.is_active and user.is_invitation_pending):
        raise InvitationStateError(
            f"{user.email} has no pending invitation to revoke."
            + ("" if user.is_active else " They are already disabled.")
        )
    with transaction.atomic():
        user.security_stamp = new_security_stamp()
        user.is_active = False
        user.save(update_fields=["security_stamp", "is_active"])
        _record(
            "user.invitation-revoked",
            account=user.account,
            acting_user=acting_user,
            request=request,
            target=user,
        )


def do_set_password(user: User, password: str, *, request: HttpRequest | None = None) -> None:
    """The person behind a set-password link chose their password (already validated)."""
    accepted_invitation = user.is_invitation_pending
    with transaction.atomic():
        user.set_password(password)
        # Single use: this link, and any other issued before it, stop working.
        user.security_stamp = new_security_stamp()
        user.save(update_fields=["password", "security_stamp"])
        # Opening the emailed link proves the address, which allauth's MFA enrolment asks for.
        EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).update(
            primary=False
        )
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        audit.record(
            "user.password-set",
            account=user.account,
            actor=user,
            target=user,
            request=request,
            details={"accepted_invitation": accepted_invitation},
        )


# --- editing ---------------------------------------------------------------------------------


def do_update_user(
    user: User,
    *,
    first_name: str | None,
    last_name: str | None,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> None:
    _save_names(
        user, first_name, last_name, "user.updated", acting_user=acting_user, request=request
    )


def _save_names(
    user: User,
    first_name: str | None,
    last_name: str | None,
    action: str,
    *,
    acting_user: User | None,
    request: HttpRequest | None,
) -> None:
    changes = _name_changes(user, first_name, last_name)
    if not changes:
        return
    with transaction.atomic():
        for field, change in changes.items():
            setattr(user, field, change["new"])
        user.save(update_fields=list(changes))
        _record(
            action,
            account=user.account,
            acting_user=acting_user,
            request=request,
            target=user,
            details=changes,
        )


def do_change_role(
    user: User, role: str, *, acting_user: User | None, request: HttpRequest | None = None
) -> None:
    """Change a member's role (the reference product could not; we audit old and new)."""
    new_role = _role(role)
    old_role = Role(user.role)
    if new_role == old_role:
        return
    with transaction.atomic():
        if old_role == Role.ACCOUNT_ADMIN:
            _keep_an_admin(user)
        user.role = new_role
        user.save(update_fields=["role"])
        cleared: list[str] = []
        if ROLES[new_role].all_companies:
            # The role sees every company; a stale list must not come back on a later demotion.
            cleared = _company_names(user.companies.all())
            user.companies.clear()
        _record(
            "user.role-changed",
            account=user.account,
            acting_user=acting_user,
            request=request,
            target=user,
            details={
                "old_role": old_role.value,
                "new_role": new_role.value,
                **({"companies_cleared": cleared} if cleared else {}),
            },
        )


def do_set_companies(
    user: User,
    companies: Iterable[Company | int],
    *,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> None:
    assert user.account is not None
    if user.role_spec.all_companies:
        raise UserAdminError(
            f"{user.role_spec.label}s work with every company of {user.account.name}; "
            "companies are assigned only to the other roles."
        )
    wanted = _account_companies(user.account, companies)
    current = list(user.companies.all())
    added = _company_names(set(wanted) - set(current))
    removed = _company_names(set(current) - set(wanted))
    if not added and not removed:
        return
    with transaction.atomic():
        user.companies.set(wanted)
        _record(
            "user.companies-changed",
            account=user.account,
            acting_user=acting_user,
            request=request,
            target=user,
            details={"added": added, "removed": removed},
        )


def do_edit_user(
    user: User,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    role: str | None = None,
    companies: Iterable[Company | int] | None = None,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> None:
    """Names, role and companies in one step: all of it is saved, or none of it."""
    with transaction.atomic():
        do_update_user(
            user,
            first_name=first_name,
            last_name=last_name,
            acting_user=acting_user,
            request=request,
        )
        if role is not None:
            do_change_role(user, role, acting_user=acting_user, request=request)
        if companies is not None and not user.role_spec.all_companies:
            do_set_companies(user, companies, acting_user=acting_user, request=request)


# --- disabling -------------------------------------------------------------------------------


def do_disable_user(
    user: User, *, acting_user: User | None, request: HttpRequest | None = None
) -> None:
    """Disable a member at once: sessions end, API tokens are revoked, links die."""
    if not user.is_active:
        raise UserAdminError(f"{user.email} is already disabled.")
    if acting_user is not None and acting_user.pk == user.pk:
        raise UserAdminError(
            "You cannot disable your own login; ask another account admin to do it."
        )
    with transaction.atomic():
        if user.role == Role.ACCOUNT_ADMIN:
            _keep_an_admin(user)
        user.is_active = False
        user.security_stamp = new_security_stamp()
        user.save(update_fields=["is_active", "security_stamp"])
        tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=clock.now()
        )
        sessions = end_sessions(user)
        _record(
            "user.disabled",
            account=user.account,
            acting_user=acting_user,
            request=request,
            target=user,
            details={"sessions_ended": sessions, "api_tokens_revoked": tokens},
        )


def do_enable_user(
    user: User, *, acting_user: User | None, request: HttpRequest | None = None
) -> None:
    if user.is_active:
        raise UserAdminError(f"{user.email} is already enabled.")
    with transaction.atomic():
        user.is_active = True
        user.save(update_fields=["is_active"])
        _record(
            "user.enabled",
            account=user.account,
            acting_user=acting_user,
            request=request,
            target=user,
        )


# --- own profile -----------------------------------------------------------------------------


def do_update_profile(
    user: User, *, first_name: str, last_name: str, request: HttpRequest | None = None
) -> None:
    _save_names(user, first_name, last_name, "profile.updated", acting_user=user, request=request)


def user_status(user: User) -> UserStatus:
    """active, invited or disabled — as the Users screen and API show it."""
    if not user.is_active:
        return "disabled"
    if user.is_invitation_pending:
        return "invited"
    return "active"
