"""Reading runs and records: the filters, keyset pages and monthly figures that both the sync
API and the sync screens show, written once so the two can never disagree.

Pages are keyed on the record id, newest first: a page is "the next N records older (or newer)
than this id", so it costs the same on page 1 and page 1,000 and never skips or repeats a row
when records arrive meanwhile.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, cast

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from ledgerbridge.companies.models import Company
from ledgerbridge.sync.models import SyncRecord, SyncRun

MAX_PAGE = 500
UNKNOWN_ERROR_CLASS = "unknown"


@dataclass(frozen=True)
class RecordFilter:
    """What the admin narrowed the records to; None or "" means "any"."""

    state: str | None = None
    error_class: str | None = None
    record_type: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    search: str | None = None  # number, customer name or PSA id


def filtered_records(company: Company, filters: RecordFilter) -> QuerySet[SyncRecord]:
    records = SyncRecord.objects.filter(company=company)
    if filters.state:
        records = records.filter(state=filters.state)
    if filters.error_class:
        records = records.filter(error_class=filters.error_class)
    if filters.record_type:
        records = records.filter(record_type=filters.record_type)
    if filters.issued_from:
        records = records.filter(issued_on__gte=filters.issued_from)
    if filters.issued_to:
        records = records.filter(issued_on__lte=filters.issued_to)
    text = (filters.search or "").strip()
    if text:
        records = records.filter(
            Q(number__icontains=text) | Q(customer_name__icontains=text) | Q(psa_id=text)
        )
    return records


@dataclass(frozen=True)
class RecordPage:
    records: list[SyncRecord]
    # Pass as `before` for the next older page / as `after` for the next newer one; None when
    # there is nothing further that way.
    older_than: int | None
    newer_than: int | None


def record_page(
    records: QuerySet[SyncRecord],
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> RecordPage:
    """One page of `records`, newest first: the newest, or those just older than `before`, or
    those just newer than `after` (still shown newest first)."""
    limit = max(1, min(limit, MAX_PAGE))
    if after is not None and before is None:
        # Walking back towards the newest: the `limit` records just above `after`.
        rows = list(records.filter(pk__gt=after).order_by("pk")[: limit + 1])
        more_newer = len(rows) > limit
        page = rows[:limit][::-1]
        has_older = bool(page) and records.filter(pk__lt=page[-1].pk).exists()
        return RecordPage(
            page,
            older_than=page[-1].pk if has_older else None,
            newer_than=page[0].pk if more_newer else None,
        )
    newest_first = records.order_by("-pk")
    if before is not None:
        newest_first = newest_first.filter(pk__lt=before)
    rows = list(newest_first[: limit + 1])
    more_older = len(rows) > limit
    page = rows[:limit]
    has_newer = before is not None and bool(page) and records.filter(pk__gt=page[0].pk).exists()
    return RecordPage(
        page,
        older_than=page[-1].pk if more_older else None,
        newer_than=page[0].pk if has_newer else None,
    )


def records_by_psa_id(
    company: Company, record_type: str, psa_ids: Iterable[str]
) -> dict[str, SyncRecord]:
    """The company's records for these PSA ids: what LedgerBridge knows of each postable one."""
    wanted = list(psa_ids)
    found = SyncRecord.objects.filter(company=company, record_type=record_type, psa_id__in=wanted)
    return {record.psa_id: record for record in found}


def state_counts(company: Company) -> dict[str, int]:
    """How many of the company's records are in each state."""
    rows = (
        SyncRecord.objects.filter(company=company)
        .order_by()
        .values("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return dict(rows)


def active_runs(company: Company) -> QuerySet[SyncRun]:
    """Runs still queued or running, oldest first (the order they will finish in)."""
    return SyncRun.objects.filter(
        company=company, status__in=(SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
    ).order_by("created_at", "pk")


def recent_runs(company: Company, limit: int = 50) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.filter(company=company).select_related("requested_by")
    return runs.order_by("-created_at", "-pk")[: max(1, min(limit, 200))]


# --- monthly figures -------------------------------------------------------------------------


@dataclass
class MonthFigures:
    month: date  # the first day of the month
    synced: int = 0  # documents that reached the ledger that month (what plans are priced on)
    failed: int = 0  # records failing now, by the month they last failed
    errors_by_class: dict[str, int] = field(default_factory=dict)


def _first_day(moment: datetime | date) -> date:
    day = moment.date() if isinstance(moment, datetime) else moment
    return day.replace(day=1)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def monthly_figures(company: Company, *, since: date | None = None) -> list[MonthFigures]:
    """Per month with any activity, newest first: documents synced, failures by error class."""
    records = SyncRecord.objects.filter(company=company)
    synced = records.filter(posted_at__isnull=False)
    failed = records.filter(state=SyncRecord.State.FAILED)
    if since is not None:
        synced = synced.filter(posted_at__gte=_start_of(since))
        failed = failed.filter(updated_at__gte=_start_of(since))
    synced_rows = (
        synced.annotate(month=TruncMonth("posted_at"))
        .order_by()
        .values("month")
        .annotate(n=Count("pk"))
    )
    failed_rows = (
        failed.annotate(month=TruncMonth("updated_at"))
        .order_by()
        .values("month", "error_class")
        .annotate(n=Count("pk"))
    )
    table: dict[date, MonthFigures] = {}

    def month_row(moment: datetime | date) -> MonthFigures:
        day = _first_day(moment)
        return table.setdefault(day, MonthFigures(month=day))

    for row in synced_rows:
        month_row(row["month"]).synced += row["n"]
    for row in failed_rows:
        entry = month_row(row["month"])
        entry.failed += row["n"]
        key = row["error_class"] or UNKNOWN_ERROR_CLASS
        entry.errors_by_class[key] = entry.errors_by_class.get(key, 0) + row["n"]
    return sorted(table.values(), key=lambda m: m.month, reverse=True)


def _month_bounds(months: Sequence[date]) -> list[tuple[datetime, datetime]]:
    """Each month's [start, end) as aware datetimes; `months` are first days, oldest first."""
    bounds = []
    for month in months:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        bounds.append((_start_of(month), _start_of(following)))
    return bounds


def _counts_per_month(field_name: str, bounds: list[tuple[datetime, datetime]]) -> dict[str, Any]:
    """One conditional COUNT per month (`m0`, `m1`, …): a single pass over the rows, using the
    date's index, where grouping by a truncated month would call a function on every row."""
    return {
        f"m{index}": Count(
            "pk", filter=Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
        )
        for index, (start, end) in enumerate(bounds)
    }


def figures_for_months(company: Company, months: Sequence[date]) -> list[MonthFigures]:
    """The same figures as `monthly_figures` for exactly these months (first days, oldest
    first), months without activity included as zeros."""
    if not months:
        return []
    bounds = _month_bounds(months)
    window_start, window_end = bounds[0][0], bounds[-1][1]
    records = SyncRecord.objects.filter(company=company).order_by()
    synced = records.filter(posted_at__gte=window_start, posted_at__lt=window_end).aggregate(
        **_counts_per_month("posted_at", bounds)
    )
    failing = (
        records.filter(
            state=SyncRecord.State.FAILED, updated_at__gte=window_start, updated_at__lt=window_end
        )
        .values("error_class")
        .annotate(**_counts_per_month("updated_at", bounds))
    )
    table = [MonthFigures(month=month, synced=synced[f"m{i}"]) for i, month in enumerate(months)]
    for row in cast(Iterable[dict[str, Any]], failing):
        key = row["error_class"] or UNKNOWN_ERROR_CLASS
        for index, entry in enumerate(table):
            if count := row[f"m{index}"]:
                entry.failed += count
                entry.errors_by_class[key] = entry.errors_by_class.get(key, 0) + count
    return table


def synced_per_company_month(
    companies: QuerySet[Company], months: Sequence[date]
) -> dict[int, list[int]]:
    """Documents synced per company in each of `months` (company id → counts, oldest first);
    companies with none are left out."""
    if not months:
        return {}
    bounds = _month_bounds(months)
    rows = (
        SyncRecord.objects.filter(
            company__in=companies, posted_at__gte=bounds[0][0], posted_at__lt=bounds[-1][1]
        )
        .order_by()
        .values("company_id")
        .annotate(**_counts_per_month("posted_at", bounds))
    )
    return {
        row["company_id"]: [row[f"m{i}"] for i in range(len(months))]
        for row in cast(Iterable[dict[str, Any]], rows)
    }
