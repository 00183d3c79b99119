"""The companies API: each company the caller works with and the state of its ledger sign-in.

Connecting happens in a browser (the ledger's consent page), so a disconnected connection
answers with `reconnect_url`, the company page where an admin reconnects. Tokens never appear.
"""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.urls import reverse
from ninja import Router, Schema

from ledgerbridge.accounts.access import get_company_or_404, membership
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.api.auth import AUTH_ERRORS, ApiError, api_requires
from ledgerbridge.companies.models import Company, LedgerConnection

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
