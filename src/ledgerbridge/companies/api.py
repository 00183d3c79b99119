"""The companies API: each company the caller works with and the state of its ledger sign-in.

Connecting happens in a browser (the ledger's consent page), so a disconnected connection
answers with `reconnect_url`, the company page where an admin reconnects. Tokens never appear.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from ledgerbridge.accounts.access import get_company_or_404, membership
from ledgerbridge.accounts.models import PsaCredential
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.api.auth import AUTH_ERRORS, ApiError, api_requires
from ledgerbridge.companies import actions
from ledgerbridge.companies.models import (
    Company,
    CompanySettings,
    LedgerConnection,
    Locale,
    Mapping,
    MappingKind,
)

router = Router(tags=["companies"])

ConnectionState = Literal["connected", "disconnected", "not_connected"]


class ConnectionOut(Schema):
    status: ConnectionState
    system: Literal["xero", "qbo"] | None
    # Xero tenant id or QuickBooks realmId, and its name in the ledger.
    organisation_id: str | None
    organisation_name: str | None
    connected_at: datetime | None
    last_refreshed_at: datetime | None
    disconnected_at: datetime | None
    # Why the connection ended, written for the finance admin.
    disconnect_reason: str | None
    # Where an account admin reconnects (a browser page); set while disconnected.
    reconnect_url: str | None


class CompanyOut(Schema):
    id: int
    name: str
    connection: ConnectionOut


def _connection_out(request: HttpRequest, company: Company) -> ConnectionOut:
    connection: LedgerConnection | None = company.ledger_connection()
    if connection is None:
        return ConnectionOut(
            status="not_connected",
            system=None,
            organisation_id=None,
            organisation_name=None,
            connected_at=None,
            last_refreshed_at=None,
            disconnected_at=None,
            disconnect_reason=None,
            reconnect_url=None,
        )
    disconnected = not connection.is_connected
    reconnect_url = (
        request.build_absolute_uri(reverse("companies:detail", args=[company.pk]))
        if disconnected
        else None
    )
    return ConnectionOut(
        status="disconnected" if disconnected else "connected",
        system=connection.system,  # type: ignore[arg-type]
        organisation_id=connection.organisation_id,
        organisation_name=connection.organisation_name,
        connected_at=connection.connected_at,
        last_refreshed_at=connection.last_refreshed_at,
        disconnected_at=connection.disconnected_at,
        disconnect_reason=connection.disconnect_reason or None,
        reconnect_url=reconnect_url,
    )


@router.get("", response={200: list[CompanyOut], **AUTH_ERRORS}, summary="List companies")
@api_requires(Perm.VIEW_COMPANIES)
def list_companies(request: HttpRequest) -> list[CompanyOut]:
    """The companies you work with (all of the account's for an account admin)."""
    companies = membership(request).companies().order_by("name")
    return [
        CompanyOut(id=c.pk, name=c.name, connection=_connection_out(request, c)) for c in companies
    ]


@router.get(
    "/{company_id}/connection",
    response={200: ConnectionOut, 404: ApiError, **AUTH_ERRORS},
    summary="A company's ledger connection",
)
@api_requires(Perm.VIEW_COMPANIES)
def company_connection(request: HttpRequest, company_id: int) -> ConnectionOut:
    return _connection_out(request, get_company_or_404(request, company_id))


# --- sync settings, mappings and exclusion rules -------------------------------------------


class SettingsOut(Schema):
    # False until the company's settings are first saved (then `locale` is set, for good).
    configured: bool
    locale: str | None
    timezone: str
    currency: str
    psa_credential_id: int | None
    gl_owner_levels: list[int]
    post_as_draft: bool
    mark_as_sent: bool
    detail_level: str
    tax_source: str
    taxable_tax_code: str
    exempt_tax_code: str
    tracking_enabled: bool
    missing_tracking: str
    reference_source: str
    default_account_code: str
    adjustment_item_code: str
    adjustment_account_code: str
    adjustment_tax_code: str
    max_minor_adjustment: Decimal
    product_id_policy: str
    name_clash: str
    post_zero_invoices: bool
    automated_sales_tax: str
    onboarding_date: date | None
    payment_cutoff: date | None
    number_override_until: date | None
    schedule_minutes: int
    poll_minutes: int
    updated_at: datetime


class SettingsIn(Schema):
    """Only the fields sent change. `locale` is required the first time and fixed after."""

    locale: Locale | None = None
    timezone: str | None = None
    currency: str | None = None
    psa_credential_id: int | None = None
    gl_owner_levels: list[int] | None = None
    post_as_draft: bool | None = None
    mark_as_sent: bool | None = None
    detail_level: CompanySettings.DetailLevel | None = None
    tax_source: CompanySettings.TaxSource | None = None
    taxable_tax_code: str | None = None
    exempt_tax_code: str | None = None
    tracking_enabled: bool | None = None
    missing_tracking: CompanySettings.MissingTracking | None = None
    reference_source: CompanySettings.ReferenceSource | None = None
    default_account_code: str | None = None
    adjustment_item_code: str | None = None
    adjustment_account_code: str | None = None
    adjustment_tax_code: str | None = None
    max_minor_adjustment: Decimal | None = None
    product_id_policy: CompanySettings.ProductIdPolicy | None = None
    name_clash: CompanySettings.NameClash | None = None
    post_zero_invoices: bool | None = None
    automated_sales_tax: CompanySettings.AutomatedSalesTax | None = None
    onboarding_date: date | None = None
    payment_cutoff: date | None = None
    number_override_until: date | None = None
    schedule_minutes: int | None = None
    poll_minutes: int | None = None


class MappingIO(Schema):
    kind: MappingKind
    psa_value: str
    ledger_value: str = ""
    dimension: str = ""
    psa_label: str = ""
    ledger_label: str = ""
    # Tracking: the ledger category; billing terms: a Terms XRef such as "30" or "M+1:D20".
    ledger_extra: str = ""


class ExclusionRuleIO(Schema):
    id: int | None = None
    prefix: str
    mark_paid: bool = False


def _settings_out(settings: CompanySettings) -> SettingsOut:
    out = SettingsOut.model_validate(
        {
            **{
                name: getattr(settings, name)
                for name in SettingsOut.model_fields
                if name not in ("configured", "locale", "psa_credential_id")
            },
            "configured": settings.pk is not None,
            "locale": settings.locale or None,
            "psa_credential_id": settings.psa_credential_id,
        }
    )
    return out


def _refused(error: actions.CompanyActionError) -> Status[ApiError]:
    return Status(400, ApiError(detail=str(error)))


@router.get(
    "/{company_id}/settings",
    response={200: SettingsOut, 404: ApiError, **AUTH_ERRORS},
    summary="A company's sync settings",
)
@api_requires(Perm.VIEW_COMPANIES)
def get_settings(request: HttpRequest, company_id: int) -> SettingsOut:
    """The company's settings; before they are first saved, the defaults (`configured` false)."""
    company = get_company_or_404(request, company_id)
    settings = CompanySettings.objects.filter(company=company).first()
    return _settings_out(settings or CompanySettings(company=company, locale=""))


@router.patch(
    "/{company_id}/settings",
    response={200: SettingsOut, 400: ApiError, 404: ApiError, **AUTH_ERRORS},
    summary="Change a company's sync settings",
)
@api_requires(Perm.MANAGE_COMPANIES)
def change_settings(
    request: HttpRequest, company_id: int, body: SettingsIn
) -> SettingsOut | Status[ApiError]:
    company = get_company_or_404(request, company_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "psa_credential_id" in changes:
        credential_id = changes.pop("psa_credential_id")
        changes["psa_credential"] = (
            PsaCredential.objects.filter(pk=credential_id, account=company.account).first()
            if credential_id is not None
            else None
        )
        if credential_id is not None and changes["psa_credential"] is None:
            return Status(400, ApiError(detail="No such PSA credentials in this account."))
    try:
        settings = actions.do_save_settings(request, company, changes)
    except (actions.CompanyActionError, ValidationError) as error:
        return Status(400, ApiError(detail=_say(error)))
    return _settings_out(settings)


def _say(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        )
    return str(error)


@router.get(
    "/{company_id}/mappings",
    response={200: list[MappingIO], 404: ApiError, **AUTH_ERRORS},
    summary="A company's mappings",
)
@api_requires(Perm.VIEW_COMPANIES)
def list_mappings(
    request: HttpRequest, company_id: int, kind: MappingKind | None = None
) -> list[MappingIO]:
    company = get_company_or_404(request, company_id)
    rows = Mapping.objects.filter(company=company).order_by("kind", "dimension", "psa_value")
    if kind is not None:
        rows = rows.filter(kind=kind)
    return [MappingIO.model_validate(row, from_attributes=True) for row in rows]


@router.put(
    "/{company_id}/mappings",
    response={200: list[MappingIO], 400: ApiError, 404: ApiError, **AUTH_ERRORS},
    summary="Create or change mappings",
)
@api_requires(Perm.MANAGE_COMPANIES)
def set_mappings(
    request: HttpRequest, company_id: int, body: list[MappingIO]
) -> list[MappingIO] | Status[ApiError]:
    """Each item creates or replaces the mapping of its PSA value; empty ledger values unmap."""
    company = get_company_or_404(request, company_id)
    try:
        saved = actions.do_set_mappings(
            request, company, [actions.MappingChange(**item.model_dump()) for item in body]
        )
    except actions.CompanyActionError as error:
        return _refused(error)
    return [MappingIO.model_validate(row, from_attributes=True) for row in saved]


@router.get(
    "/{company_id}/exclusion-rules",
    response={200: list[ExclusionRuleIO], 404: ApiError, **AUTH_ERRORS},
    summary="A company's exclusion rules",
)
@api_requires(Perm.VIEW_COMPANIES)
def list_exclusion_rules(request: HttpRequest, company_id: int) -> list[ExclusionRuleIO]:
    company = get_company_or_404(request, company_id)
    return [
        ExclusionRuleIO(id=r.pk, prefix=r.prefix, mark_paid=r.mark_paid)
        for r in company.exclusion_rules.order_by("prefix")
    ]


@router.post(
    "/{company_id}/exclusion-rules",
    response={201: ExclusionRuleIO, 400: ApiError, 404: ApiError, **AUTH_ERRORS},
    summary="Add an exclusion rule",
)
@api_requires(Perm.MANAGE_COMPANIES)
def add_exclusion_rule(
    request: HttpRequest, company_id: int, body: ExclusionRuleIO
) -> Status[ExclusionRuleIO] | Status[ApiError]:
    """Invoices whose number starts with `prefix` are marked in the PSA but never posted."""
    company = get_company_or_404(request, company_id)
    try:
        rule = actions.do_add_exclusion_rule(
            request, company, prefix=body.prefix, mark_paid=body.mark_paid
        )
    except actions.CompanyActionError as error:
        return _refused(error)
    return Status(201, ExclusionRuleIO(id=rule.pk, prefix=rule.prefix, mark_paid=rule.mark_paid))


@router.delete(
    "/{company_id}/exclusion-rules/{rule_id}",
    response={204: None, 404: ApiError, **AUTH_ERRORS},
    summary="Delete an exclusion rule",
)
@api_requires(Perm.MANAGE_COMPANIES)
def delete_exclusion_rule(request: HttpRequest, company_id: int, rule_id: int) -> Status[None]:
    company = get_company_or_404(request, company_id)
    rule = company.exclusion_rules.filter(pk=rule_id).first()
    if rule is None:
        raise HttpError(404, "No such exclusion rule.")
    actions.do_delete_exclusion_rule(request, rule)
    return Status(204, None)
