"""The outbound write log: record every write before sending it, resolve doubt by lookup.

DESIGN.md's first principle, as code. For every write to a ledger, a PSA or a gateway:

1. `record` a row under a deterministic key (company, record, version) and the request's digest.
   Recording again returns the same row, so a retry or a second worker never makes a second
   intent. New content under the same key (a refused document fixed by a mapping) replaces
   the digest while nothing was written; once something may have been written, the old digest
   stays until a lookup proves the write absent (`not_found`).
2. `sending` moves the rows to `sent` and commits *before* the request leaves. A process that
   dies mid-call leaves them `sent`, which the next attempt treats like `uncertain`.
3. The outcome: `succeeded` (with the vendor's id), `failed` (the vendor refused, nothing was
   written; may be sent again once fixed) or `uncertain` (timeout, 5xx, dropped connection).
4. Before sending a row that is `sent` or `uncertain`, look the record up at the vendor
   (`found` / `not_found`); only a row proved absent goes back to `pending` and may be sent.
   A `succeeded` row is never sent again.

`perform` runs these steps for one write. Batched writes (50 invoices in one Xero call) drive
the same functions row by row. Call them outside any transaction: each step commits on its own,
so the log tells the truth even if the process dies between steps.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import encode_json
from ledgerbridge.core import clock
from ledgerbridge.core.models import OutboundWrite

State = OutboundWrite.State

# States whose write may already have landed: look before sending again.
NEEDS_LOOKUP = frozenset({State.SENT, State.UNCERTAIN})
# States from which sending is safe.
SENDABLE = frozenset({State.PENDING, State.FAILED})


@dataclass(frozen=True)
class Intent:
    key: str
    target: str
    operation: str
    digest: str


@dataclass(frozen=True)
class Written:
    """What the vendor returned for a write (or what a lookup found)."""

    result_id: str
    number: str = ""


def digest_of(content: Any) -> str:
    """A stable SHA-256 of request content (mappings are compared with sorted keys)."""
    return hashlib.sha256(encode_json(_sorted(content))).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def record(intents: Sequence[Intent]) -> list[OutboundWrite]:
    """The log row for each intent, in order, creating those not seen before."""
    rows: list[OutboundWrite] = []
    for intent in intents:
        try:
            with transaction.atomic():
                row, _ = OutboundWrite.objects.get_or_create(
                    key=intent.key,
                    defaults={
                        "target": intent.target,
                        "operation": intent.operation,
                        "digest": intent.digest,
                    },
                )
        except IntegrityError:
            # Another process recorded it between our look and our insert.
            row = OutboundWrite.objects.get(key=intent.key)
        if row.digest != intent.digest:
            if row.state in SENDABLE:
                # Nothing was written under this key: the fixed content is what goes now.
                _update(row, digest=intent.digest)
            else:
                # It may be in place with the old content; `not_found` adopts the new one.
                row.next_digest = intent.digest  # type: ignore[attr-defined]
        rows.append(row)
    return rows


def _update(row: OutboundWrite, **changes: Any) -> None:
    changes["updated_at"] = clock.now()
    for name, value in changes.items():
        setattr(row, name, value)
    OutboundWrite.objects.filter(pk=row.pk).update(**changes)


def sending(rows: Sequence[OutboundWrite]) -> None:
    """Mark rows as on their way, committed before the request leaves."""
    for row in rows:
        if row.state not in SENDABLE:
            raise ValueError(f"{row.key!r} is {row.state}; it must not be sent again as it is")
    now = clock.now()
    with transaction.atomic():
        for row in rows:
            _update(row, state=State.SENT, attempts=row.attempts + 1, sent_at=now)


def succeeded(row: OutboundWrite, written: Written) -> None:
    _update(
        row,
        state=State.SUCCEEDED,
        result_id=written.result_id,
        result_number=written.number,
        error_kind="",
        error_message="",
    )


def failed(row: OutboundWrite, error: ConnectorError) -> None:
    """The vendor refused it (nothing written); an `uncertain` error goes to `uncertain`."""
    if error.kind == ErrorKind.UNCERTAIN:
        uncertain(row, error.message)
        return
    _update(row, state=State.FAILED, error_kind=error.kind.value, error_message=error.message)


def uncertain(row: OutboundWrite, message: str) -> None:
    _update(row, state=State.UNCERTAIN, error_kind=ErrorKind.UNCERTAIN.value, error_message=message)


def found(row: OutboundWrite, written: Written) -> None:
    """A lookup found the write in place: it succeeded after all."""
    _update(
        row,
        state=State.SUCCEEDED,
        result_id=written.result_id,
        result_number=written.number,
        found_by_lookup=True,
        error_kind="",
        error_message="",
    )


def not_found(row: OutboundWrite) -> None:
    """A lookup proved the write never landed: it may be sent again (with the latest content)."""
    _update(row, state=State.PENDING, digest=getattr(row, "next_digest", row.digest))


def perform(
    intent: Intent,
    *,
    send: Callable[[], Written],
    lookup: Callable[[], Written | None],
) -> Written:
    """Do one write exactly once, however often this is called and whoever crashed before.

    Raises the `ConnectorError` of a refused or uncertain send (after logging it); a later call
    with the same intent resolves an uncertain one by `lookup` first.
    """
    (row,) = record([intent])
    if row.state == State.SUCCEEDED:
        return Written(row.result_id, row.result_number)
    if row.state in NEEDS_LOOKUP:
        existing = lookup()
        if existing is not None:
            found(row, existing)
            return existing
        not_found(row)
    sending([row])
    try:
        written = send()
    except ConnectorError as error:
        failed(row, error)
        raise
    except BaseException:
        # Anything else (a bug, a kill) leaves the row `sent`: the next attempt looks first.
        raise
    succeeded(row, written)
    return written
