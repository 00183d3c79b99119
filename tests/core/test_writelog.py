"""The write log keeps every outside write to exactly once, through crashes and lost replies."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.core import writelog
from ledgerbridge.core.models import OutboundWrite
from ledgerbridge.core.writelog import Intent, Written

pytestmark = pytest.mark.django_db


class FakeLedger:
    """Holds invoices by number; can lose the reply to a write it made."""

    def __init__(self) -> None:
        self.invoices: dict[str, str] = {}
        self.sends = 0
        self.lookups = 0
        self.drop_next_reply = False
        self.refuse_next = False

    def send(self, number: str) -> Written:
        self.sends += 1
        if self.refuse_next:
            self.refuse_next = False
            raise ConnectorError(ErrorKind.VALIDATION, "Invoice # must be unique.")
        self.invoices[number] = f"id-{len(self.invoices) + 1}"
        if self.drop_next_reply:
            self.drop_next_reply = False
            raise ConnectorError(ErrorKind.UNCERTAIN, "connection broke after sending")
        return Written(self.invoices[number], number)

    def lookup(self, number: str) -> Written | None:
        self.lookups += 1
        found = self.invoices.get(number)
        return Written(found, number) if found else None


def intent(number: str = "INV-1", total: str = "100.00") -> Intent:
    return Intent(
        key=f"co1:invoice:{number}:v1",
        target="xero:tenant-1",
        operation="create invoice",
        digest=writelog.digest_of({"number": number, "total": Decimal(total)}),
    )


def post(ledger: FakeLedger, number: str = "INV-1") -> Written:
    return writelog.perform(
        intent(number), send=lambda: ledger.send(number), lookup=lambda: ledger.lookup(number)
    )


def test_a_write_is_sent_once_and_remembered() -> None:
    ledger = FakeLedger()
    first = post(ledger)
    again = post(ledger)
    assert first == again == Written("id-1", "INV-1")
    assert ledger.sends == 1
    assert ledger.lookups == 0  # a succeeded write is answered from the log
    row = OutboundWrite.objects.get()
    assert (row.state, row.attempts, row.result_id) == ("succeeded", 1, "id-1")


def test_a_lost_reply_is_resolved_by_lookup_not_by_sending_again() -> None:
    ledger = FakeLedger()
    ledger.drop_next_reply = True
    with pytest.raises(ConnectorError) as caught:
        post(ledger)
    assert caught.value.kind == ErrorKind.UNCERTAIN
    assert OutboundWrite.objects.get().state == "uncertain"
    assert post(ledger) == Written("id-1", "INV-1")
    assert ledger.sends == 1 and len(ledger.invoices) == 1
    row = OutboundWrite.objects.get()
    assert row.state == "succeeded" and row.found_by_lookup


def test_a_crash_after_marking_sent_is_resolved_by_lookup() -> None:
    ledger = FakeLedger()

    def crash() -> Written:
        ledger.send("INV-1")
        raise KeyboardInterrupt  # the worker is killed before it can record the reply

    with pytest.raises(KeyboardInterrupt):
        writelog.perform(intent(), send=crash, lookup=lambda: ledger.lookup("INV-1"))
    assert OutboundWrite.objects.get().state == "sent"
    assert post(ledger).result_id == "id-1"
    assert ledger.sends == 1


def test_a_write_that_never_landed_is_sent_after_the_lookup_proves_it() -> None:
    ledger = FakeLedger()

    def broken_before_sending() -> Written:
        raise ConnectorError(ErrorKind.UNCERTAIN, "timeout")

    with pytest.raises(ConnectorError):
        writelog.perform(intent(), send=broken_before_sending, lookup=lambda: None)
    assert post(ledger).result_id == "id-1"
    assert ledger.lookups == 1 and ledger.sends == 1
    assert OutboundWrite.objects.get().attempts == 2


def test_a_refusal_is_logged_and_may_be_sent_again_once_fixed() -> None:
    ledger = FakeLedger()
    ledger.refuse_next = True
    with pytest.raises(ConnectorError):
        post(ledger)
    row = OutboundWrite.objects.get()
    assert (row.state, row.error_kind, row.error_message) == (
        "failed",
        "validation",
        "Invoice # must be unique.",
    )
    assert post(ledger).result_id == "id-1"
    assert ledger.lookups == 0  # a refusal wrote nothing, so there is nothing to look for


def test_fixed_content_replaces_a_refused_write_under_the_same_key() -> None:
    ledger = FakeLedger()
    ledger.refuse_next = True
    with pytest.raises(ConnectorError):
        post(ledger)
    # The admin fixes a mapping: same document, same key, new content. Nothing was written,
    # so the new content simply goes.
    fixed = intent(total="100.01")
    writelog.perform(fixed, send=lambda: ledger.send("INV-1"), lookup=lambda: None)
    row = OutboundWrite.objects.get()
    assert (row.state, row.digest) == ("succeeded", fixed.digest)


def test_new_content_for_a_write_in_doubt_waits_for_the_lookup() -> None:
    (row,) = writelog.record([intent(total="100.00")])
    writelog.sending([row])
    writelog.uncertain(row, "timeout")
    (again,) = writelog.record([intent(total="100.01")])
    with pytest.raises(ValueError, match="must not be sent again"):
        writelog.sending([again])  # never send other content over a write that may be there
    writelog.not_found(again)
    assert OutboundWrite.objects.get().digest == intent(total="100.01").digest


def test_rows_in_doubt_cannot_be_marked_for_sending() -> None:
    (row,) = writelog.record([intent()])
    writelog.sending([row])
    with pytest.raises(ValueError, match="must not be sent again"):
        writelog.sending([row])


def test_digest_ignores_key_order_but_not_values() -> None:
    assert writelog.digest_of({"a": 1, "b": [1, 2]}) == writelog.digest_of({"b": [1, 2], "a": 1})
    assert writelog.digest_of({"a": Decimal("1.10")}) != writelog.digest_of({"a": Decimal("1.1")})


# --- batches: one query to look, one to insert, one UPDATE to send, one transaction to settle --


def queries_to_record(intents: list[Intent]) -> int:
    with CaptureQueriesContext(connection) as queries:
        rows = writelog.record(intents)
    assert [row.key for row in rows] == [i.key for i in intents]
    return len(queries)


def test_recording_a_batch_costs_the_same_queries_whatever_its_size() -> None:
    few = queries_to_record([intent(f"INV-{n}") for n in range(5)])
    many = queries_to_record([intent(f"INV-{n}") for n in range(5, 55)])
    assert few == many
    # Recorded already: one look finds them all, and nothing is inserted.
    assert queries_to_record([intent(f"INV-{n}") for n in range(55)]) == 1
    assert OutboundWrite.objects.count() == 55


def test_an_intent_twice_in_one_batch_is_one_row() -> None:
    first, again = writelog.record([intent("INV-1"), intent("INV-1")])
    assert first is again
    assert OutboundWrite.objects.count() == 1


def test_a_row_another_process_recorded_meanwhile_is_the_one_kept() -> None:
    # Their row went in between our look and our insert: the unique key keeps theirs, with its
    # state, and ours becomes it instead of failing the batch.
    (theirs,) = writelog.record([intent("INV-1")])
    writelog.sending([theirs])
    rows = writelog._insert([intent("INV-1", total="100.01"), intent("INV-2")])
    assert (rows["co1:invoice:INV-1:v1"].pk, rows["co1:invoice:INV-1:v1"].state) == (
        theirs.pk,
        "sent",
    )
    assert rows["co1:invoice:INV-1:v1"].digest == intent("INV-1").digest
    assert OutboundWrite.objects.count() == 2


def test_sending_refuses_the_whole_batch_if_another_process_sent_one_meanwhile() -> None:
    mine, raced = writelog.record([intent("INV-1"), intent("INV-2")])
    OutboundWrite.objects.filter(pk=raced.pk).update(state="sent")
    with pytest.raises(ValueError, match="must not be sent again"):
        writelog.sending([mine, raced])
    assert OutboundWrite.objects.get(pk=mine.pk).state == "pending"  # nothing half-done
    assert mine.state == "pending"


def test_a_batch_is_marked_sent_in_one_statement() -> None:
    rows = writelog.record([intent(f"INV-{n}") for n in range(20)])
    with CaptureQueriesContext(connection) as queries:
        writelog.sending(rows)
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    stored = set(OutboundWrite.objects.values_list("state", "attempts"))
    assert stored == {("sent", 1)} == {(row.state, row.attempts) for row in rows}


def test_settling_a_batch_writes_each_row_its_own_outcome() -> None:
    created, found, refused, lost = writelog.record([intent(f"INV-{n}") for n in range(4)])
    writelog.sending([created, found, refused, lost])
    writelog.settle(
        [
            (created, Written("id-1", "INV-0")),
            (found, Written("id-2", "INV-1", found_by_lookup=True)),
            (refused, ConnectorError(ErrorKind.VALIDATION, "Account code '200' is archived.")),
            (lost, ConnectorError(ErrorKind.UNCERTAIN, "The connection broke.")),
        ]
    )
    stored = {
        row.key: (row.state, row.result_id, row.found_by_lookup, row.error_message)
        for row in OutboundWrite.objects.all()
    }
    assert stored == {
        created.key: ("succeeded", "id-1", False, ""),
        found.key: ("succeeded", "id-2", True, ""),
        refused.key: ("failed", "", False, "Account code '200' is archived."),
        lost.key: ("uncertain", "", False, "The connection broke."),
    }
    # The one in doubt is looked up before anything is sent again; the refused one may go.
    ledger = FakeLedger()
    ledger.invoices["INV-3"] = "id-3"
    assert writelog.perform(
        intent("INV-3"), send=lambda: ledger.send("INV-3"), lookup=lambda: ledger.lookup("INV-3")
    ) == Written("id-3", "INV-3")
    assert (ledger.lookups, ledger.sends) == (1, 0)


def test_update_rows_stores_values_as_save_would() -> None:
    (row,) = writelog.record([intent()])
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    row.sent_at, row.found_by_lookup, row.error_message = moment, True, "Ünïcode, 'quotes'"
    row.attempts = 3
    writelog.update_rows([row], ["sent_at", "found_by_lookup", "error_message", "attempts"])
    stored = OutboundWrite.objects.get(pk=row.pk)
    assert (stored.sent_at, stored.found_by_lookup, stored.error_message, stored.attempts) == (
        moment,
        True,
        "Ünïcode, 'quotes'",
        3,
    )
    assert stored.state == "pending"  # fields not named are left as they are
