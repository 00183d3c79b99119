"""Company screens: the list, a new company, a company's ledger connection (connect, the vendor's
redirect back, pick a Xero organisation, check, disconnect).

Kept deliberately plain; the full onboarding wizard arrives later and builds on these actions.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ledgerbridge.accounts.access import get_company_or_404, membership, requires
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.companies import actions, signin
from ledgerbridge.companies.forms import ChooseOrganisationForm, CompanyForm
from ledgerbridge.companies.models import Company, LedgerConnection, LedgerSystem
from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.oauth import (
    VENDOR_NAMES,
    LedgerOAuth,
    LedgerOrganisation,
    TokenSet,
    oauth_for,
)


@dataclass(frozen=True)
class CompanyRow:
    company: Company
    connection: LedgerConnection | None


def _detail(company: Company) -> HttpResponse:
    return redirect("companies:detail", company_id=company.pk)


@requires(Perm.VIEW_COMPANIES)
@require_GET
def company_list(request: HttpRequest) -> HttpResponse:
    member = membership(request)
    rows = [CompanyRow(c, c.ledger_connection()) for c in member.companies().order_by("name")]
    context = {"rows": rows, "can_manage": member.can(Perm.MANAGE_COMPANIES)}
    return render(request, "companies/list.html", context)


@requires(Perm.MANAGE_COMPANIES)
@require_http_methods(["GET", "POST"])
def company_create(request: HttpRequest) -> HttpResponse:
    form = CompanyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        company = actions.do_create_company(request, name=form.cleaned_data["name"])
        messages.success(request, f"Created “{company.name}”. Connect it to its ledger next.")
        return _detail(company)
    status = 400 if form.is_bound else 200
    return render(request, "companies/new.html", {"form": form}, status=status)


@requires(Perm.VIEW_COMPANIES)
@require_GET
def company_detail(request: HttpRequest, company_id: int) -> HttpResponse:
    company = get_company_or_404(request, company_id)
    member = membership(request)
    context = {
        "company": company,
        "connection": company.ledger_connection(),
        "can_manage": member.can(Perm.MANAGE_COMPANIES),
        "can_check": member.can(Perm.SYNC),
        "systems": [(system.value, VENDOR_NAMES[system.value]) for system in LedgerSystem],
    }
    return render(request, "companies/detail.html", context)


# --- signing in to a ledger --------------------------------------------------------------------


@requires(Perm.MANAGE_COMPANIES)
@require_POST
def connect_start(request: HttpRequest, company_id: int, system: str) -> HttpResponse:
    company = get_company_or_404(request, company_id)
    current = company.ledger_connection()
    if current is not None and current.is_connected:
        messages.error(request, f"“{company.name}” is already connected. Disconnect it first.")
        return _detail(company)
    redirect_uri = request.build_absolute_uri(reverse(f"companies:oauth-callback-{system}"))
    state = signin.issue_state(
        request.session, company_id=company.pk, system=system, redirect_uri=redirect_uri
    )
    return redirect(oauth_for(system).authorization_url(redirect_uri=redirect_uri, state=state))


def _problem(request: HttpRequest, system: str, message: str) -> HttpResponse:
    context = {"vendor": VENDOR_NAMES[system], "message": message}
    return render(request, "companies/signin_problem.html", context, status=400)


@requires(Perm.MANAGE_COMPANIES)
@require_GET
@never_cache
def oauth_callback(request: HttpRequest, system: str) -> HttpResponse:
    """Where the vendor sends the browser back: `code` and `state` (QuickBooks adds `realmId`),
    or `error` when the admin cancelled or the vendor refused."""
    try:
        started = signin.take_state(request.session, request.GET.get("state", ""), system=system)
    except signin.SignInError as refused:
        return _problem(request, system, str(refused))
    company = get_company_or_404(request, started.company_id)
    vendor = VENDOR_NAMES[system]
    error = request.GET.get("error", "")
    if error == "access_denied":
        messages.info(request, f"You cancelled at {vendor}, so nothing was connected.")
        return _detail(company)
    code = request.GET.get("code", "")
    if error or not code:
        said = request.GET.get("error_description") or error or "no authorisation code"
        messages.error(request, f"{vendor} did not complete the sign-in ({said}). Try again.")
        return _detail(company)
    client = oauth_for(system)
    try:
        tokens = client.exchange_code(code, redirect_uri=started.redirect_uri)
        organisations = _organisations(client, tokens, request.GET.get("realmId", ""))
    except ConnectorError as failed:
        messages.error(request, f"{failed.message} {failed.hint}".strip())
        return _detail(company)
    if not organisations:
        messages.error(
            request,
            f"The {vendor} sign-in did not include any organisation, so nothing was connected. "
            "Try again and tick the organisation this company syncs into.",
        )
        return _detail(company)
    if len(organisations) > 1:
        signin.keep_pending(request.session, company.pk, tokens, organisations)
        return redirect("companies:choose-organisation")
    return _connect(request, company, system, tokens, organisations[0])


def _organisations(
    client: LedgerOAuth, tokens: TokenSet, realm_id: str
) -> list[LedgerOrganisation]:
    if client.app.system == "xero":
        return client.organisations(tokens.access_token)
    if not realm_id:
        return []
    try:
        return [client.identify(tokens.access_token, realm_id)]
    except ConnectorError as failed:
        if failed.kind == ErrorKind.AUTH:
            raise
        # The name is a nicety; the realmId is what every call needs.
        return [LedgerOrganisation(realm_id, "")]


def _connect(
    request: HttpRequest,
    company: Company,
    system: str,
    tokens: TokenSet,
    organisation: LedgerOrganisation,
) -> HttpResponse:
    try:
        connection = actions.do_connect_ledger(
            request, company, system=system, tokens=tokens, organisation=organisation
        )
    except actions.CompanyActionError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Connected “{company.name}” to {connection}.")
    return _detail(company)


@requires(Perm.MANAGE_COMPANIES)
@require_http_methods(["GET", "POST"])
@never_cache
def choose_organisation(request: HttpRequest) -> HttpResponse:
    waiting = signin.pending(request.session)
    if waiting is None:
        return _problem(
            request,
            "xero",
            "There is no Xero sign-in waiting for a choice (it may have expired after ten "
            "minutes). Start again from the company page.",
        )
    company = get_company_or_404(request, waiting.company_id)
    posted = request.POST if request.method == "POST" else None
    form = ChooseOrganisationForm(posted, organisations=waiting.organisations)
    if request.method == "POST" and form.is_valid():
        signin.drop_pending(request.session)
        return _connect(request, company, "xero", waiting.tokens, form.chosen)
    context = {"company": company, "form": form}
    status = 400 if form.is_bound else 200
    return render(request, "companies/choose_organisation.html", context, status=status)


# --- a connection in use -----------------------------------------------------------------------


@requires(Perm.SYNC)
@require_POST
def check(request: HttpRequest, company_id: int) -> HttpResponse:
    company = get_company_or_404(request, company_id)
    result = actions.check_connection(company)
    if result.ok:
        messages.success(request, result.message)
    else:
        messages.error(request, f"{result.message} {result.hint}".strip())
    return _detail(company)


@requires(Perm.MANAGE_COMPANIES)
@require_http_methods(["GET", "POST"])
def disconnect(request: HttpRequest, company_id: int) -> HttpResponse:
    company = get_company_or_404(request, company_id)
    connection = company.ledger_connection()
    if connection is None or not connection.is_connected:
        messages.info(request, f"“{company.name}” is not connected to a ledger.")
        return _detail(company)
    if request.method == "POST":
        try:
            messages.success(request, actions.do_disconnect_ledger(request, connection))
        except actions.CompanyActionError as refused:
            messages.error(request, str(refused))
        return _detail(company)
    return render(
        request, "companies/disconnect.html", {"company": company, "connection": connection}
    )


urlpatterns: list[URLPattern] = [
    path("", company_list, name="list"),
    path("new/", company_create, name="create"),
    path("<int:company_id>/", company_detail, name="detail"),
    path("<int:company_id>/connect/xero/", connect_start, {"system": "xero"}, name="connect-xero"),
    path("<int:company_id>/connect/qbo/", connect_start, {"system": "qbo"}, name="connect-qbo"),
    path("<int:company_id>/check/", check, name="check"),
    path("<int:company_id>/disconnect/", disconnect, name="disconnect"),
    # The redirect URIs registered with each vendor: fixed, so the company travels in `state`.
    path("oauth/xero/callback/", oauth_callback, {"system": "xero"}, name="oauth-callback-xero"),
    path("oauth/qbo/callback/", oauth_callback, {"system": "qbo"}, name="oauth-callback-qbo"),
    path("oauth/xero/choose/", choose_organisation, name="choose-organisation"),
]
