"""The Account page (settings, PSA credentials, support grants, beta group), emulation, the staff
side of support access, and the audit log screen."""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from ledgerbridge.accounts import access
from ledgerbridge.accounts.access import Access, get_in_account_or_404, requires
from ledgerbridge.accounts.actions import account as actions
from ledgerbridge.accounts.forms.account import (
    PSA_FORMS,
    AccountSettingsForm,
    AuditLogFilterForm,
    BetaForm,
    StaffBetaForm,
    SupportGrantForm,
)
from ledgerbridge.accounts.models import (
    Account,
    PsaCredential,
    PsaKind,
    SupportGrant,
    User,
    live_support_grant,
)
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.connectors.oauth import transport_override
from ledgerbridge.core import clock
from ledgerbridge.core.features import beta_features
from ledgerbridge.core.models import AuditEvent

AUDIT_PAGE_SIZE = 50
ACCOUNT_PAGE = "accounts:account"


def _account(request: HttpRequest) -> Account:
    account = access.membership(request).account
    if account is None:  # @requires(Perm…) already refused anyone without an account
        raise PermissionDenied
    return account


def _form_errors(form: forms.BaseForm) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


# --- the Account page ------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialRow:
    """What the page may show about a credential set: identifiers, never secrets."""

    credential: PsaCredential
    identity: str
    key_hint: str


def _credential_row(credential: PsaCredential) -> CredentialRow:
    stored = credential.secrets or {}
    if credential.psa == PsaKind.CONNECTWISE:
        identity = f"{stored.get('site', '')} · company {stored.get('company_id', '')}"
        public_key = str(stored.get("public_key", ""))
        # Four characters of a long public key help tell keys apart and reveal nothing useful.
        tail = public_key[-4:] if len(public_key) >= 12 else ""
        key_hint = f"Public key ••••{tail}"
    else:
        identity = str(stored.get("username", ""))
        key_hint = "Secret ••••"
    return CredentialRow(credential, identity, key_hint)


def _account_page(request: HttpRequest, *, status: int = 200, **forms_: Any) -> HttpResponse:
    account = _account(request)
    credentials = (
        PsaCredential.objects.filter(account=account)
        .select_related("primary_set_by", "created_by")
        .order_by("-is_primary", "label")
    )
    grants = SupportGrant.objects.filter(account=account).select_related("granted_by", "revoked_by")
    live = live_support_grant(account)
    context = {
        "account": account,
        "settings_form": forms_.get("settings_form") or AccountSettingsForm(instance=account),
        "credentials": [_credential_row(c) for c in credentials],
        "psa_kinds": PsaKind.choices,
        "support_form": forms_.get("support_form") or SupportGrantForm(),
        "live_grant": live,
        "past_grants": [g for g in grants[:6] if g != live][:5],
        "beta_features": beta_features(),
        "in_support": access.membership(request).is_support,
    }
    return render(request, "accounts/account/account.html", context, status=status)


@requires(Perm.EDIT_ACCOUNT)
def account_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # A fresh copy: validating writes into the instance, and the page header shows the account.
        current = Account.objects.get(pk=_account(request).pk)
        form = AccountSettingsForm(request.POST, instance=current)
        if not form.is_valid():
            return _account_page(request, settings_form=form, status=400)
        done = actions.do_update_account_settings(
            request,
            name=form.cleaned_data["name"],
            two_factor_policy=form.cleaned_data["two_factor_policy"],
        )
        if "account.two_factor_policy_changed" in done:
            if form.cleaned_data["two_factor_policy"] == "required":
                messages.success(
                    request,
                    "Two-factor authentication is now required. Members who have not set it up "
                    "will be asked to before their next page.",
                )
            else:
                messages.warning(
                    request,
                    "Two-factor authentication is now optional. Members who set it up keep it.",
                )
        if "account.renamed" in done:
            messages.success(request, "Account name saved.")
        if not done:
            messages.info(request, "Nothing changed.")
        return redirect(ACCOUNT_PAGE)
    return _account_page(request)


@requires(Perm.JOIN_BETA)
@require_POST
def beta_toggle(request: HttpRequest) -> HttpResponse:
    form = BetaForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether to join or leave the beta group.")
    elif actions.do_set_beta(request, join=form.join):
        if form.join:
            messages.success(request, "Your account joined the beta group.")
        else:
            messages.success(request, "Your account left the beta group.")
    return redirect(ACCOUNT_PAGE)


# --- PSA credentials -------------------------------------------------------------------------


def _credential(request: HttpRequest, credential_id: int) -> PsaCredential:
    return get_in_account_or_404(request, PsaCredential.objects.all(), pk=credential_id)


@requires(Perm.EDIT_ACCOUNT)
def psa_credential_create(request: HttpRequest) -> HttpResponse:
    psa = request.GET.get("psa", "")
    form_class = PSA_FORMS.get(psa)
    if form_class is None:
        return render(request, "accounts/account/psa_choose.html", {"psa_kinds": PsaKind.choices})
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        secrets, _ = form.merged_secrets()
        credential = actions.do_create_psa_credential(
            request, psa=psa, label=form.cleaned_data["label"], secrets=secrets
        )
        if credential.is_primary:
            messages.success(
                request,
                f"Saved “{credential.label}”. As the account's first credential set it is the "
                "primary API account.",
            )
        else:
            messages.success(request, f"Saved “{credential.label}”.")
        return redirect(ACCOUNT_PAGE)
    context = {"form": form, "psa_label": PsaKind(psa).label, "credential": None}
    status = 400 if form.is_bound else 200
    return render(request, "accounts/account/psa_form.html", context, status=status)


@requires(Perm.EDIT_ACCOUNT)
def psa_credential_edit(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _credential(request, credential_id)
    form = PSA_FORMS[credential.psa](request.POST or None, credential=credential)
    if request.method == "POST" and form.is_valid():
        secrets, changed = form.merged_secrets()
        actions.do_update_psa_credential(
            request,
            credential,
            label=form.cleaned_data["label"],
            secrets=secrets,
            changed_fields=changed,
        )
        messages.success(request, f"Saved “{credential.label}”.")
        return redirect(ACCOUNT_PAGE)
    context = {
        "form": form,
        "psa_label": credential.get_psa_display(),
        "credential": credential,
        "row": _credential_row(credential),
    }
    return render(
        request, "accounts/account/psa_form.html", context, status=400 if form.is_bound else 200
    )


@requires(Perm.EDIT_ACCOUNT)
def psa_credential_delete(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _credential(request, credential_id)
    if request.method == "POST":
        try:
            actions.do_delete_psa_credential(request, credential)
        except actions.AccountActionError as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"Deleted “{credential.label}”.")
        return redirect(ACCOUNT_PAGE)
    return render(
        request,
        "accounts/account/psa_delete.html",
        {"credential": credential, "row": _credential_row(credential)},
    )


@requires(Perm.EDIT_ACCOUNT)
@require_POST
def psa_credential_make_primary(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = _credential(request, credential_id)
    try:
        if actions.do_make_primary_psa_credential(request, credential):
            messages.success(
                request,
                f"“{credential.label}” is now the primary API account; background sync will "
                "use it from its next run.",
            )
        else:
            messages.info(request, f"“{credential.label}” already is the primary API account.")
    except actions.AccountActionError as refused:
        messages.error(request, str(refused))
    return redirect(ACCOUNT_PAGE)


@requires(Perm.EDIT_ACCOUNT)
@require_POST
def psa_credential_test(request: HttpRequest, credential_id: int) -> HttpResponse:
    """Test connectivity: in place under the credential's row (htmx), or back on the page."""
    credential = _credential(request, credential_id)
    # The in-process simulator route tests set for ledgers (oauth.route_through) serves PSAs too.
    report = actions.do_test_psa_credential(request, credential, transport=transport_override())
    if request.headers.get("HX-Request") == "true":
        context = {"credential": credential, "report": report, "details": report.details}
        return render(request, "accounts/account/_psa_test.html", context)
    if report.ok:
        messages.success(request, f"“{credential.label}”: {credential.last_test_summary}")
    else:
        problems = " ".join(f"{f.message} {f.hint}".strip() for f in report.problems)
        messages.error(request, f"“{credential.label}” did not pass: {problems}")
    return redirect(ACCOUNT_PAGE)


# --- emulation -------------------------------------------------------------------------------


def _users_screen() -> str:
    try:
        return reverse("accounts:users")
    except NoReverseMatch:  # the Users screen's area is not installed in this build
        return reverse("web:dashboard")


@requires(Perm.EMULATE_USERS, refuse_while_emulating=True)
@require_POST
def emulation_start(request: HttpRequest, user_id: int) -> HttpResponse:
    target = get_in_account_or_404(request, User.objects.all(), pk=user_id)
    try:
        actions.do_start_emulation(request, target)
    except actions.AccountActionError as refused:
        messages.error(request, str(refused))
        return redirect(_users_screen())
    messages.info(
        request,
        f"You now see LedgerBridge as {target.get_full_name()} does, for up to "
        f"{int(access.EMULATION_LIMIT.total_seconds() // 60)} minutes.",
    )
    return redirect("web:dashboard")


@requires(Access.SIGNED_IN)
@require_POST
def emulation_stop(request: HttpRequest) -> HttpResponse:
    target = actions.do_stop_emulation(request)
    if target is None:
        return redirect("web:dashboard")
    messages.info(request, f"You stopped emulating {target.get_full_name()}.")
    return redirect(_users_screen())


# --- support access: the account-admin's side -------------------------------------------------


@requires(Perm.GRANT_SUPPORT_ACCESS)
@require_POST
def support_grant_create(request: HttpRequest) -> HttpResponse:
    form = SupportGrantForm(request.POST)
    if not form.is_valid():
        return _account_page(request, support_form=form, status=400)
    try:
        grant = actions.do_grant_support_access(
            request, duration=form.delta, reason=form.cleaned_data["reason"]
        )
    except actions.AccountActionError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            f"Support can enter this account until {grant.expires_at:%d %b %Y %H:%M} UTC. "
            "You can revoke it at any time.",
        )
    return redirect(ACCOUNT_PAGE)


@requires(Perm.GRANT_SUPPORT_ACCESS)
@require_POST
def support_grant_revoke(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = get_in_account_or_404(request, SupportGrant.objects.all(), pk=grant_id)
    try:
        actions.do_revoke_support_grant(request, grant)
    except actions.AccountActionError as refused:
        messages.info(request, str(refused))
    else:
        messages.success(request, "Support access revoked. Support staff are out from now on.")
    return redirect(ACCOUNT_PAGE)


# --- support access: instance staff's side ----------------------------------------------------


@requires(Access.STAFF)
def support_accounts(request: HttpRequest) -> HttpResponse:
    live = (
        SupportGrant.objects.filter(revoked_at__isnull=True, expires_at__gt=clock.now())
        .select_related("account", "granted_by")
        .order_by("account__name", "-expires_at")
    )
    # One row per account: its latest-ending live grant.
    grants: dict[int, SupportGrant] = {}
    for grant in live:
        grants.setdefault(grant.account_id, grant)
    context = {"grants": list(grants.values()), "beta_form": StaffBetaForm()}
    return render(request, "accounts/support/accounts.html", context)


@requires(Access.STAFF)
@require_POST
def support_enter(request: HttpRequest, account_id: int) -> HttpResponse:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise PermissionDenied  # same answer as "no grant": no probing for account numbers
    grant = actions.do_enter_support(request, account)
    messages.info(
        request,
        f"You are in {account.name} as support until {grant.expires_at:%d %b %Y %H:%M} UTC.",
    )
    return redirect("web:dashboard")


@requires(Access.SIGNED_IN)
@require_POST
def support_leave(request: HttpRequest) -> HttpResponse:
    left = actions.do_leave_support(request)
    if left is not None:
        messages.info(request, f"You left {left.name}.")
    if access.membership(request).mode == "staff":
        return redirect("accounts:support-accounts")
    return redirect("web:dashboard")


def _staff_set_beta(request: HttpRequest, account_id: int, join: bool) -> HttpResponse:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise Http404
    actions.do_set_beta_as_staff(request, account, join=join)
    state = "is in" if join else "is out of"
    messages.success(request, f"Account #{account.pk} {state} the beta group.")
    return redirect("accounts:support-accounts")


@requires(Access.STAFF)
@require_POST
def support_beta(request: HttpRequest, account_id: int) -> HttpResponse:
    form = BetaForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether the account joins or leaves the beta group.")
        return redirect("accounts:support-accounts")
    return _staff_set_beta(request, account_id, form.join)


@requires(Access.STAFF)
@require_POST
def support_beta_by_number(request: HttpRequest) -> HttpResponse:
    """The same switch for an account that granted no access, known to staff by its number."""
    form = StaffBetaForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("accounts:support-accounts")
    return _staff_set_beta(request, form.cleaned_data["account"], form.join)


# --- the audit log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    support: bool
    details: list[tuple[str, str]]


def _audit_row(event: AuditEvent) -> AuditRow:
    details = event.details if isinstance(event.details, dict) else {}
    shown = [
        (key, value if isinstance(value, str) else json.dumps(value))
        for key, value in details.items()
        if key != "support"
    ]
    return AuditRow(event, bool(details.get("support")), shown)


@requires(Perm.VIEW_AUDIT_LOG)
def audit_log(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    form = AuditLogFilterForm(request.GET or None, account=account)
    events = form.events()
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": [_audit_row(event) for event in page.object_list],
        "query": query.urlencode(),
    }
    return render(request, "accounts/audit/log.html", context, status=200)


CSV_HEADER = [
    "time (UTC)",
    "user",
    "acting as",
    "support",
    "action",
    "target type",
    "target id",
    "target",
    "IP address",
    "details",
]
# Spreadsheet programs run cells that start with these as formulas (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events.iterator(chunk_size=500):
        details = dict(event.details) if isinstance(event.details, dict) else {}
        support = bool(details.pop("support", False))
        row = [
            event.created_at.isoformat(),
            event.actor.email if event.actor else "",
            event.acting_as.email if event.acting_as else "",
            "yes" if support else "",
            event.action,
            event.target_type,
            event.target_id,
            event.target_repr,
            event.ip_address or "",
            json.dumps(details, sort_keys=True) if details else "",
        ]
        yield writer.writerow([csv_safe(cell) for cell in row])


@requires(Perm.VIEW_AUDIT_LOG)
def audit_log_csv(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    form = AuditLogFilterForm(request.GET or None, account=account)
    response = StreamingHttpResponse(_csv_lines(form.events()), content_type="text/csv")
    name = f"audit-log-{slugify(account.name) or account.pk}-{clock.now():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # requires() types views as returning HttpResponse; a streaming response is served the same.
    return response  # type: ignore[return-value]


urlpatterns: list[URLPattern] = [
    path("", account_page, name="account"),
    path("beta/", beta_toggle, name="beta-toggle"),
    path("psa-credentials/new/", psa_credential_create, name="psa-credential-create"),
    path(
        "psa-credentials/<int:credential_id>/edit/",
        psa_credential_edit,
        name="psa-credential-edit",
    ),
    path(
        "psa-credentials/<int:credential_id>/delete/",
        psa_credential_delete,
        name="psa-credential-delete",
    ),
    path(
        "psa-credentials/<int:credential_id>/test/",
        psa_credential_test,
        name="psa-credential-test",
    ),
    path(
        "psa-credentials/<int:credential_id>/make-primary/",
        psa_credential_make_primary,
        name="psa-credential-make-primary",
    ),
    path("users/<int:user_id>/emulate/", emulation_start, name="emulation-start"),
    path("emulation/stop/", emulation_stop, name="emulation-stop"),
    path("support-grants/new/", support_grant_create, name="support-grant-create"),
    path(
        "support-grants/<int:grant_id>/revoke/",
        support_grant_revoke,
        name="support-grant-revoke",
    ),
    path("support/", support_accounts, name="support-accounts"),
    path("support/leave/", support_leave, name="support-leave"),
    path("support/beta/", support_beta_by_number, name="support-beta-by-number"),
    path("support/<int:account_id>/enter/", support_enter, name="support-enter"),
    path("support/<int:account_id>/beta/", support_beta, name="support-beta"),
    path("audit/", audit_log, name="audit-log"),
    path("audit/export.csv", audit_log_csv, name="audit-log-csv"),
]
