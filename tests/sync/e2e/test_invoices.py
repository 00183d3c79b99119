"""Issue 6, acceptance 1 and 5, for every PSA x ledger pair, with the real adapters.

A generated MSP's closed invoices go through `InvoiceSync` into the ledger simulator; the
finance admin's checks (books.check_books) read both simulators' own records: each postable
invoice is one ledger document with the PSA's total to the cent, or a failed record that says
why and what to do; the PSA marks exactly the posted ones; a second run changes nothing.
"""

from decimal import Decimal

import pytest

from ledgerbridge.connectors.base import InvoiceKind, ProductIdPolicy
from ledgerbridge.sync.models import SyncRecord
from tests.sync.e2e import books
from tests.sync.e2e.conftest import PAIRS, PSAS, HarnessFactory, generate_psa, seeded

SEVEN_PLACES = Decimal("0.0000001")


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_every_postable_invoice_lands_once_with_the_psa_total(
    make_harness: HarnessFactory, psa: str, ledger: str
) -> None:
    harness = seeded(make_harness, psa, ledger)
    before = harness.before()
    assert len(before.postable) >= 60

    counts = harness.sync_invoices()

    assert harness.problems(before) == []
    records = SyncRecord.objects.filter(company=harness.company)
    assert counts.get("posted") == records.filter(state=SyncRecord.State.ACKNOWLEDGED).count()
    assert counts.get("posted", 0) == len(before.postable)  # nothing failed in these books
    # What the pipeline leaves the PSA: no postable invoice left behind.
    assert books.postable_ids(harness.source) == set()


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_credit_notes_rounding_and_multi_rate_tax_keep_the_totals(
    make_harness: HarnessFactory, psa: str, ledger: str
) -> None:
    harness = seeded(make_harness, psa, ledger)
    before = harness.before()
    harness.sync_invoices()
    assert harness.problems(before) == []
    documents = {(d.kind, d.number): d for d in harness.documents()}
    expected = [books.psa_invoice(harness.sim, psa, psa_id) for psa_id in before.postable]

    credits = [e for e in expected if e.kind == InvoiceKind.CREDIT_NOTE]
    assert credits, "the generated books hold credit memos / negative invoices"
    for credit in credits:
        assert documents[(InvoiceKind.CREDIT_NOTE, credit.number)].total == credit.total
        assert (InvoiceKind.INVOICE, credit.number) not in documents

    # Seven-decimal quantities: the ledger keeps four, so an adjustment line makes up the cents,
    # never more than the company's maximum, and the ledger's total is still the PSA's.
    limit = harness.policy.max_minor_adjustment
    adjusted = []
    for invoice in expected:
        if not any(q != q.quantize(Decimal("0.0001")) for q in invoice.quantities):
            continue
        document = documents[(invoice.kind, invoice.number)]
        adjustments = [amount for text, amount in document.lines if text == books.ADJUSTMENT]
        assert len(adjustments) <= 1
        if adjustments:
            adjusted.append(invoice.number)
            assert Decimal(0) < abs(adjustments[0]) <= limit
        assert document.total == invoice.total
    assert adjusted, "some seven-decimal invoices needed a rounding adjustment"
    for number in adjusted:
        record = SyncRecord.objects.get(company=harness.company, number=number)
        assert any("adjustment line" in warning for warning in record.warnings)

    # Multi-rate tax (ConnectWise state + city levels; Autotask state + county/city taxes):
    # the ledger's tax is the PSA's, to the cent.
    taxed = [e for e in expected if e.tax]
    assert len(taxed) > 10
    for invoice in taxed:
        assert documents[(invoice.kind, invoice.number)].tax == invoice.tax, invoice.number


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_running_again_changes_nothing(make_harness: HarnessFactory, psa: str, ledger: str) -> None:
    harness = seeded(make_harness, psa, ledger, invoices=40)
    before = harness.before()
    harness.sync_invoices()
    documents = sorted(harness.documents(), key=lambda d: d.ledger_id)
    marks = books.psa_marks(harness.sim, psa)
    requests = len(harness.sim.requests)

    counts = harness.sync_invoices()

    assert counts == {}  # nothing listed as postable, nothing posted, nothing marked
    assert sorted(harness.documents(), key=lambda d: d.ledger_id) == documents
    assert books.psa_marks(harness.sim, psa) == marks
    ledger_writes = [
        (r.method, r.path)
        for r in harness.sim.requests[requests:]
        if r.system == ledger and r.method != "GET" and not r.path.endswith("/query")
    ]
    assert ledger_writes == []
    assert harness.problems(before) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("psa", "ledger"), PAIRS)
def test_a_missing_mapping_fails_only_its_invoices_and_says_how_to_fix_it(
    make_harness: HarnessFactory, psa: str, ledger: str
) -> None:
    harness = seeded(make_harness, psa, ledger, invoices=60)
    before = harness.before()
    used = {
        line.gl_account
        for psa_id in sorted(before.postable)[:5]
        for line in harness.source.get_invoice(books.ref_for(harness.source, psa_id)).lines
    }
    unmapped = sorted(used)[0]
    full = harness.mappings
    harness.mappings = type(full)(
        accounts={k: v for k, v in full.accounts.items() if k != unmapped},
        tax_codes=full.tax_codes,
        default_account=full.default_account,
    )

    harness.sync_invoices()

    failed = SyncRecord.objects.filter(company=harness.company, state=SyncRecord.State.FAILED)
    assert failed.exists()
    for record in failed:
        assert record.error_class == "mapping"
        assert unmapped in record.error_message
        assert "Mappings → GL accounts" in record.error_hint
    assert harness.problems(before) == []  # the rest posted and were marked; none twice
    assert SyncRecord.objects.filter(
        company=harness.company, state=SyncRecord.State.ACKNOWLEDGED
    ).exists()

    # The admin maps it and syncs again: the failed ones post, once.
    harness.mappings = full
    harness.sync_invoices()
    assert not SyncRecord.objects.filter(
        company=harness.company, state=SyncRecord.State.FAILED
    ).exists()
    assert harness.problems(before) == []


@pytest.mark.django_db
@pytest.mark.parametrize("psa", PSAS)
def test_a_ledger_total_that_differs_from_the_psa_is_held_back_not_marked(
    make_harness: HarnessFactory, psa: str
) -> None:
    # A US QuickBooks company left on its automated sales tax works out its own tax (by the
    # customer's state, with its own rounding), so some totals come out different.
    harness = make_harness(psa, "qbo", override_automated_tax=False)
    generate_psa(harness.sim, psa, invoices=90 if psa == "autotask" else 40, seed=5)
    if psa == "autotask":
        books.unexport_recent_autotask_invoices(harness.sim)
    harness.map()
    before = harness.before()

    harness.sync_invoices()

    records = SyncRecord.objects.filter(company=harness.company)
    held = list(records.filter(state=SyncRecord.State.FAILED))
    assert held, "QuickBooks' own tax differs from the PSA's on some invoices"
    documents = {(d.kind.value, d.ledger_id): d for d in harness.documents()}
    marks = books.psa_marks(harness.sim, psa)
    for record in held:
        document = documents[(record.kind, record.ledger_id)]
        assert document.total != record.total
        assert record.error_class == "validation"
        assert str(document.total) in record.error_message
        assert f"total is {record.total:.2f}" in record.error_message
        assert "Mark posted" in record.error_hint
        assert record.psa_id not in marks  # the PSA is not told it was posted
    assert harness.problems(before) == []

    # Another run posts none of them again and still holds them.
    count = len(documents)
    harness.sync_invoices()
    assert len(harness.documents()) == count
    assert records.filter(state=SyncRecord.State.FAILED).count() == len(held)

    # The admin accepts the ledger's figure for one: the next run marks it in the PSA.
    from ledgerbridge.sync.actions import mark_posted

    accepted = held[0]
    mark_posted(accepted, ledger_number=accepted.ledger_number or accepted.number)
    harness.sync_invoices()
    accepted.refresh_from_db()
    assert accepted.state == SyncRecord.State.ACKNOWLEDGED
    assert accepted.psa_id in books.psa_marks(harness.sim, psa)
    assert len(harness.documents()) == count


@pytest.mark.django_db
def test_long_product_ids_fail_with_a_hint_until_the_admin_lets_them_be_shortened(
    make_harness: HarnessFactory,
) -> None:
    harness = seeded(make_harness, "connectwise", "xero", invoices=60)
    harness.map(product_id_policy=ProductIdPolicy.FAIL)
    before = harness.before()

    harness.sync_invoices()

    failed = list(SyncRecord.objects.filter(company=harness.company, state="failed"))
    assert failed, "the ConnectWise catalog has ids longer than Xero's 30-character codes"
    for record in failed:
        assert record.error_class == "mapping"  # fixed by a mapping or the id policy
        assert "Xero item codes allow 30" in record.error_message
        assert "shorten" in record.error_hint
    assert harness.problems(before) == []

    harness.map(product_id_policy=ProductIdPolicy.TRUNCATE_HASH)
    harness.sync_invoices()
    assert not SyncRecord.objects.filter(company=harness.company, state="failed").exists()
    assert harness.problems(before) == []
    long_ids = [
        row["Code"]
        for row in harness.sim.system("xero").collection("Items").values()
        if row.get("_TenantID") == harness.organisation and len(str(row.get("Code"))) == 30
    ]
    assert long_ids  # shortened to the limit, with a hash to keep them apart
