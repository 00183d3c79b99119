"""Issue 6, acceptance 3: replies lost after the write committed, on a tenth of the writes to
the ledger and to the PSA. A few runs settle everything: no duplicates, nothing lost."""

from collections.abc import Sequence

import pytest

from ledgerbridge.connectors.base import PostableDocument, PostResult
from ledgerbridge.core.models import OutboundWrite
from ledgerbridge.sync.models import SyncRecord
from ledgerbridge_sim.state import Fault
from tests.sync.e2e.books import FINAL_STATES
from tests.sync.e2e.conftest import PAIRS, Harness, HarnessFactory, seeded

# The calls that change something, per system (reads and the side-effect-free GL export pass).
WRITES: dict[str, tuple[tuple[str, str], ...]] = {
    "qbo": (("POST", r"/(batch|customer|item|invoice|creditmemo|payment)$"),),
    "xero": tuple(
        (method, r"/(Invoices|CreditNotes|Contacts|Items|Payments)$") for method in ("PUT", "POST")
    ),
    "connectwise": (("POST", r"accounting/batches$|/payments$"),),
    "autotask": (("PATCH", r"/Invoices$"),),
}
MAX_RUNS = 6


def drop_replies(
    harness: Harness, system: str, probability: float, *, times: int | None = None
) -> list[Fault]:
    """Let `system` commit its writes and lose the reply on `probability` of them."""
    return [
        harness.sim.add_fault(
            Fault(
                system=system,
                method=method,
                path=path,
                drop_after_commit=True,
                probability=probability,
                times=times,
            )
        )
        for method, path in WRITES[system]
    ]


def drop_a_tenth_of_the_writes(harness: Harness) -> list[Fault]:
    return drop_replies(harness, harness.psa, 0.1) + drop_replies(harness, harness.ledger_name, 0.1)


def in_doubt(harness: Harness) -> int:
    records = SyncRecord.objects.filter(company=harness.company).exclude(state__in=FINAL_STATES)
    writes = OutboundWrite.objects.filter(state__in=("sent", "uncertain", "pending"))
    return records.count() + writes.count()


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_lost_replies_on_both_sides_end_with_every_invoice_posted_and_marked_once(
    make_harness: HarnessFactory, psa: str, ledger: str
) -> None:
    harness = seeded(make_harness, psa, ledger)
    before = harness.before()
    faults = drop_a_tenth_of_the_writes(harness)

    runs = 0
    while runs < MAX_RUNS:
        harness.sync_invoices()
        runs += 1
        if not in_doubt(harness) and not (before.postable & _still_postable(harness)):
            break

    assert {f.system for f in faults if f.hits} == {psa, ledger}, "both sides lost replies"
    assert runs < MAX_RUNS, "a few runs leave nothing in doubt"
    assert harness.problems(before) == []
    assert SyncRecord.objects.filter(
        company=harness.company, state=SyncRecord.State.ACKNOWLEDGED
    ).count() == len(before.postable)


def _still_postable(harness: Harness) -> set[str]:
    from tests.sync.e2e.books import postable_ids

    return postable_ids(harness.source)


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_a_crash_after_the_ledger_saved_a_batch_is_resolved_by_lookup(
    make_harness: HarnessFactory, psa: str, ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = seeded(make_harness, psa, ledger, invoices=60)
    before = harness.before()
    post_documents = harness.ledger.post_documents
    batches: list[int] = []

    def killed_after_the_first_batch(documents: Sequence[PostableDocument]) -> list[PostResult]:
        results = post_documents(documents)
        batches.append(len(documents))
        if len(batches) == 1:
            raise KeyboardInterrupt  # the worker dies before it records what the ledger said
        return results

    monkeypatch.setattr(harness.ledger, "post_documents", killed_after_the_first_batch)
    with pytest.raises(KeyboardInterrupt):
        harness.sync_invoices()
    assert OutboundWrite.objects.filter(state="sent").count() == batches[0]
    monkeypatch.undo()

    harness.sync_invoices()

    assert harness.problems(before) == []
    assert OutboundWrite.objects.filter(found_by_lookup=True).count() == batches[0]
