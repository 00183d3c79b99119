"""Companies and their ledger connections: every state change, with its transaction and audit.

Refusals are `CompanyActionError`s whose message is written for the finance admin and shown as
it is. Token refreshes live in `companies.tokens` (they also run from background work).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from ledgerbridge.accounts import access
from ledgerbridge.companies.models import (
    Company,
    CompanySettings,
    ConnectionStatus,
    ExclusionRule,
    LedgerConnection,
    Mapping,
    MappingKind,
)
from ledgerbridge.companies.tokens import DbAccessTokens, not_connected_error
from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.oauth import (
    VENDOR_NAMES,
    LedgerOAuth,
    LedgerOrganisation,
    TokenSet,
    oauth_for,
)
from ledgerbridge.core import audit, clock


class CompanyActionError(Exception):
    """A refused change; the message says why and what to do instead."""


def do_create_company(request: HttpRequest, *, name: str) -> Company:
    member = access.membership(request)
    if member.account is None:
        raise PermissionDenied
    with transaction.atomic():
        company = Company.objects.create(account=member.account, name=name.strip())
        access.record(request, "company.created", target=company, details={"name": company.name})
    return company


def do_connect_ledger(
    request: HttpRequest,
    company: Company,
    *,
    system: str,
    tokens: TokenSet,
    organisation: LedgerOrganisation,
) -> LedgerConnection:
    """Store a fresh sign-in as the company's connection (a company has one at a time)."""
    member = access.membership(request)
    previous = company.ledger_connection()
    try:
        with transaction.atomic():
            connection = LedgerConnection.objects.create(
                company=company,
                system=system,
                organisation_id=organisation.id,
                organisation_name=organisation.name,
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                access_expires_at=tokens.access_expires_at,
                refresh_expires_at=tokens.refresh_expires_at,
                scopes=" ".join(tokens.scopes),
                connected_by=member.real_user,
                connected_at=clock.now(),
            )
            details = {
                "company_id": company.pk,
                "system": system,
                "organisation_id": organisation.id,
                "organisation_name": organisation.name,
                "scopes": list(tokens.scopes),
            }
            if previous is not None and previous.organisation_id != organisation.id:
                details["previous_organisation_id"] = previous.organisation_id
            access.record(request, "ledger.connected", target=connection, details=details)
    except IntegrityError:
        raise CompanyActionError(
            f"“{company.name}” is already connected to a ledger. Disconnect it first."
        ) from None
    return connection


def do_disconnect_ledger(
    request: HttpRequest, connection: LedgerConnection, *, oauth: LedgerOAuth | None = None
) -> str:
    """Withdraw LedgerBridge's access at the vendor and forget the tokens.

    Returns a sentence for the admin. The connection ends here even when the vendor cannot be
    reached, since the admin asked for it; the sentence then says how to finish the job there.
    """
    if not connection.is_connected:
        raise CompanyActionError("This connection has already ended.")
    vendor = VENDOR_NAMES[connection.system]
    member = access.membership(request)
    revoked = True
    if connection.refresh_token:
        try:
            (oauth or oauth_for(connection.system)).revoke(connection.refresh_token)
        except ConnectorError:
            revoked = False
    who = member.real_user.email if member.real_user else "an administrator"
    reason = f"Disconnected by {who} on {clock.now():%d %b %Y}."
    with transaction.atomic():
        ended = LedgerConnection.objects.filter(
            pk=connection.pk, status=ConnectionStatus.CONNECTED
        ).update(
            status=ConnectionStatus.DISCONNECTED,
            disconnect_reason=reason,
            disconnected_at=clock.now(),
            access_token=None,
            refresh_token=None,
            token_version=connection.token_version + 1,
        )
        if ended:
            access.record(
                request,
                "ledger.disconnected",
                target=connection,
                details={
                    "company_id": connection.company_id,
                    "system": connection.system,
                    "cause": "admin",
                    "revoked_at_vendor": revoked,
                },
            )
    org = connection.organisation_name or connection.organisation_id
    if revoked:
        return f"Disconnected from {vendor} ({org}). LedgerBridge's access there is withdrawn."
    return (
        f"Disconnected from {vendor} ({org}) in LedgerBridge, but {vendor} could not be reached "
        f"to withdraw the access. Remove LedgerBridge under {vendor}'s connected apps as well."
    )


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    hint: str = ""


def check_connection(company: Company, *, oauth: LedgerOAuth | None = None) -> CheckResult:
    """Ask the ledger who the stored sign-in reaches, refreshing the token as needed.

    A dead refresh token, or a Xero organisation that no longer lists LedgerBridge, ends the
    connection with a reason; a passing fault only reports itself.
    """
    connection = company.ledger_connection()
    if connection is None:
        return CheckResult(False, f"“{company.name}” is not connected to a ledger yet.")
    if not connection.is_connected:
        error = not_connected_error(connection)
        return CheckResult(False, error.message, error.hint)
    client = oauth or oauth_for(connection.system)
    tokens = DbAccessTokens(connection.pk, oauth=client)
    vendor = VENDOR_NAMES[connection.system]
    try:
        access_token = tokens.current()
        try:
            found = client.identify(access_token, connection.organisation_id)
        except ConnectorError as refused:
            if refused.kind != ErrorKind.AUTH:
                raise
            # The ledger refused a token we thought live (revoked early, clock skew): renew once.
            found = client.identify(tokens.refreshed(access_token), connection.organisation_id)
    except ConnectorError as failed:
        if failed.kind == ErrorKind.PERMISSION and connection.system == "xero":
            _end_unlisted(connection, failed)
        return CheckResult(False, failed.message, failed.hint)
    if found.name and found.name != connection.organisation_name:
        # Renamed in the ledger since it was connected: show the name people know it by now.
        LedgerConnection.objects.filter(pk=connection.pk).update(organisation_name=found.name)
    return CheckResult(
        True, f"Connected to {vendor}: {found.name or connection.organisation_name}."
    )


def _end_unlisted(connection: LedgerConnection, failed: ConnectorError) -> None:
    org = connection.organisation_name or connection.organisation_id
    reason = f"Xero no longer lists {org} as connected to LedgerBridge; reconnect."
    with transaction.atomic():
        ended = LedgerConnection.objects.filter(
            pk=connection.pk, status=ConnectionStatus.CONNECTED
        ).update(
            status=ConnectionStatus.DISCONNECTED,
            disconnect_reason=reason,
            disconnected_at=clock.now(),
            access_token=None,
            refresh_token=None,
            token_version=connection.token_version + 1,
        )
        if ended:
            audit.record(
                "ledger.disconnected",
                account=connection.company.account,
                target=connection,
                details={
                    "company_id": connection.company_id,
                    "system": connection.system,
                    "cause": "organisation_unlisted",
                    "reason": reason,
                },
            )


# --- sync settings and mappings ------------------------------------------------------------

SETTINGS_FIELDS = frozenset(
    f.name
    for f in CompanySettings._meta.get_fields()
    if f.concrete and f.name not in ("id", "company", "updated_at")
)


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CompanyActionError(
            f"{name!r} is not a time zone LedgerBridge knows; use a name like "
            "Australia/Sydney or America/New_York."
        ) from None


def do_save_settings(
    request: HttpRequest, company: Company, changes: dict[str, Any]
) -> CompanySettings:
    """Create or change the company's sync settings. The locale is fixed once saved."""
    unknown = set(changes) - SETTINGS_FIELDS
    if unknown:
        raise CompanyActionError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        current = CompanySettings.objects.select_for_update().filter(company=company).first()
        if current is None:
            if not changes.get("locale"):
                raise CompanyActionError("Choose the company's locale (AU, NZ, UK, CA or US).")
            current = CompanySettings(company=company)
        elif "locale" in changes and changes["locale"] != current.locale:
            raise CompanyActionError(
                f"The locale is fixed once set (it is {current.locale}); create a new company "
                "for another locale."
            )
        if "timezone" in changes:
            _check_timezone(str(changes["timezone"]))
        if "max_minor_adjustment" in changes and Decimal(changes["max_minor_adjustment"]) < 0:
            raise CompanyActionError("The maximum minor adjustment cannot be negative.")
        credential = changes.get("psa_credential")
        if credential is not None and credential.account_id != company.account_id:
            raise CompanyActionError("Those PSA credentials belong to another account.")
        before = {name: getattr(current, name) for name in changes}
        for name, value in changes.items():
            setattr(current, name, value)
        current.updated_at = clock.now()
        current.full_clean(exclude=["company", "psa_credential"])
        current.save()
        changed = {name: str(value) for name, value in changes.items() if before.get(name) != value}
        access.record(request, "company.settings_changed", target=company, details=changed)
    return current


@dataclass(frozen=True)
class MappingChange:
    kind: str
    psa_value: str
    ledger_value: str = ""
    dimension: str = ""
    psa_label: str = ""
    ledger_label: str = ""
    ledger_extra: str = ""


def do_set_mappings(
    request: HttpRequest, company: Company, changes: list[MappingChange]
) -> list[Mapping]:
    """Create or update mappings (clearing `ledger_value` and `ledger_extra` unmaps one)."""
    kinds = set(MappingKind.values)
    saved: list[Mapping] = []
    with transaction.atomic():
        for change in changes:
            if change.kind not in kinds:
                raise CompanyActionError(f"Unknown mapping kind {change.kind!r}.")
            if not change.psa_value.strip():
                raise CompanyActionError("A mapping needs the PSA value it maps.")
            if (
                change.kind == MappingKind.TRACKING
                and change.ledger_value
                and not (change.dimension and change.ledger_extra)
            ):
                raise CompanyActionError(
                    "A tracking mapping needs the PSA dimension and the ledger category."
                )
            if change.kind == MappingKind.TERM and change.ledger_extra:
                from ledgerbridge.sync.terms import TermsError, parse_xref

                try:
                    parse_xref(change.ledger_extra)
                except TermsError as error:
                    raise CompanyActionError(str(error)) from None
            mapping, _ = Mapping.objects.update_or_create(
                company=company,
                kind=change.kind,
                dimension=change.dimension,
                psa_value=change.psa_value.strip(),
                defaults={
                    "psa_label": change.psa_label,
                    "ledger_value": change.ledger_value.strip(),
                    "ledger_label": change.ledger_label,
                    "ledger_extra": change.ledger_extra.strip(),
                    "updated_at": clock.now(),
                },
            )
            saved.append(mapping)
        access.record(
            request, "company.mappings_changed", target=company, details={"count": len(saved)}
        )
    return saved


def do_add_exclusion_rule(
    request: HttpRequest, company: Company, *, prefix: str, mark_paid: bool = False
) -> ExclusionRule:
    prefix = prefix.strip()
    if not prefix:
        raise CompanyActionError("An exclusion rule needs the number prefix it matches.")
    try:
        with transaction.atomic():
            rule = ExclusionRule.objects.create(
                company=company, prefix=prefix, record_type="invoice", mark_paid=mark_paid
            )
            access.record(
                request, "company.exclusion_rule_added", target=company, details={"prefix": prefix}
            )
    except IntegrityError:
        raise CompanyActionError(
            f"A rule for numbers starting {prefix!r} exists already."
        ) from None
    return rule


def do_delete_exclusion_rule(request: HttpRequest, rule: ExclusionRule) -> None:
    with transaction.atomic():
        access.record(
            request,
            "company.exclusion_rule_deleted",
            target=rule.company,
            details={"prefix": rule.prefix},
        )
        rule.delete()
