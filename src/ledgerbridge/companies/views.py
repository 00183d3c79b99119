"""Company screens: the list, the set-up wizard (a new company, its ledger connection, its
settings, its mappings), the go-live checklist, and the ledger connection in use (check,
disconnect).

The wizard is the company page's "Set up" steps: connect the ledger first (the vendor's OAuth
redirect and, for Xero, choosing the organisation), then the settings (the locale is fixed from
then on), then the mappings. Every step is also a page to come back to later.

The mappings screen reads the PSA's and the ledger's lists live and keeps them in the Django
cache for a few minutes (`LIST_CACHE_SECONDS`), so moving between kinds stays fast; Refresh
reads them again.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ledgerbridge.accounts.access import Membership, get_company_or_404, membership, requires
from ledgerbridge.accounts.models import PsaCredential
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.companies import actions, signin
from ledgerbridge.companies.checklist import (
    account_checklist,
    company_checklist,
    credential_of,
    mapping_gaps,
)
from ledgerbridge.companies.forms import (
    ChooseOrganisationForm,
    CompanyForm,
    CompanySettingsForm,
    LedgerOptions,
    TrackingValueForm,
)
from ledgerbridge.companies.models import (
    Company,
    CompanySettings,
    LedgerConnection,
    LedgerSystem,
    Mapping,
    MappingKind,
)
from ledgerbridge.companies.suggestions import (
    TRACKING_DIMENSIONS,
    LedgerChoice,
    PsaValue,
    Suggestion,
    read_ledger_choices,
    read_psa_values,
    suggest,
)
from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.ledgers import ledger_for
from ledgerbridge.connectors.oauth import (
    VENDOR_NAMES,
    LedgerOAuth,
    LedgerOrganisation,
    TokenSet,
    oauth_for,
    transport_override,
)
from ledgerbridge.connectors.psa import source_for


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
    connection = company.ledger_connection()
    settings = CompanySettings.objects.filter(company=company).first()
    context = {
        "company": company,
        "connection": connection,
        "settings": settings,
        "can_manage": member.can(Perm.MANAGE_COMPANIES),
        "can_check": member.can(Perm.SYNC),
        "systems": [(system.value, VENDOR_NAMES[system.value]) for system in LedgerSystem],
        "steps": _setup_steps(company, connection, settings),
        "checklist": company_checklist(company),
        "perms": _perms(member),
        "mapping_kinds": MappingKind.choices,
    }
    return render(request, "companies/detail.html", context)


@dataclass(frozen=True)
class SetupStep:
    number: int
    title: str
    done: bool
    url: str
    action: str
    available: bool = True  # False until the steps before it are done
    current: bool = False  # the first step not done yet


def _setup_steps(
    company: Company, connection: LedgerConnection | None, settings: CompanySettings | None
) -> list[SetupStep]:
    """The wizard's three steps, in the order they must happen."""
    connected = connection is not None and connection.is_connected
    mapped = settings is not None and Mapping.objects.filter(company=company).exists()
    done = [connected, settings is not None, mapped and not mapping_gaps(company, settings)]
    current = next((number for number, ok in enumerate(done, start=1) if not ok), 0)
    places = [
        ("Connect the ledger", reverse("companies:detail", args=[company.pk]), "Connect"),
        (
            "Locale, time zone and options",
            reverse("companies:settings", args=[company.pk]),
            "settings",
        ),
        (
            "Map GL accounts, tax codes and more",
            reverse("companies:mappings", args=[company.pk]),
            "mappings",
        ),
    ]
    return [
        SetupStep(
            number,
            title,
            done[number - 1],
            url,
            action,
            # Settings wait for the ledger (its accounts and tax codes are the choices); after
            # that, any step can be revisited.
            available=number == 1 or connected or settings is not None,
            current=number == current,
        )
        for number, (title, url, action) in enumerate(places, start=1)
    ]


def _perms(member: Membership) -> set[str]:
    return {perm.value for perm in Perm if member.can(perm)}


# --- the go-live checklist ------------------------------------------------------------------


@requires(Perm.VIEW_COMPANIES)
@require_GET
def checklist(request: HttpRequest) -> HttpResponse:
    """The account's go-live checklist: its own steps, then each company's. The dashboard loads
    the same list in place (htmx), so it renders without the page around it then."""
    member = membership(request)
    assert member.account is not None  # @requires refused anyone without an account
    companies = member.companies().order_by("name")
    context = {
        "checklist": account_checklist(member.account, companies),
        "perms": _perms(member),
    }
    if request.headers.get("HX-Request") == "true":
        return render(request, "companies/_account_checklist.html", context)
    return render(request, "companies/checklist.html", context)


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


# --- the PSA's and the ledger's lists, cached --------------------------------------------------

LIST_CACHE_SECONDS = 5 * 60


@dataclass(frozen=True)
class ListProblem:
    """Why a list could not be read, for the finance admin, with where to fix it."""

    side: str  # "psa" or "ledger"
    message: str
    hint: str = ""
    reconnect: bool = False  # the ledger connection needs signing in again


def _cached[T](key: str, refresh: bool, read: Callable[[], list[T]]) -> list[T]:
    if not refresh:
        found = cache.get(key)
        if found is not None:
            return list(found)
    values = read()
    cache.set(key, values, LIST_CACHE_SECONDS)
    return values


def _ledger_key(connection: LedgerConnection, kind: str) -> str:
    return f"companies:ledger-list:{connection.pk}:{kind}"


def _psa_key(credential: PsaCredential, kind: str) -> str:
    return f"companies:psa-list:{credential.pk}:{kind}"


def ledger_choices(company: Company, kind: str, *, refresh: bool = False) -> list[LedgerChoice]:
    """The ledger's values of one kind; `ConnectorError` when the ledger cannot be asked."""
    connection = company.ledger_connection()
    ledger = ledger_for(company)  # refuses (with how to reconnect) unless connected
    assert connection is not None
    return _cached(
        _ledger_key(connection, kind),
        refresh,
        lambda: read_ledger_choices(kind, ledger, system=connection.system),
    )


def psa_values(
    company: Company, settings: CompanySettings | None, kind: str, *, refresh: bool = False
) -> list[PsaValue]:
    """The PSA's values of one kind; `ConnectorError` when the PSA cannot be asked."""
    credential = credential_of(company, settings)
    if credential is None:
        raise ConnectorError(
            ErrorKind.AUTH,
            "LedgerBridge has no PSA credentials to read the PSA's values with.",
            hint="Add them under Account → PSA API credentials, then test connectivity.",
        )
    currency = settings.effective_currency if settings else "USD"

    def read() -> list[PsaValue]:
        # Tests route ledgers through the in-process simulator; it serves the PSAs too.
        source = source_for(credential, currency=currency, transport=transport_override())
        return read_psa_values(kind, source)

    return _cached(_psa_key(credential, kind), refresh, read)


def _problem_of(side: str, failed: ConnectorError) -> ListProblem:
    reconnect = side == "ledger" and failed.kind == ErrorKind.AUTH
    if side == "psa" and not failed.hint:
        hint = "Test the credentials under Account → PSA API credentials to see what to fix."
    else:
        hint = failed.hint
    return ListProblem(side, failed.message, hint, reconnect)


def _ledger_options(company: Company) -> tuple[LedgerOptions, ListProblem | None]:
    try:
        lists = {
            kind: [(c.value, c.label) for c in ledger_choices(company, kind)]
            for kind in (MappingKind.ACCOUNT, MappingKind.TAX_CODE, MappingKind.ITEM)
        }
    except ConnectorError as failed:
        return LedgerOptions(), _problem_of("ledger", failed)
    return (
        LedgerOptions(
            accounts=lists[MappingKind.ACCOUNT],
            tax_rates=lists[MappingKind.TAX_CODE],
            items=lists[MappingKind.ITEM],
        ),
        None,
    )


# --- settings (the wizard's second step) ------------------------------------------------------


@requires(Perm.MANAGE_COMPANIES)
@require_http_methods(["GET", "POST"])
def company_settings(request: HttpRequest, company_id: int) -> HttpResponse:
    company = get_company_or_404(request, company_id)
    saved = CompanySettings.objects.filter(company=company).first()
    settings = saved or CompanySettings(company=company, locale="")
    connection = company.ledger_connection()
    connected = connection is not None and connection.is_connected
    context: dict[str, Any] = {"company": company, "connection": connection, "first": saved is None}
    if saved is None and not connected:
        # The wizard's order: the ledger decides which accounts and tax codes there are.
        return render(request, "companies/settings.html", {**context, "ledger_first": True})
    options, problem = _ledger_options(company) if connected else (LedgerOptions(), None)
    credentials = list(PsaCredential.objects.filter(account=company.account).order_by("label"))
    form = CompanySettingsForm(
        request.POST if request.method == "POST" else None,
        settings=settings,
        credentials=credentials,
        ledger=options,
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_save_settings(request, company, form.changes())
        except actions.CompanyActionError as refused:
            form.add_error(None, str(refused))
        except ValidationError as invalid:
            for message in invalid.messages:
                form.add_error(None, message)
        else:
            if saved is None:
                messages.success(
                    request,
                    "Settings saved. Next, map the PSA's GL accounts and tax codes to the "
                    "ledger's; suggestions are filled in for you.",
                )
                return redirect("companies:mappings", company_id=company.pk)
            messages.success(request, "Settings saved.")
            return redirect("companies:settings", company_id=company.pk)
    context |= {
        "form": form,
        "problem": problem,
        "is_qbo": connection is not None and connection.system == LedgerSystem.QBO,
    }
    return render(request, "companies/settings.html", context, status=400 if form.errors else 200)


# --- mappings (the wizard's third step) -------------------------------------------------------


@dataclass(frozen=True)
class MappingRow:
    index: int
    psa: PsaValue
    saved: Mapping | None
    suggestion: Suggestion | None
    listed: bool  # False: saved earlier, but the PSA no longer lists the value

    @property
    def mapped(self) -> bool:
        return self.saved is not None and bool(self.saved.ledger_value or self.saved.ledger_extra)

    @property
    def selected(self) -> str:
        """The choice shown: the saved mapping, else the suggestion."""
        if self.mapped:
            assert self.saved is not None
            if self.saved.kind == MappingKind.TRACKING and self.saved.ledger_value:
                return json.dumps([self.saved.ledger_extra, self.saved.ledger_value])
            return self.saved.ledger_value
        return self.suggestion.key if self.suggestion else ""

    @property
    def xref(self) -> str:
        if self.mapped:
            assert self.saved is not None
            return self.saved.ledger_extra
        return self.suggestion.ledger_extra if self.suggestion else ""


def _kind_of(value: str | None) -> str:
    return value if value in MappingKind.values else MappingKind.ACCOUNT


def mapping_rows(
    company: Company, kind: str, psa: list[PsaValue], choices: list[LedgerChoice]
) -> list[MappingRow]:
    """The PSA's values (and any saved earlier that it no longer lists) with their saved
    mapping and suggestion, unmapped ones first so they are seen."""
    saved = {
        (row.dimension, row.psa_value): row
        for row in Mapping.objects.filter(company=company, kind=kind)
    }
    values = list(psa)
    listed = {(value.dimension, value.value) for value in psa}
    values += [
        PsaValue(value=row.psa_value, label=row.psa_label, code=row.psa_value, dimension=dim)
        for (dim, _), row in saved.items()
        if (dim, row.psa_value) not in listed
    ]
    rows = [
        MappingRow(
            index,
            value,
            saved.get((value.dimension, value.value)),
            suggest(kind, value, choices),
            (value.dimension, value.value) in listed or kind == MappingKind.TRACKING,
        )
        for index, value in enumerate(values)
    ]
    return sorted(rows, key=lambda row: (row.mapped, row.index))


@dataclass(frozen=True)
class MappingScreen:
    kind: str
    rows: list[MappingRow]
    choices: list[LedgerChoice]
    problems: list[ListProblem]


def _screen(company: Company, kind: str, *, refresh: bool = False) -> MappingScreen:
    settings = CompanySettings.objects.filter(company=company).first()
    problems: list[ListProblem] = []
    choices: list[LedgerChoice] = []
    psa: list[PsaValue] = []
    try:
        choices = ledger_choices(company, kind, refresh=refresh)
    except ConnectorError as failed:
        problems.append(_problem_of("ledger", failed))
    if kind != MappingKind.TRACKING:
        try:
            psa = psa_values(company, settings, kind, refresh=refresh)
        except ConnectorError as failed:
            problems.append(_problem_of("psa", failed))
    return MappingScreen(kind, mapping_rows(company, kind, psa, choices), choices, problems)


def _return_to(request: HttpRequest) -> str:
    """The page that sent the admin here to map a value (a failed record), if it is ours."""
    wanted = (request.POST if request.method == "POST" else request.GET).get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if wanted.startswith("/") and allowed else ""


@requires(Perm.VIEW_COMPANIES)
@require_GET
def mappings(request: HttpRequest, company_id: int) -> HttpResponse:
    company = get_company_or_404(request, company_id)
    kind = _kind_of(request.GET.get("kind"))
    return _mappings_page(request, company, _screen(company, kind))


def _mappings_page(
    request: HttpRequest,
    company: Company,
    screen: MappingScreen,
    *,
    tracking_form: TrackingValueForm | None = None,
    status: int = 200,
) -> HttpResponse:
    connection = company.ledger_connection()
    unmapped = sum(1 for row in screen.rows if not row.mapped)
    context = {
        "company": company,
        "connection": connection,
        "kind": screen.kind,
        "kind_label": MappingKind(screen.kind).label,
        "kinds": MappingKind.choices,
        "rows": screen.rows,
        "choices": screen.choices,
        "problems": screen.problems,
        "unmapped": unmapped,
        "suggested": sum(1 for row in screen.rows if not row.mapped and row.suggestion),
        "can_manage": membership(request).can(Perm.MANAGE_COMPANIES),
        "tracking_form": tracking_form or TrackingValueForm(),
        "is_terms": screen.kind == MappingKind.TERM,
        "ledger_label": connection.system_label if connection else "the ledger",
        "dimensions": dict(TRACKING_DIMENSIONS),
        "choice_keys": {choice.key for choice in screen.choices},
        "perms": _perms(membership(request)),
        "return_to": _return_to(request),
    }
    return render(request, "companies/mappings.html", context, status=status)


def _back_to(company: Company, kind: str, request: HttpRequest | None = None) -> HttpResponse:
    query = {"kind": kind}
    if request is not None and (return_to := _return_to(request)):
        query["next"] = return_to
    return redirect(reverse("companies:mappings", args=[company.pk]) + "?" + urlencode(query))


@requires(Perm.MANAGE_COMPANIES)
@require_POST
def mappings_save(request: HttpRequest, company_id: int) -> HttpResponse:
    """Save the choices made on the screen, accept every suggestion, or add a tracking value."""
    company = get_company_or_404(request, company_id)
    kind = request.POST.get("kind", "")
    if kind not in MappingKind.values:
        return HttpResponse("Choose which mappings to save.", status=400)
    action = request.POST.get("action", "save")
    if action == "add":
        return _add_tracking_value(request, company)
    screen = _screen(company, kind)
    if action == "accept":
        changes = [
            _change(
                kind,
                row,
                row.suggestion.ledger_value,
                row.suggestion.ledger_label,
                row.suggestion.ledger_extra,
            )
            for row in screen.rows
            if not row.mapped and row.suggestion is not None
        ]
    else:
        try:
            changes = _posted_changes(request, kind, screen)
        except actions.CompanyActionError as refused:
            messages.error(request, str(refused))
            return _mappings_page(request, company, screen, status=400)
    if not changes:
        messages.info(request, "Nothing to save: no mapping changed.")
        return _back_to(company, kind, request)
    try:
        actions.do_set_mappings(request, company, changes)
    except actions.CompanyActionError as refused:
        messages.error(request, str(refused))
        return _mappings_page(request, company, screen, status=400)
    left = sum(1 for row in _screen(company, kind).rows if not row.mapped)
    done = "Accepted" if action == "accept" else "Saved"
    noun = "suggestion" if action == "accept" else "mapping"
    still = f" {left} still without a ledger value." if left else " Everything here is mapped."
    messages.success(
        request, f"{done} {len(changes)} {noun}{'s' if len(changes) != 1 else ''}." + still
    )
    return _back_to(company, kind, request)


def _change(
    kind: str, row: MappingRow, ledger_value: str, ledger_label: str, ledger_extra: str
) -> actions.MappingChange:
    return actions.MappingChange(
        kind=kind,
        psa_value=row.psa.value,
        dimension=row.psa.dimension,
        psa_label=row.psa.label,
        ledger_value=ledger_value,
        ledger_label=ledger_label,
        ledger_extra=ledger_extra,
    )


def _posted_changes(
    request: HttpRequest, kind: str, screen: MappingScreen
) -> list[actions.MappingChange]:
    """The rows whose choice differs from what is saved. Only values the ledger lists (or the
    one already saved) are accepted, so a stale page cannot post a made-up code."""
    by_key = {choice.key: choice for choice in screen.choices}
    rows = {(row.psa.dimension, row.psa.value): row for row in screen.rows}
    changes = []
    try:
        count = min(int(request.POST.get("rows", "0")), len(screen.rows))
    except ValueError:
        count = 0
    for index in range(count):
        key = (request.POST.get(f"dimension-{index}", ""), request.POST.get(f"psa-{index}", ""))
        row = rows.get(key)
        if row is None:
            continue  # the PSA no longer lists it; the next page load shows the truth
        chosen = request.POST.get(f"ledger-{index}", "")
        xref = request.POST.get(f"xref-{index}", "").strip() if kind == MappingKind.TERM else ""
        saved_value = row.saved.ledger_value if row.saved else ""
        saved_extra = row.saved.ledger_extra if row.saved else ""
        saved_label = row.saved.ledger_label if row.saved else ""
        if not chosen:
            value, label, extra = "", "", xref
        elif chosen in by_key:
            choice = by_key[chosen]
            value, label = choice.value, choice.label
            extra = choice.category if kind == MappingKind.TRACKING else xref
        elif row.mapped and chosen == row.selected:
            # Kept as saved although the ledger no longer lists it (the admin decides).
            value, label = saved_value, saved_label
            extra = saved_extra if kind == MappingKind.TRACKING else xref
        else:
            raise actions.CompanyActionError(
                "A chosen value is no longer in the ledger's list. Press Refresh lists and "
                "choose again."
            )
        if (value, extra) == (saved_value, saved_extra):
            continue
        if not row.saved and not value and not extra:
            continue  # still unmapped: nothing to record
        changes.append(_change(kind, row, value, label, extra))
    return changes


def _add_tracking_value(request: HttpRequest, company: Company) -> HttpResponse:
    form = TrackingValueForm(request.POST)
    if not form.is_valid():
        screen = _screen(company, MappingKind.TRACKING)
        return _mappings_page(request, company, screen, tracking_form=form, status=400)
    dimension, value = form.cleaned_data["dimension"], form.cleaned_data["value"]
    actions.do_set_mappings(
        request,
        company,
        [actions.MappingChange(kind=MappingKind.TRACKING, psa_value=value, dimension=dimension)],
    )
    messages.success(request, f"Added {dict(TRACKING_DIMENSIONS)[dimension].lower()} {value!r}.")
    return _back_to(company, MappingKind.TRACKING, request)


@requires(Perm.MANAGE_COMPANIES)
@require_POST
def mappings_refresh(request: HttpRequest, company_id: int) -> HttpResponse:
    """Read the PSA's and the ledger's lists again (after adding an account in the ledger)."""
    company = get_company_or_404(request, company_id)
    kind = _kind_of(request.POST.get("kind"))
    _screen(company, kind, refresh=True)
    messages.info(request, "Read the lists again from the PSA and the ledger.")
    return _back_to(company, kind, request)


urlpatterns: list[URLPattern] = [
    path("", company_list, name="list"),
    path("new/", company_create, name="create"),
    path("<int:company_id>/", company_detail, name="detail"),
    path("<int:company_id>/settings/", company_settings, name="settings"),
    path("<int:company_id>/mappings/", mappings, name="mappings"),
    path("<int:company_id>/mappings/save/", mappings_save, name="mappings-save"),
    path("<int:company_id>/mappings/refresh/", mappings_refresh, name="mappings-refresh"),
    path("checklist/", checklist, name="checklist"),
    path("<int:company_id>/connect/xero/", connect_start, {"system": "xero"}, name="connect-xero"),
    path("<int:company_id>/connect/qbo/", connect_start, {"system": "qbo"}, name="connect-qbo"),
    path("<int:company_id>/check/", check, name="check"),
    path("<int:company_id>/disconnect/", disconnect, name="disconnect"),
    # The redirect URIs registered with each vendor: fixed, so the company travels in `state`.
    path("oauth/xero/callback/", oauth_callback, {"system": "xero"}, name="oauth-callback-xero"),
    path("oauth/qbo/callback/", oauth_callback, {"system": "qbo"}, name="oauth-callback-qbo"),
    path("oauth/xero/choose/", choose_organisation, name="choose-organisation"),
]
