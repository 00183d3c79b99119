"""The sync screens (issue 7, screens 5 to 7): Sync, Results with record actions, run history and
Statistics, for members with the Sync permission and only their companies.

Views stay thin: forms read what the admin sent, `sync.actions` change runs and records,
`sync.queries` reads them. The PSA's list of postable invoices and a run's progress arrive as
small htmx partials, so the pages render at once however slow the PSA is.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from ledgerbridge.accounts.access import get_company_or_404, membership, requires
from ledgerbridge.accounts.forms.account import SyncOptionsForm
from ledgerbridge.accounts.models import PsaCredential
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.companies.models import Company, CompanySettings
from ledgerbridge.connectors.base import ConnectorError, InvoiceRef
from ledgerbridge.connectors.oauth import VENDOR_NAMES
from ledgerbridge.connectors.psa import source_for
from ledgerbridge.core import clock
from ledgerbridge.sync import actions, charts, queries, screens
from ledgerbridge.sync.forms import (
    ERROR_CLASS_WORDS,
    ExcludeForm,
    MarkPostedForm,
    RecordFilterForm,
    StartSyncForm,
    state_words,
)
from ledgerbridge.sync.models import RecordType, SyncedPayment, SyncRecord, SyncRun
from ledgerbridge.sync.policy import ErrorClass

POSTABLE_LIMIT = 200  # invoices listed for picking; Sync All posts every one
PAGE_SIZE = 50
CHART_MONTHS = 12
COMPANY_TABLE_MONTHS = 6
RECENT_FINISHED_RUNS = 3
# The company picker's `screen` choice → the URL name it opens.
SCREENS = {
    "sync": "sync:screen",
    "results": "sync:results",
    "runs": "sync:runs",
    "statistics": "sync:statistics",
}


def _company(request: HttpRequest, company_id: int) -> Company:
    return get_company_or_404(request, company_id)


def _record(request: HttpRequest, record_id: int) -> SyncRecord:
    companies = membership(request).companies()
    found = SyncRecord.objects.select_related("company", "last_run")
    record = found.filter(pk=record_id, company__in=companies).first()
    if record is None:
        raise Http404
    return record


def _run(request: HttpRequest, run_id: int) -> SyncRun:
    companies = membership(request).companies()
    run = SyncRun.objects.filter(pk=run_id, company__in=companies).first()
    if run is None:
        raise Http404
    return run


def _form_errors(form: forms.BaseForm) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _next_url(request: HttpRequest, default: str) -> str:
    """Where to go back to after an action: the page it was taken on, if it is ours."""
    wanted = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if wanted and allowed else default


def _company_context(request: HttpRequest, company: Company, screen: str) -> dict[str, Any]:
    """What every company screen shows around its content: the picker and the screen tabs."""
    return {
        "company": company,
        "companies": membership(request).companies().order_by("name"),
        "screen": screen,
    }


# --- the company picker --------------------------------------------------------------------


@requires(Perm.SYNC)
@require_GET
def sync_home(request: HttpRequest) -> HttpResponse:
    """Pick a company (the picker on every screen sends its choice here)."""
    companies = membership(request).companies().order_by("name")
    chosen = request.GET.get("company", "")
    screen = SCREENS.get(request.GET.get("screen", ""), "sync:screen")
    if chosen.isdigit():
        return redirect(screen, company_id=_company(request, int(chosen)).pk)
    if len(companies) == 1:
        return redirect(screen, company_id=companies[0].pk)
    context = {
        "companies": companies,
        "can_manage": membership(request).can(Perm.MANAGE_COMPANIES),
    }
    return render(request, "sync/home.html", context)


# --- connections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionState:
    """One side of the company's connections as the Sync screen's panel shows it."""

    side: str  # "PSA" or "Ledger"
    name: str
    healthy: bool
    summary: str
    hint: str = ""
    # What fixes it, for members allowed to: a link, or a button when `action_post`.
    action_label: str = ""
    action_url: str = ""
    action_post: bool = False
    # Said instead when the member may not fix it themselves.
    ask: str = ""


def psa_credential(company: Company) -> PsaCredential | None:
    """The credentials the company's syncs read the PSA with (as `sync.context` picks them)."""
    settings = CompanySettings.objects.filter(company=company).first()
    if settings is not None and settings.psa_credential_id is not None:
        return settings.psa_credential
    return PsaCredential.objects.filter(account=company.account, is_primary=True).first()


def _psa_state(
    request: HttpRequest,
    credential: PsaCredential | None,
    *,
    problem: ConnectorError | None = None,
    reached: bool = False,
) -> ConnectionState:
    can_fix = membership(request).can(Perm.EDIT_ACCOUNT)
    ask = "Ask an account admin to update the PSA credentials."
    if credential is None:
        return ConnectionState(
            "PSA",
            "PSA",
            healthy=False,
            summary="No PSA credentials to read invoices from.",
            hint="Add the PSA's API credentials under Account and make them the primary API "
            "account.",
            action_label="Add PSA credentials" if can_fix else "",
            action_url=reverse("accounts:account") if can_fix else "",
            ask="" if can_fix else ask,
        )
    name = f"{credential.get_psa_display()} · {credential.label}"
    edit_url = reverse("accounts:psa-credential-edit", args=[credential.pk]) if can_fix else ""
    if problem is not None:
        return ConnectionState(
            "PSA",
            name,
            healthy=False,
            summary=problem.message,
            hint=problem.hint,
            action_label="Reconnect: update the credentials" if can_fix else "",
            action_url=edit_url,
            ask="" if can_fix else ask,
        )
    if not reached and credential.last_test_ok is False:
        return ConnectionState(
            "PSA",
            name,
            healthy=False,
            summary="The last connectivity test failed."
            + (f" {credential.last_test_summary}" if credential.last_test_summary else ""),
            action_label="Reconnect: update the credentials" if can_fix else "",
            action_url=edit_url,
            ask="" if can_fix else ask,
        )
    summary = "Connected; the invoices below were just read from it." if reached else "Connected."
    return ConnectionState("PSA", name, healthy=True, summary=summary)


def _ledger_state(request: HttpRequest, company: Company) -> ConnectionState:
    connection = company.ledger_connection()
    can_fix = membership(request).can(Perm.MANAGE_COMPANIES)
    ask = "Ask an account admin to reconnect it."
    if connection is None:
        return ConnectionState(
            "Ledger",
            "Ledger",
            healthy=False,
            summary=f"“{company.name}” is not connected to a ledger yet.",
            hint="Connect it to Xero or QuickBooks Online from the company page.",
            action_label="Connect a ledger" if can_fix else "",
            action_url=reverse("companies:detail", args=[company.pk]) if can_fix else "",
            ask="" if can_fix else "Ask an account admin to connect it.",
        )
    vendor = VENDOR_NAMES.get(connection.system, connection.system_label)
    name = f"{vendor} · {connection.organisation_name or connection.organisation_id}"
    if connection.is_connected:
        return ConnectionState("Ledger", name, healthy=True, summary="Connected.")
    return ConnectionState(
        "Ledger",
        name,
        healthy=False,
        summary=connection.disconnect_reason or f"The {vendor} connection has ended.",
        hint=f"Nothing is posted to {vendor} until it is reconnected.",
        action_label=f"Reconnect to {vendor}" if can_fix else "",
        action_url=reverse(f"companies:connect-{connection.system}", args=[company.pk])
        if can_fix
        else "",
        action_post=True,
        ask="" if can_fix else ask,
    )


# --- runs and their progress -----------------------------------------------------------------


@dataclass(frozen=True)
class ProgressBar:
    record_type: str
    label: str
    done: int
    total: int
    started: bool

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100 * self.started


@dataclass(frozen=True)
class RunView:
    run: SyncRun
    bars: tuple[ProgressBar, ...]
    status: str
    duration: str
    counts: tuple[tuple[str, int], ...]


RUN_STATUS_WORDS = {
    SyncRun.Status.QUEUED: "Waiting to start",
    SyncRun.Status.RUNNING: "Running",
    SyncRun.Status.SUCCEEDED: "Finished",
    SyncRun.Status.PARTIAL: "Finished; some records need attention",
    SyncRun.Status.FAILED: "Stopped",
    SyncRun.Status.CANCELLED: "Cancelled",
}
COUNT_WORDS = {
    "posted": "posted",
    "acknowledged": "marked in the PSA",
    "failed": "need attention",
    "uncertain": "being checked",
    "excluded": "excluded",
    "skipped": "skipped",
}


def duration_words(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def run_view(run: SyncRun) -> RunView:
    progress = run.progress or {}
    bars = []
    for record_type in run.record_types or []:
        figures = progress.get(record_type) or {}
        label = RecordType(record_type).label if record_type in RecordType.values else record_type
        bars.append(
            ProgressBar(
                record_type,
                label,
                done=int(figures.get("done", 0)),
                total=int(figures.get("total", 0)),
                started=bool(figures) or run.finished,
            )
        )
    counts = tuple(
        (COUNT_WORDS.get(name, name.replace("_", " ")), value)
        for name, value in sorted((run.counts or {}).items())
        if value
    )
    return RunView(
        run=run,
        bars=tuple(bars),
        status=RUN_STATUS_WORDS.get(SyncRun.Status(run.status), run.status),
        duration=duration_words(run.duration_seconds()),
        counts=counts,
    )


def _runs_to_watch(company: Company) -> list[RunView]:
    """Runs in flight, then the latest few finished ones, newest first."""
    active = list(queries.active_runs(company))
    finished = SyncRun.objects.filter(company=company).exclude(pk__in=[r.pk for r in active])
    recent = list(finished.order_by("-created_at", "-pk")[:RECENT_FINISHED_RUNS])
    return [run_view(run) for run in sorted(active, key=lambda r: -r.pk) + recent]


@requires(Perm.SYNC)
@require_GET
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress partial htmx polls while the run is queued or running."""
    return render(request, "sync/_run.html", {"view": run_view(_run(request, run_id))})


@requires(Perm.SYNC)
@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    if run.finished:
        messages.info(request, "That run had already finished.")
    else:
        actions.cancel_run(run, user=membership(request).real_user)
        messages.success(request, "The run stops after the batch it is posting now.")
    return redirect(_next_url(request, reverse("sync:screen", args=[run.company_id])))


# --- the Sync screen -----------------------------------------------------------------------


@dataclass(frozen=True)
class PostableRow:
    ref: InvoiceRef
    record: SyncRecord | None

    @property
    def state(self) -> tuple[str, str]:
        return state_words(self.record.state) if self.record else ("New", "Not synced yet.")


def _tab(request: HttpRequest) -> str:
    wanted = request.GET.get("type", RecordType.INVOICE)
    return wanted if wanted in RecordType.values else RecordType.INVOICE


@requires(Perm.SYNC)
@require_GET
def sync_screen(request: HttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    account = membership(request).account
    assert account is not None  # a member with the Sync permission has one
    credential = psa_credential(company)
    connections = [_psa_state(request, credential), _ledger_state(request, company)]
    tab = _tab(request)
    context = {
        **_company_context(request, company, "sync"),
        "tab": tab,
        "tabs": RecordType.choices,
        "connections": connections,
        "connections_ok": all(state.healthy for state in connections),
        "runs": _runs_to_watch(company),
        "show_sync_all": account.show_sync_all,
        "credential": credential,
        "ledger": company.ledger_connection(),
    }
    if tab == RecordType.PAYMENT:
        context["payments"] = (
            SyncedPayment.objects.filter(company=company)
            .select_related("record")
            .order_by("-applied_at", "-pk")[:20]
        )
    return render(request, "sync/sync.html", context)


@requires(Perm.SYNC)
@require_GET
def postable_invoices(request: HttpRequest, company_id: int) -> HttpResponse:
    """The PSA's invoices ready to post, beside what LedgerBridge knows of each (a partial)."""
    company = _company(request, company_id)
    credential = psa_credential(company)
    problem: ConnectorError | None = None
    refs: list[InvoiceRef] = []
    if credential is not None:
        settings = CompanySettings.objects.filter(company=company).first()
        try:
            source = source_for(
                credential,
                location_ids=[int(level) for level in settings.gl_owner_levels] if settings else (),
                currency=settings.effective_currency if settings else "USD",
            )
            refs = list(islice(source.list_postable_invoices(thru=clock.now()), POSTABLE_LIMIT + 1))
        except ConnectorError as error:
            problem = error
    known = queries.records_by_psa_id(
        company, RecordType.INVOICE, (ref.psa_id for ref in refs[:POSTABLE_LIMIT])
    )
    connections = [
        _psa_state(request, credential, problem=problem, reached=credential is not None),
        _ledger_state(request, company),
    ]
    context = {
        "company": company,
        "rows": [PostableRow(ref, known.get(ref.psa_id)) for ref in refs[:POSTABLE_LIMIT]],
        "more": len(refs) > POSTABLE_LIMIT,
        "limit": POSTABLE_LIMIT,
        "problem": problem,
        "credential": credential,
        "connections": connections,
        "connections_ok": all(state.healthy for state in connections),
        "show_sync_all": membership(request).account.show_sync_all,  # type: ignore[union-attr]
    }
    return render(request, "sync/_postable.html", context)


@requires(Perm.SYNC)
@require_POST
def start_sync(request: HttpRequest, company_id: int) -> HttpResponse:
    """ "Sync selected" or "Sync All": queue a run, then watch it on the Sync screen."""
    company = _company(request, company_id)
    member = membership(request)
    form = StartSyncForm(request.POST)
    tab = request.POST.get("record_type", "")
    back = reverse("sync:screen", args=[company.pk])
    if tab in RecordType.values:
        back += f"?type={tab}"
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(back)
    if form.cleaned_data["everything"]:
        if member.account is None or not member.account.show_sync_all:
            messages.error(
                request, "Sync All is switched off for this account; sync one type at a time."
            )
            return redirect(back)
        run = actions.request_run(
            company,
            trigger=SyncRun.Trigger.SYNC_ALL,
            record_types=[RecordType.INVOICE, RecordType.PAYMENT],
            user=member.real_user,
        )
        messages.success(
            request, f"Sync All started for {company.name}: every invoice ready, then payments."
        )
    else:
        record_type = form.cleaned_data["record_type"]
        psa_ids = form.cleaned_data["psa_ids"] if record_type == RecordType.INVOICE else []
        run = actions.request_run(
            company,
            trigger=SyncRun.Trigger.MANUAL,
            record_types=[record_type],
            user=member.real_user,
            only_psa_ids=psa_ids,
        )
        if psa_ids:
            noun = "invoice" if len(psa_ids) == 1 else "invoices"
            messages.success(request, f"Syncing {len(psa_ids)} {noun}.")
        else:
            messages.success(request, "Syncing payments.")
    return redirect(f"{back}#run-{run.pk}")


# --- Results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixLink:
    label: str
    url: str


@dataclass(frozen=True)
class RecordRow:
    record: SyncRecord
    state_label: str
    state_note: str
    error_label: str
    fix: FixLink | None
    can_retry: bool
    can_exclude: bool
    can_include: bool
    can_mark_posted: bool
    can_repost: bool

    @property
    def kind_label(self) -> str:
        if self.record.kind == "credit_note":
            return "Credit note"
        return "Payment" if self.record.record_type == RecordType.PAYMENT else "Invoice"

    @property
    def title(self) -> str:
        return f"{self.kind_label} {self.record.number or self.record.psa_id}"


def _repost_action() -> Callable[..., SyncRun] | None:
    # Re-posting arrives with another change; the button shows only once the action exists.
    found = getattr(actions, "repost_record", None)
    return found if callable(found) else None


def _first_url(*candidates: tuple[str, list[Any]]) -> str:
    for name, args in candidates:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return ""


# Where a mapping error's hint sends the admin (prepare.py's hints name the screen), by kind.
HINT_KINDS = (
    ("Mappings → GL accounts", "account"),
    ("Mappings → Tax codes", "tax_code"),
    ("Mappings → Products", "item"),
    ("Mappings → Tracking", "tracking"),
    ("Mappings → Billing terms", "term"),
)


def fix_link(record: SyncRecord, *, can_manage: bool = True) -> FixLink | None:
    """Where the admin fixes what a failed record's hint asks for, when that is a screen here
    they may open (`can_manage`: the company settings). The mappings screen then offers the way
    back to the record, to retry it."""
    if record.state != SyncRecord.State.FAILED:
        return None
    if record.error_class != ErrorClass.MAPPING:
        return None
    back = urlencode({"next": reverse("sync:record", args=[record.pk])})
    if "Settings →" in record.error_hint:
        url = _first_url(("companies:settings", [record.company_id])) if can_manage else ""
        return FixLink("Change the settings", url) if url else None
    kind = next((kind for words, kind in HINT_KINDS if words in record.error_hint), "")
    url = _first_url(("companies:mappings", [record.company_id]))
    if url:
        query = f"kind={kind}&{back}" if kind else back
        return FixLink("Fix the mapping", f"{url}?{query}")
    url = _first_url(("companies:detail", [record.company_id]))
    return FixLink("Fix the mapping", url) if url else None


IN_LEDGER = {"posted", "acknowledged", "changed"}


def record_row(record: SyncRecord, *, can_manage: bool = True) -> RecordRow:
    state = record.state
    label, note = state_words(state)
    return RecordRow(
        record=record,
        state_label=label,
        state_note=note,
        error_label=ERROR_CLASS_WORDS.get(record.error_class, record.error_class),
        fix=fix_link(record, can_manage=can_manage),
        can_retry=state == SyncRecord.State.FAILED,
        can_exclude=state not in IN_LEDGER | {"posting", "excluded"},
        can_include=state == SyncRecord.State.EXCLUDED,
        can_mark_posted=state not in {"posted", "acknowledged", "posting"},
        can_repost=_repost_action() is not None and state == "changed",
    )


def _page_url(params: QueryDict, **changes: int | None) -> str:
    query = params.copy()
    for name in ("before", "after"):
        query.pop(name, None)
    for name, value in changes.items():
        if value is not None:
            query[name] = str(value)
    return f"?{query.urlencode()}"


def _int_param(params: QueryDict, name: str) -> int | None:
    value = params.get(name, "")
    return int(value) if value.isdigit() else None


@requires(Perm.SYNC)
@require_GET
def results(request: HttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    form = RecordFilterForm(request.GET)
    record_filter = form.record_filter()
    page = queries.record_page(
        queries.filtered_records(company, record_filter),
        before=_int_param(request.GET, "before"),
        after=_int_param(request.GET, "after"),
        limit=PAGE_SIZE,
    )
    counts = queries.state_counts(company)
    context = {
        **_company_context(request, company, "results"),
        "form": form,
        "filtering": form.is_filtering(),
        "rows": [record_row(record, can_manage=_can_manage(request)) for record in page.records],
        "older_url": _page_url(request.GET, before=page.older_than) if page.older_than else "",
        "newer_url": _page_url(request.GET, after=page.newer_than) if page.newer_than else "",
        "state_counts": [
            (value, state_words(value)[0], counts[value], _state_url(value))
            for value in SyncRecord.State.values
            if counts.get(value)
        ],
        "total": sum(counts.values()),
        "runs": [run_view(run) for run in queries.active_runs(company)],
        "here": request.get_full_path(),
    }
    return render(request, "sync/results.html", context)


def _state_url(state: str) -> str:
    return "?" + urlencode({"state": state})


@requires(Perm.SYNC)
@require_GET
def record_detail(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    return _record_page(request, record)


def settling(record: SyncRecord) -> bool:
    """Whether a queued or running run is about to post the record (after Retry, say)."""
    if record.state not in (SyncRecord.State.PENDING, SyncRecord.State.POSTING):
        return False
    return any(
        record.record_type in (run.record_types or [])
        and (not run.only_psa_ids or record.psa_id in run.only_psa_ids)
        for run in queries.active_runs(record.company)
    )


def _can_manage(request: HttpRequest) -> bool:
    return membership(request).can(Perm.MANAGE_COMPANIES)


def _record_page(
    request: HttpRequest,
    record: SyncRecord,
    *,
    mark_form: MarkPostedForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        **_company_context(request, record.company, "results"),
        "row": record_row(record, can_manage=_can_manage(request)),
        "record": record,
        "mark_form": mark_form or MarkPostedForm(),
        "exclude_form": ExcludeForm(),
        "here": reverse("sync:record", args=[record.pk]),
        "settling": settling(record),
    }
    return render(request, "sync/record.html", context, status=status)


def _acted(
    request: HttpRequest,
    record: SyncRecord,
    act: Callable[[], object],
    success: str,
) -> HttpResponse:
    try:
        act()
    except actions.RecordActionError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, success)
    return redirect(_next_url(request, reverse("sync:results", args=[record.company_id])))


def _label(record: SyncRecord) -> str:
    return record.number or f"PSA record {record.psa_id}"


@requires(Perm.SYNC)
@require_POST
def record_retry(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    user = membership(request).real_user
    return _acted(
        request,
        record,
        lambda: actions.retry_record(record, user=user),
        f"{_label(record)} is queued to post again; its state updates when the run finishes.",
    )


@requires(Perm.SYNC)
@require_POST
def record_exclude(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    form = ExcludeForm(request.POST)
    reason = form.cleaned_data["reason"].strip() if form.is_valid() else ""
    user = membership(request).real_user
    return _acted(
        request,
        record,
        lambda: actions.exclude_record(record, user=user, reason=reason),
        f"{_label(record)} is excluded: it stays out of the ledger until you include it again.",
    )


@requires(Perm.SYNC)
@require_POST
def record_include(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    user = membership(request).real_user
    return _acted(
        request,
        record,
        lambda: actions.include_record(record, user=user),
        f"{_label(record)} is included again; the next sync posts it.",
    )


@requires(Perm.SYNC)
@require_POST
def record_mark_posted(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    form = MarkPostedForm(request.POST)
    if not form.is_valid():
        return _record_page(request, record, mark_form=form, status=400)
    user = membership(request).real_user
    return _acted(
        request,
        record,
        lambda: actions.mark_posted(
            record,
            ledger_number=form.cleaned_data["ledger_number"],
            note=form.cleaned_data["note"],
            user=user,
        ),
        f"{_label(record)} is marked as posted; LedgerBridge will not post it.",
    )


@requires(Perm.SYNC)
@require_POST
def record_repost(request: HttpRequest, record_id: int) -> HttpResponse:
    record = _record(request, record_id)
    repost = _repost_action()
    if repost is None:
        messages.error(request, "Re-posting is not available in this version of LedgerBridge.")
        return redirect(_next_url(request, reverse("sync:results", args=[record.company_id])))
    user = membership(request).real_user
    return _acted(
        request,
        record,
        lambda: repost(record, user=user),
        f"{_label(record)} is queued to update its document in the ledger.",
    )


# --- run history ---------------------------------------------------------------------------


@requires(Perm.SYNC)
@require_GET
def run_history(request: HttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    runs = [run_view(run) for run in queries.recent_runs(company, 50)]
    context = {**_company_context(request, company, "runs"), "runs": runs}
    return render(request, "sync/runs.html", context)


# --- Statistics ----------------------------------------------------------------------------

ERROR_ORDER = [*ERROR_CLASS_WORDS, queries.UNKNOWN_ERROR_CLASS]


def last_months(count: int, today: date) -> list[date]:
    """The first days of the `count` months up to and including today's, oldest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


@dataclass(frozen=True)
class CompanyMonths:
    company: Company
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@requires(Perm.SYNC)
@require_GET
def statistics(request: HttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    months = last_months(CHART_MONTHS, timezone.localdate(clock.now()))
    figures = queries.figures_for_months(company, months)
    synced = [row.synced for row in figures]
    classes = {key for row in figures for key in row.errors_by_class}
    error_series = [
        (
            charts.Series(key, ERROR_CLASS_WORDS.get(key, "Other")),
            [row.errors_by_class.get(key, 0) for row in figures],
        )
        for key in ERROR_ORDER
        if key in classes
    ]
    synced_chart = charts.monthly_bar_chart(
        title=f"Documents synced per month, {company.name}",
        months=months,
        series=[(charts.Series("synced", "Synced"), synced)],
        unit="documents",
    )
    errors_chart = charts.monthly_bar_chart(
        title=f"Records needing attention by problem, {company.name}",
        months=months,
        series=error_series,
        unit="records",
    )
    member_companies = membership(request).companies().order_by("name")
    table_months = months[-COMPANY_TABLE_MONTHS:]
    per_company = queries.synced_per_company_month(member_companies, table_months)
    nothing = [0] * len(table_months)
    company_rows = [
        CompanyMonths(other, tuple(per_company.get(other.pk, nothing)))
        for other in member_companies
    ]
    context = {
        **_company_context(request, company, "statistics"),
        "synced_chart": synced_chart,
        "errors_chart": errors_chart,
        "error_rows": [
            (month, [values[i] for _, values in error_series]) for i, month in enumerate(months)
        ],
        "table_months": table_months,
        "company_rows": company_rows,
    }
    return render(request, "sync/statistics.html", context)


# --- the account's Sync All switch ---------------------------------------------------------


@requires(Perm.EDIT_ACCOUNT)
@require_POST
def sync_all_option(request: HttpRequest) -> HttpResponse:
    """The Account screen's "Show Sync All" checkbox."""
    form = SyncOptionsForm(request.POST)
    shown = bool(form.is_valid() and form.cleaned_data["show_sync_all"])
    if screens.set_sync_all_shown(request, shown=shown):
        if shown:
            messages.success(request, "The Sync screen shows the Sync All button again.")
        else:
            messages.success(
                request, "Sync All is hidden: the Sync screen syncs one record type at a time."
            )
    else:
        messages.info(request, "Nothing changed.")
    return redirect("accounts:account")


urlpatterns: list[URLPattern] = [
    path("", sync_home, name="home"),
    path("options/sync-all/", sync_all_option, name="sync-all-option"),
    path("<int:company_id>/", sync_screen, name="screen"),
    path("<int:company_id>/postable/", postable_invoices, name="postable"),
    path("<int:company_id>/start/", start_sync, name="start"),
    path("<int:company_id>/results/", results, name="results"),
    path("<int:company_id>/runs/", run_history, name="runs"),
    path("<int:company_id>/statistics/", statistics, name="statistics"),
    path("runs/<int:run_id>/progress/", run_progress, name="run-progress"),
    path("runs/<int:run_id>/cancel/", run_cancel, name="run-cancel"),
    path("records/<int:record_id>/", record_detail, name="record"),
    path("records/<int:record_id>/retry/", record_retry, name="record-retry"),
    path("records/<int:record_id>/exclude/", record_exclude, name="record-exclude"),
    path("records/<int:record_id>/include/", record_include, name="record-include"),
    path("records/<int:record_id>/mark-posted/", record_mark_posted, name="record-mark-posted"),
    path("records/<int:record_id>/repost/", record_repost, name="record-repost"),
]
