"""Records left "posted" but not marked in the PSA, by a worker killed between the two.

The PSA no longer lists such an invoice (or lists it only until the mark lands), so a run
that only walks the PSA's list would never finish them. After its own pass over the list,
each full run marks the posted records that pass did not reach;
acknowledging is idempotent in every PSA (ConnectWise finds its batch by identifier, Autotask
sets the same date), so a mark that did land is simply found.
"""

from ledgerbridge.connectors.base import ConnectorError, InvoiceKind, InvoiceRef, SourceIds
from ledgerbridge.core import clock
from ledgerbridge.sync.engine import (
    RUN_STOPPING_KINDS,
    RunStoppedError,
    SyncContext,
    batch_identifier,
)
from ledgerbridge.sync.models import RecordType, SyncRecord

# Long enough that a run in flight has had its chance to mark what it just posted.
LIMIT = 500


def acknowledge_stragglers(context: SyncContext) -> int:
    """Mark in the PSA what the ledger holds but the PSA was never told; returns how many."""
    stragglers = (
        SyncRecord.objects.filter(
            company_id=context.company_id,
            record_type=RecordType.INVOICE,
            state=SyncRecord.State.POSTED,
        )
        # Records this run listed were already marked (or tried) by the engine itself.
        .exclude(last_run=context.run)
        .order_by("pk")[:LIMIT]
    )
    marked = 0
    for record in stragglers:
        ref = InvoiceRef(
            psa_id=record.psa_id,
            number=record.number,
            kind=InvoiceKind(record.kind or InvoiceKind.INVOICE),
            source_ids=SourceIds(**record.source_ids),  # type: ignore[typeddict-item]
        )
        try:
            context.source.acknowledge([ref], batch_identifier(record))
        except ConnectorError as error:
            if error.kind in RUN_STOPPING_KINDS:
                raise RunStoppedError(f"{context.source.label}: {error.message}") from error
            continue  # still posted; the next run tries again
        record.state = SyncRecord.State.ACKNOWLEDGED
        record.acknowledged_at = record.updated_at = clock.now()
        record.error_class = record.error_message = record.error_hint = ""
        record.save(
            update_fields=[
                "state",
                "acknowledged_at",
                "updated_at",
                "error_class",
                "error_message",
                "error_hint",
            ]
        )
        marked += 1
    if marked:
        context.count("acknowledged_late", marked)
    return marked
