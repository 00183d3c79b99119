"""An invoice corrected in the PSA after posting updates the same ledger document, on request.

The MSP deletes the PSA's batch, edits the invoice and closes it again (product spec §3.9). The
next sync sees it listed again: unchanged, it is marked again; changed, the record says so and
waits. "Re-post" then updates the ledger's document in place, never a second one, or says what
to do in the ledger first when the ledger will not let it change (a paid invoice).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.companies.models import Company
from ledgerbridge.connectors.base import ConnectorError, ErrorKind, Invoice, InvoiceRef
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent, OutboundWrite
from ledgerbridge.sync import actions
from ledgerbridge.sync.engine import SyncContext
from ledgerbridge.sync.models import SyncRecord, SyncRun
from ledgerbridge.sync.policy import Mappings, SyncPolicy
from tests.accounts.users.conftest import make_api_token
from tests.api.openapi import assert_matches_openapi, openapi_document
from tests.sync.fakes import FakeLedger, FakePsa, make_invoice

MAPPINGS = Mappings(accounts={"4000": "200"}, tax_codes={"GST": "OUTPUT"})
POSTED_ON = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
PAYMENT_FIRST = "Remove the payment in the ledger first, then re-post."


@dataclass
class Books:
    """One company syncing a fake PSA into a fake ledger through the real runs and actions."""

    company: Company
    psa: FakePsa
    ledger: FakeLedger

    def build(self, company: Company, run: SyncRun) -> SyncContext:
        return SyncContext(
            company_id=company.pk,
            run=run,
            source=self.psa,
            ledger=self.ledger,
            policy=SyncPolicy(),
            mappings=MAPPINGS,
            ledger_target="fake-ledger",
            psa_target="fake-psa",
        )

    def sync(self) -> SyncRun:
        run = actions.request_run(self.company, trigger=SyncRun.Trigger.SYNC_ALL, enqueue=False)
        return self.execute(run)

    def execute(self, run: SyncRun) -> SyncRun:
        actions.execute_run(run.pk, build_context=self.build)
        run.refresh_from_db()
        return run

    def record(self, psa_id: str = "1") -> SyncRecord:
        return SyncRecord.objects.get(company=self.company, psa_id=psa_id)

    def correct_in_psa(self, number: int, *, amount: str, tax: str) -> None:
        """What the MSP does: delete the PSA's batch (the mark goes), edit, close again."""
        self.psa.acknowledged.pop(str(number))
        self.psa.invoices[str(number)] = make_invoice(number, amount=amount, tax=tax)


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind AU")


@pytest.fixture
def books(company: Company) -> Iterator[Books]:
    clock.set_now(POSTED_ON)
    with pytest.MonkeyPatch.context() as patch:
        # Runs are executed here, not handed to a worker.
        patch.setattr("django.db.transaction.on_commit", lambda fn: None)
        yield Books(company, FakePsa([make_invoice(1), make_invoice(2)]), FakeLedger())


def posted_then_changed(books: Books) -> SyncRun:
    books.sync()
    clock.advance(timedelta(days=2))
    books.correct_in_psa(1, amount="120.00", tax="12.00")
    return books.sync()


def test_a_changed_invoice_is_flagged_and_neither_marked_nor_posted_again(books: Books) -> None:
    run = posted_then_changed(books)

    record = books.record()
    assert record.state == "changed"
    assert record.error_message == (
        "INV-1 changed in FakePSA after it was posted to FakeLedger on 3 Mar 2026: re-post to "
        "update the FakeLedger invoice. Its total went from 110.00 to 132.00."
    )
    assert "Re-post it to update FakeLedger invoice INV-1 in place" in record.error_hint
    assert "1" not in books.psa.acknowledged  # the PSA keeps listing it until the ledger agrees
    assert books.ledger.post_calls == 1 and len(books.ledger.documents) == 2
    assert books.ledger.documents["INV-1"].total == 110  # untouched until re-posted
    assert run.counts.get("changed") == 1 and run.status == "succeeded"
    assert books.record("2").state == "acknowledged"


def test_re_posting_updates_the_same_ledger_document_and_marks_the_psa(
    books: Books, alice: User
) -> None:
    posted_then_changed(books)
    record = books.record()

    run = actions.repost_record(record, user=alice)
    assert (run.trigger, run.only_psa_ids, run.status) == ("repost", ["1"], "queued")
    record.refresh_from_db()
    assert (record.state, record.version) == ("pending", 2)
    books.execute(run)

    record.refresh_from_db()
    assert (record.state, record.ledger_id, record.version) == ("acknowledged", "doc-1", 2)
    assert record.total == 132 and record.error_message == ""
    assert "Updated in FakeLedger on 5 Mar 2026" in record.manual_note
    assert books.ledger.post_calls == 1  # no second create
    assert books.ledger.updates_written == 1
    assert set(books.ledger.documents) == {"INV-1", "INV-2"}
    assert books.ledger.documents["INV-1"].total == 132
    assert books.ledger.ids["INV-1"] == "doc-1"
    assert books.psa.acknowledged["1"].endswith("-2")  # a batch of its own for version 2
    writes = {w.key: w for w in OutboundWrite.objects.filter(key__contains=":invoice:1:")}
    update = writes[f"{books.company.pk}:invoice:1:v2"]
    assert (update.operation, update.state, update.result_id) == (
        "update invoice",
        "succeeded",
        "doc-1",
    )
    assert writes[f"{books.company.pk}:invoice:1:v1"].operation == "create invoice"
    event = AuditEvent.objects.get(action="sync.record_reposted")
    assert event.actor == alice and event.details["version"] == 2

    books.sync()  # nothing left to do: not listed, not updated again
    assert books.ledger.update_calls == 1


def test_only_a_changed_record_is_re_posted_and_only_once(books: Books, alice: User) -> None:
    books.sync()
    with pytest.raises(actions.RecordActionError, match="only a changed record"):
        actions.repost_record(books.record(), user=alice)
    clock.advance(timedelta(days=1))
    books.correct_in_psa(1, amount="120.00", tax="12.00")
    books.sync()
    stale = books.record()
    actions.repost_record(books.record(), user=alice)
    with pytest.raises(actions.RecordActionError):
        actions.repost_record(stale, user=alice)  # a second click, from the same page
    assert SyncRun.objects.filter(trigger="repost").count() == 1


def test_an_invoice_changed_back_is_simply_marked_again(books: Books) -> None:
    posted_then_changed(books)
    books.psa.invoices["1"] = make_invoice(1)  # the edit undone in the PSA
    books.sync()
    record = books.record()
    assert (record.state, record.error_message) == ("acknowledged", "")
    assert "1" in books.psa.acknowledged
    assert books.ledger.update_calls == 0 and books.ledger.post_calls == 1


def test_a_paid_invoice_gives_the_instruction_and_updates_once_the_payment_is_gone(
    books: Books, alice: User
) -> None:
    posted_then_changed(books)
    books.ledger.paid["INV-1"] = PAYMENT_FIRST
    books.execute(actions.repost_record(books.record(), user=alice))

    record = books.record()
    assert record.state == "failed" and record.error_hint == PAYMENT_FIRST
    assert "INV-1 has a payment applied" in record.error_message
    assert "1" not in books.psa.acknowledged
    assert books.ledger.documents["INV-1"].total == 110

    del books.ledger.paid["INV-1"]  # the admin removed the payment in the ledger
    books.execute(actions.retry_record(record, user=alice))
    record.refresh_from_db()
    assert (record.state, record.ledger_id) == ("acknowledged", "doc-1")
    assert books.ledger.documents["INV-1"].total == 132 and books.ledger.post_calls == 1


def test_a_lost_update_answer_is_read_back_and_never_written_twice(
    books: Books, alice: User
) -> None:
    posted_then_changed(books)
    books.ledger.drop_update_reply = True
    run = books.execute(actions.repost_record(books.record(), user=alice))
    record = books.record()
    assert (record.state, record.error_class) == ("posting", "uncertain")
    assert run.status == "partial"

    books.sync()

    record.refresh_from_db()
    assert (record.state, record.ledger_id) == ("acknowledged", "doc-1")
    assert books.ledger.update_calls == 2 and books.ledger.updates_written == 1
    write = OutboundWrite.objects.get(key=f"{books.company.pk}:invoice:1:v2")
    assert (write.state, write.found_by_lookup) == ("succeeded", True)


def test_a_document_corrected_by_hand_and_marked_posted_is_not_flagged_again(
    books: Books, alice: User
) -> None:
    posted_then_changed(books)
    actions.mark_posted(books.record(), ledger_number="INV-1", user=alice)
    books.sync()
    assert books.record().state == "acknowledged"
    assert books.ledger.update_calls == 0
    # What the PSA holds now is what the ledger holds: a later change is noticed again.
    books.correct_in_psa(1, amount="90.00", tax="9.00")
    books.sync()
    assert books.record().state == "changed"


def test_a_psa_that_cannot_be_read_leaves_the_record_unmarked_and_in_the_ledger(
    books: Books,
) -> None:
    books.sync()
    books.psa.acknowledged.pop("1")

    def unreadable(ref: InvoiceRef) -> Invoice:
        raise ConnectorError(ErrorKind.TRANSIENT, "ConnectWise is down", hint="Try later.")

    books.psa.get_invoice = unreadable  # type: ignore[method-assign]
    run = books.sync()
    record = books.record()
    assert record.state == "acknowledged" and record.error_class == "transient"
    assert "Could not check whether it changed" in record.error_message
    assert "1" not in books.psa.acknowledged and run.counts.get("check_failed") == 1


# -- the API ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return openapi_document()


def test_the_api_re_posts_a_changed_record_and_refuses_others(
    books: Books, alice: User, document: dict[str, Any]
) -> None:
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}")
    books.company.account = alice.account
    books.company.save()
    posted_then_changed(books)
    changed, unchanged = books.record("1"), books.record("2")

    refused = api.post(f"/api/v1/sync/records/{unchanged.pk}/repost")
    assert refused.status_code == 409
    assert_matches_openapi(refused, document)
    assert "only a changed record is re-posted" in refused.json()["detail"]

    accepted = api.post(f"/api/v1/sync/records/{changed.pk}/repost")
    assert accepted.status_code == 202, accepted.content
    assert_matches_openapi(accepted, document)
    assert (accepted.json()["trigger"], accepted.json()["status"]) == ("repost", "queued")
    shown = api.get(f"/api/v1/sync/records/{changed.pk}").json()
    assert (shown["state"], shown["version"]) == ("pending", 2)


def test_a_refused_update_can_be_accepted_as_corrected_by_hand(books: Books, alice: User) -> None:
    posted_then_changed(books)
    books.ledger.paid["INV-1"] = PAYMENT_FIRST
    books.execute(actions.repost_record(books.record(), user=alice))
    assert books.record().state == "failed"

    # The admin corrects the paid invoice in the ledger by hand and says so.
    actions.mark_posted(books.record(), ledger_number="INV-1", user=alice)
    books.sync()

    record = books.record()
    assert (record.state, record.ledger_id) == ("acknowledged", "doc-1")
    assert "1" in books.psa.acknowledged
    assert books.ledger.update_calls == 1 and books.ledger.updates_written == 0
