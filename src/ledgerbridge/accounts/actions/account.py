"""The account's own settings, PSA credentials, emulation, support access and the beta group.

Each function is one state change: it owns its transaction and its audit event. Refusals are
`AccountActionError`s whose message is written for the finance admin and shown as it is.
"""

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from httpx import BaseTransport

from ledgerbridge.accounts import access
from ledgerbridge.accounts.models import (
    Account,
    PsaCredential,
    SupportGrant,
    User,
    live_support_grant,
)
from ledgerbridge.accounts.roles import ROLES, Role
from ledgerbridge.connectors.base import ConnectivityFinding, ConnectivityReport, ConnectorError
from ledgerbridge.connectors.psa import source_for
from ledgerbridge.core import audit, clock

SUPPORT_MIN = timedelta(hours=1)
SUPPORT_MAX = timedelta(days=7)


class AccountActionError(Exception):
    """A refused change; the message says why and what to do instead."""


def _member(request: HttpRequest) -> tuple[access.Membership, Account, User]:
    member = access.membership(request)
    if member.account is None or member.real_user is None:
        raise PermissionDenied
    return member, member.account, member.real_user


def _lock(account: Account) -> None:
    # Serialises changes to one account's credentials/grants on Postgres (SQLite already
    # serialises writers with IMMEDIATE transactions).
    Account.objects.select_for_update().filter(pk=account.pk).first()


# --- account settings ------------------------------------------------------------------------


def do_update_account_settings(
    request: HttpRequest, *, name: str, two_factor_policy: str
) -> list[str]:
    """Rename the account and/or change its two-factor policy; returns the audited actions."""
    _, account, _ = _member(request)
    done = []
    with transaction.atomic():
        current = Account.objects.select_for_update().get(pk=account.pk)
        if current.name != name:
            done.append("account.renamed")
            access.record(
                request,
                "account.renamed",
                target=current,
                details={"from": current.name, "to": name},
            )
            current.name = name
        if current.two_factor_policy != two_factor_policy:
            done.append("account.two_factor_policy_changed")
            access.record(
                request,
                "account.two_factor_policy_changed",
                target=current,
                details={"from": current.two_factor_policy, "to": two_factor_policy},
            )
            current.two_factor_policy = two_factor_policy
        if done:
            current.save(update_fields=["name", "two_factor_policy"])
    account.name, account.two_factor_policy = current.name, current.two_factor_policy
    return done


def do_set_beta(request: HttpRequest, *, join: bool) -> bool:
    """Join or leave the beta group; returns False when nothing changed."""
    _, account, _ = _member(request)
    with transaction.atomic():
        changed = Account.objects.filter(pk=account.pk).exclude(beta_enabled=join)
        if not changed.update(beta_enabled=join):
            return False
        account.beta_enabled = join
        access.record(
            request, "account.beta_joined" if join else "account.beta_left", target=account
        )
    return True


def do_set_beta_as_staff(request: HttpRequest, account: Account, *, join: bool) -> bool:
    """Instance staff switch an account's beta group; needs no grant and shows no account data."""
    staff = access.membership(request).real_user
    with transaction.atomic():
        changed = Account.objects.filter(pk=account.pk).exclude(beta_enabled=join)
        if not changed.update(beta_enabled=join):
            return False
        account.beta_enabled = join
        # Not access.record: the staff member is not inside this account, yet the event belongs
        # in its log, marked as support like everything else staff do there.
        audit.record(
            "account.beta_joined" if join else "account.beta_left",
            account=account,
            actor=staff,
            target=account,
            request=request,
            details={"support": True},
        )
    return True


# --- PSA credentials and the primary API account ----------------------------------------------


def do_create_psa_credential(
    request: HttpRequest, *, psa: str, label: str, secrets: dict[str, str]
) -> PsaCredential:
    """Store a credential set; the account's first one becomes the primary API account."""
    _, account, actor = _member(request)
    with transaction.atomic():
        _lock(account)
        first = not PsaCredential.objects.filter(account=account, is_primary=True).exists()
        credential = PsaCredential.objects.create(
            account=account,
            psa=psa,
            label=label,
            secrets=secrets,
            created_by=actor,
            created_at=clock.now(),
            is_primary=first,
            primary_set_by=actor if first else None,
            primary_set_at=clock.now() if first else None,
        )
        access.record(
            request,
            "psa_credential.created",
            target=credential,
            details={"psa": psa, "primary": first},
        )
    return credential


def do_update_psa_credential(
    request: HttpRequest,
    credential: PsaCredential,
    *,
    label: str,
    secrets: dict[str, str],
    changed_fields: list[str],
) -> None:
    """Save edits; the audit event names the fields that changed, never their values."""
    changed = list(changed_fields)
    if label != credential.label:
        changed.insert(0, "label")
    if not changed:
        return
    with transaction.atomic():
        credential.label = label
        credential.secrets = secrets
        credential.save(update_fields=["label", "secrets"])
        access.record(
            request, "psa_credential.updated", target=credential, details={"changed": changed}
        )


def do_delete_psa_credential(request: HttpRequest, credential: PsaCredential) -> None:
    with transaction.atomic():
        _lock(credential.account)
        current = PsaCredential.objects.filter(pk=credential.pk).first()
        if current is None:
            return
        if current.is_primary:
            raise AccountActionError(
                f"“{current.label}” is the primary API account: background sync signs in with "
                "it. Make another credential set primary first, then delete this one."
            )
        access.record(
            request,
            "psa_credential.deleted",
            target=current,
            details={"psa": current.psa, "label": current.label},
        )
        current.delete()


def do_make_primary_psa_credential(request: HttpRequest, credential: PsaCredential) -> bool:
    """Make `credential` the one background sync uses; returns False if it already was."""
    _, account, actor = _member(request)
    try:
        with transaction.atomic():
            _lock(account)
            current = PsaCredential.objects.get(pk=credential.pk, account=account)
            if current.is_primary:
                return False
            previous = PsaCredential.objects.filter(account=account, is_primary=True).first()
            if previous is not None:
                PsaCredential.objects.filter(pk=previous.pk).update(
                    is_primary=False, primary_set_by=None, primary_set_at=None
                )
            now = clock.now()
            PsaCredential.objects.filter(pk=current.pk).update(
                is_primary=True, primary_set_by=actor, primary_set_at=now
            )
            access.record(
                request,
                "psa_credential.made_primary",
                target=current,
                details={"previous": previous.label if previous is not None else None},
            )
    except IntegrityError:
        # Only reachable if two admins switch at the same instant on a database without row
        # locks; the constraint kept the account consistent, so asking again is safe.
        raise AccountActionError(
            "Someone changed the primary API account at the same moment. Reload and try again."
        ) from None
    credential.is_primary, credential.primary_set_by, credential.primary_set_at = True, actor, now
    return True


# --- emulation -------------------------------------------------------------------------------


def do_start_emulation(request: HttpRequest, target: User) -> None:
    """Let an account-admin act as one `user`-role member of their own account for 30 minutes."""
    member, _, admin = _member(request)
    if member.mode != "member":
        raise AccountActionError(
            "Emulation is only for the account's own admins, not during support access."
        )
    who = target.get_full_name()
    if target.pk == admin.pk:
        raise AccountActionError("You cannot emulate yourself.")
    if not target.is_active:
        raise AccountActionError(f"{who} is disabled. Only active members can be emulated.")
    if target.role != Role.USER:
        label = ROLES[Role(target.role)].label
        raise AccountActionError(
            f"{who} is a {label}. Only members with the User role can be emulated, so no one "
            "borrows another admin's or payments user's powers."
        )
    with transaction.atomic():
        access.record(request, "emulation.started", target=target)
    request.session[access.SESSION_EMULATED_USER] = target.pk
    request.session[access.SESSION_EMULATION_STARTED] = clock.now().isoformat()


def do_stop_emulation(request: HttpRequest) -> User | None:
    """End emulation; returns the member who was emulated (None if nobody was)."""
    member = access.membership(request)
    if not member.is_emulating:
        access.end_emulation(request)
        return None
    target = member.user
    with transaction.atomic():
        # Recorded while still emulating, so the event names both identities.
        access.record(request, "emulation.stopped", target=target)
    access.end_emulation(request)
    request.membership = access.membership_for(request)  # type: ignore[attr-defined]
    return target


# --- support access --------------------------------------------------------------------------


def do_grant_support_access(
    request: HttpRequest, *, duration: timedelta, reason: str
) -> SupportGrant:
    """Let instance staff into the account until now + duration; replaces a live grant."""
    member, account, admin = _member(request)
    if member.is_support:
        raise AccountActionError(
            "Support staff cannot extend their own access. "
            f"An account admin of {account.name} can grant it."
        )
    if not SUPPORT_MIN <= duration <= SUPPORT_MAX:
        raise AccountActionError("Support access lasts from 1 hour to 7 days.")
    now = clock.now()
    with transaction.atomic():
        _lock(account)
        replaced = list(
            SupportGrant.objects.filter(
                account=account, revoked_at__isnull=True, expires_at__gt=now
            ).values_list("pk", flat=True)
        )
        SupportGrant.objects.filter(pk__in=replaced).update(revoked_at=now, revoked_by=admin)
        grant = SupportGrant.objects.create(
            account=account,
            granted_by=admin,
            reason=reason,
            created_at=now,
            expires_at=now + duration,
        )
        details: dict[str, Any] = {
            "expires_at": grant.expires_at.isoformat(),
            "hours": duration // timedelta(hours=1),
            "reason": reason,
        }
        if replaced:
            details["replaces"] = replaced
        access.record(request, "support.granted", target=grant, details=details)
    return grant


def do_revoke_support_grant(request: HttpRequest, grant: SupportGrant) -> None:
    _, _, actor = _member(request)
    with transaction.atomic():
        ended = SupportGrant.objects.filter(
            pk=grant.pk, revoked_at__isnull=True, expires_at__gt=clock.now()
        ).update(revoked_at=clock.now(), revoked_by=actor)
        if not ended:
            raise AccountActionError("That support grant had already ended.")
        access.record(request, "support.revoked", target=grant)


def do_enter_support(request: HttpRequest, account: Account) -> SupportGrant:
    """Instance staff enter `account`; only under a live grant (403 otherwise)."""
    member = access.membership(request)
    if member.mode not in ("staff", "support"):
        raise PermissionDenied
    grant = live_support_grant(account)
    if grant is None:
        raise PermissionDenied("This account has not granted support access.")
    if member.is_support and member.account is not None and member.account.pk != account.pk:
        do_leave_support(request)
    request.session[access.SESSION_SUPPORT_ACCOUNT] = account.pk
    request.membership = access.membership_for(request)  # type: ignore[attr-defined]
    with transaction.atomic():
        access.record(
            request,
            "support.entered",
            target=grant,
            details={"grant_expires_at": grant.expires_at.isoformat()},
        )
    return grant


def do_leave_support(request: HttpRequest) -> Account | None:
    member = access.membership(request)
    left = member.account if member.is_support else None
    if left is not None:
        with transaction.atomic():
            access.record(request, "support.left", target=left)
    request.session.pop(access.SESSION_SUPPORT_ACCOUNT, None)
    request.membership = access.membership_for(request)  # type: ignore[attr-defined]
    return left


# --- PSA connectivity tests -------------------------------------------------------------------


def psa_test_summary(report: ConnectivityReport) -> str:
    """One sentence for the checklist and the Account screen: the first problem, or what the
    PSA confirmed."""
    problems = report.problems
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"{first.message}{more}"
    said = [f.message for f in report.findings if f.kind == "ok"]
    return said[0] if said else "Connected."


def do_test_psa_credential(
    request: HttpRequest, credential: PsaCredential, *, transport: BaseTransport | None = None
) -> ConnectivityReport:
    """Ask the PSA whether these credentials work, and remember the answer.

    Incomplete credentials and an unreachable PSA are findings like any other, so the admin
    always gets a report rather than an error page. `transport` lets tests and the demo route
    the calls to a simulator.
    """
    try:
        report = source_for(credential, transport=transport).test_connectivity()
    except ConnectorError as failed:
        report = ConnectivityReport(
            ok=False,
            findings=(
                ConnectivityFinding(kind=failed.kind, message=failed.message, hint=failed.hint),
            ),
        )
    now = clock.now()
    summary = psa_test_summary(report)
    with transaction.atomic():
        PsaCredential.objects.filter(pk=credential.pk).update(
            last_tested_at=now, last_test_ok=report.ok, last_test_summary=summary
        )
        access.record(
            request,
            "psa_credential.tested",
            target=credential,
            details={
                "ok": report.ok,
                "problems": [str(f.kind) for f in report.problems],
            },
        )
    credential.last_tested_at, credential.last_test_ok = now, report.ok
    credential.last_test_summary = summary
    return report
