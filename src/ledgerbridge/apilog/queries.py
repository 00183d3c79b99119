"""Keyset paging for the call list: newest first, stable and fast however long the log is.

A page is asked for as "older than call X" (`before`) or "newer than call X" (`after`); ids only
grow, so each page is one index range read, with no OFFSET and no COUNT.
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from ledgerbridge.apilog.models import ApiCallRecord

PAGE_SIZE = 50


@dataclass(frozen=True)
class CallPage:
    rows: list[ApiCallRecord]
    newer_cursor: int | None  # pass as `after` for the newer page; None on the newest page
    older_cursor: int | None  # pass as `before` for the older page; None on the oldest page


def page_of(
    calls: QuerySet[ApiCallRecord],
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> CallPage:
    if after is not None and before is None:
        found = list(calls.filter(pk__gt=after).order_by("pk")[: size + 1])
        more_newer = len(found) > size
        rows = list(reversed(found[:size]))
        if not rows:
            # Nothing newer than the cursor any more: show the newest page instead.
            return page_of(calls, size=size)
        more_older = calls.filter(pk__lt=rows[-1].pk).exists()
    else:
        window = calls if before is None else calls.filter(pk__lt=before)
        found = list(window.order_by("-pk")[: size + 1])
        more_older = len(found) > size
        rows = found[:size]
        more_newer = before is not None and (
            calls.filter(pk__gt=rows[0].pk).exists()
            if rows
            else calls.filter(pk__gte=before).exists()
        )
    return CallPage(
        rows=rows,
        newer_cursor=(rows[0].pk if rows else (before or 1) - 1) if more_newer else None,
        older_cursor=rows[-1].pk if more_older and rows else None,
    )


def cursor(value: str | None) -> int | None:
    """A `before`/`after` parameter as an id; None when absent or not a positive number."""
    if value is None or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None
