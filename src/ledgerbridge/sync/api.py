"""The sync API: start runs, follow their progress, read and act on records, statistics.

Members with the Sync permission, limited to the companies they work with; ids of other
companies answer 404. Record actions answer 409 with the reason when the record's state
refuses them (e.g. retrying a record that is already posted).
"""

from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema, Status

from ledgerbridge.accounts.access import get_company_or_404, membership
from ledgerbridge.accounts.roles import Perm
from ledgerbridge.api.auth import api_requires
from ledgerbridge.companies.models import Company
from ledgerbridge.sync import actions, queries
from ledgerbridge.sync.models import RecordType, SyncRecord, SyncRun

router = Router(tags=["sync"])

MAX_PAGE = queries.MAX_PAGE


class ErrorOut(Schema):
    detail: str


class Progress(Schema):
    done: int
    total: int


class RunOut(Schema):
    id: int
    company_id: int
    trigger: str
    status: str
    record_types: list[str]
    progress: dict[str, Progress]
    counts: dict[str, int]
    error: str
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None


class RunIn(Schema):
    record_types: list[RecordType] = [RecordType.INVOICE, RecordType.PAYMENT]
    # PSA ids to sync; empty means every postable record.
    psa_ids: list[str] = []


class RecordOut(Schema):
    id: int
    company_id: int
    record_type: str
    psa_id: str
    number: str
    kind: str
    customer_name: str
    issued_on: date | None
    total: Decimal | None
    currency: str
    state: str
    version: int  # goes up with each re-post of a record changed in the PSA
    ledger_id: str
    ledger_number: str
    ledger_url: str
    error_class: str
    error_message: str
    error_hint: str
    warnings: list[str]
    attempts: int
    paid_amount: Decimal
    posted_at: datetime | None
    updated_at: datetime
    manual_note: str


class RecordPage(Schema):
    records: list[RecordOut]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: int | None


class RecordFilters(Schema):
    state: SyncRecord.State | None = None
    error_class: str | None = None
    record_type: RecordType | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    search: str | None = None  # number, customer name or PSA id
    before: int | None = None  # record id: keyset paging, newest first
    limit: int = 100


class MarkPostedIn(Schema):
    ledger_number: str
    note: str = ""


class ExcludeIn(Schema):
    reason: str = ""


class MonthOut(Schema):
    month: date
    synced: int  # documents that reached the ledger that month (what plans are priced on)
    failed: int
    errors_by_class: dict[str, int]


_AUTH = {401: ErrorOut, 403: ErrorOut}


def _run_out(run: SyncRun) -> RunOut:
    return RunOut(
        id=run.pk,
        company_id=run.company_id,
        trigger=run.trigger,
        status=run.status,
        record_types=list(run.record_types),
        progress={k: Progress(**v) for k, v in (run.progress or {}).items()},
        counts=dict(run.counts or {}),
        error=run.error,
        cancel_requested=run.cancel_requested,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=run.duration_seconds(),
    )


def _record_out(record: SyncRecord) -> RecordOut:
    return RecordOut.model_validate(record, from_attributes=True)


def _company(request: HttpRequest, company_id: int) -> Company:
    return get_company_or_404(request, company_id)


def _run(request: HttpRequest, run_id: int) -> SyncRun:
    run = SyncRun.objects.filter(pk=run_id, company__in=membership(request).companies()).first()
    if run is None:
        raise Http404
    return run


def _record(request: HttpRequest, record_id: int) -> SyncRecord:
    companies = membership(request).companies()
    found = SyncRecord.objects.select_related("company").filter(pk=record_id, company__in=companies)
    record = found.first()
    if record is None:
        raise Http404
    return record


@router.post("/companies/{company_id}/runs", response={202: RunOut, 404: ErrorOut, **_AUTH})
@api_requires(Perm.SYNC)
def start_run(request: HttpRequest, company_id: int, body: RunIn) -> Status[RunOut]:
    """Queue a sync of the chosen record types (all postable records, or just `psa_ids`)."""
    company = _company(request, company_id)
    run = actions.request_run(
        company,
        trigger=SyncRun.Trigger.MANUAL if body.psa_ids else SyncRun.Trigger.SYNC_ALL,
        record_types=body.record_types,
        user=membership(request).real_user,
        only_psa_ids=body.psa_ids,
    )
    return Status(202, _run_out(run))


@router.get("/companies/{company_id}/runs", response={200: list[RunOut], 404: ErrorOut, **_AUTH})
@api_requires(Perm.SYNC)
def list_runs(request: HttpRequest, company_id: int, limit: int = 50) -> list[RunOut]:
    """The company's runs, newest first, with durations and counts."""
    company = _company(request, company_id)
    return [_run_out(run) for run in queries.recent_runs(company, limit)]


@router.get("/runs/{run_id}", response={200: RunOut, 404: ErrorOut, **_AUTH})
@api_requires(Perm.SYNC)
def get_run(request: HttpRequest, run_id: int) -> RunOut:
    """One run: status, progress per record type (done/total) and counts so far."""
    return _run_out(_run(request, run_id))


@router.post("/runs/{run_id}/cancel", response={200: RunOut, 404: ErrorOut, **_AUTH})
@api_requires(Perm.SYNC)
def cancel_run(request: HttpRequest, run_id: int) -> RunOut:
    """Stop the run after the batch in flight; a queued run never starts."""
    run = actions.cancel_run(_run(request, run_id), user=membership(request).real_user)
    run.refresh_from_db()
    return _run_out(run)


def _filtered(company: Company, filters: RecordFilters) -> QuerySet[SyncRecord]:
    return queries.filtered_records(
        company,
        queries.RecordFilter(
            state=filters.state,
            error_class=filters.error_class,
            record_type=filters.record_type,
            issued_from=filters.issued_from,
            issued_to=filters.issued_to,
            search=filters.search,
        ),
    )


@router.get("/companies/{company_id}/records", response={200: RecordPage, 404: ErrorOut, **_AUTH})
@api_requires(Perm.SYNC)
def list_records(
    request: HttpRequest, company_id: int, filters: Query[RecordFilters]
) -> RecordPage:
    """Records newest first, filtered; page with `before` = the previous page's `next_before`."""
    company = _company(request, company_id)
    page = queries.record_page(
        _filtered(company, filters), before=filters.before or None, limit=filters.limit
    )
    return RecordPage(records=[_record_out(r) for r in page.records], next_before=page.older_than)


@router.get("/records/{record_id}", response={200: RecordOut, 404: ErrorOut, **_AUTH})
@api_requires(Perm.SYNC)
def get_record(request: HttpRequest, record_id: int) -> RecordOut:
    return _record_out(_record(request, record_id))


def _acted(record: SyncRecord) -> RecordOut:
    record.refresh_from_db()
    return _record_out(record)


_ACTION = {200: RecordOut, 404: ErrorOut, 409: ErrorOut, **_AUTH}


@router.post(
    "/records/{record_id}/retry", response={202: RunOut, 404: ErrorOut, 409: ErrorOut, **_AUTH}
)
@api_requires(Perm.SYNC)
def retry_record(request: HttpRequest, record_id: int) -> Status[RunOut] | Status[ErrorOut]:
    """Post a failed record again now (after fixing what its hint said)."""
    record = _record(request, record_id)
    try:
        run = actions.retry_record(record, user=membership(request).real_user)
    except actions.RecordActionError as error:
        return Status(409, ErrorOut(detail=str(error)))
    return Status(202, _run_out(run))


@router.post(
    "/records/{record_id}/repost", response={202: RunOut, 404: ErrorOut, 409: ErrorOut, **_AUTH}
)
@api_requires(Perm.SYNC)
def repost_record(request: HttpRequest, record_id: int) -> Status[RunOut] | Status[ErrorOut]:
    """Update the ledger's document of a record that changed in the PSA after it was posted
    (state `changed`): the same document, never a second one. 409 when it has not changed."""
    record = _record(request, record_id)
    try:
        run = actions.repost_record(record, user=membership(request).real_user)
    except actions.RecordActionError as error:
        return Status(409, ErrorOut(detail=str(error)))
    return Status(202, _run_out(run))


@router.post("/records/{record_id}/exclude", response=_ACTION)
@api_requires(Perm.SYNC)
def exclude_record(
    request: HttpRequest, record_id: int, body: ExcludeIn
) -> RecordOut | Status[ErrorOut]:
    """Keep a record out of the ledger (it stays listed, marked excluded)."""
    record = _record(request, record_id)
    try:
        actions.exclude_record(record, user=membership(request).real_user, reason=body.reason)
    except actions.RecordActionError as error:
        return Status(409, ErrorOut(detail=str(error)))
    return _acted(record)


@router.post("/records/{record_id}/include", response=_ACTION)
@api_requires(Perm.SYNC)
def include_record(request: HttpRequest, record_id: int) -> RecordOut | Status[ErrorOut]:
    """Undo an exclusion: the next run posts the record."""
    record = _record(request, record_id)
    try:
        actions.include_record(record, user=membership(request).real_user)
    except actions.RecordActionError as error:
        return Status(409, ErrorOut(detail=str(error)))
    return _acted(record)


@router.post("/records/{record_id}/mark-posted", response=_ACTION)
@api_requires(Perm.SYNC)
def mark_posted(
    request: HttpRequest, record_id: int, body: MarkPostedIn
) -> RecordOut | Status[ErrorOut]:
    """Record that the document was keyed into the ledger by hand; it is never posted."""
    record = _record(request, record_id)
    try:
        actions.mark_posted(
            record,
            ledger_number=body.ledger_number,
            note=body.note,
            user=membership(request).real_user,
        )
    except actions.RecordActionError as error:
        return Status(409, ErrorOut(detail=str(error)))
    return _acted(record)


@router.get(
    "/companies/{company_id}/statistics", response={200: list[MonthOut], 404: ErrorOut, **_AUTH}
)
@api_requires(Perm.SYNC)
def statistics(request: HttpRequest, company_id: int, months: int = 12) -> list[MonthOut]:
    """Per month: documents synced to the ledger, failures, and failures by error class."""
    company = _company(request, company_id)
    figures = queries.monthly_figures(company)[: max(1, months)]
    return [
        MonthOut(
            month=row.month,
            synced=row.synced,
            failed=row.failed,
            errors_by_class=row.errors_by_class,
        )
        for row in figures
    ]
