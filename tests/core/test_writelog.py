"""The write log keeps every outside write to exactly once, through crashes and lost replies."""

from decimal import Decimal

import pytest

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
