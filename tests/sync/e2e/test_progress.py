"""A run's progress against the real PSA adapters: the PSA says at once how many invoices it
will list (ConnectWise's `…/unpostedinvoices/count`, Autotask's `Invoices/query/count`), so the
bar has its true length from the start although the list itself arrives a batch at a time."""

from typing import Any

import pytest

from ledgerbridge.sync.engine import InvoiceSync
from tests.sync.e2e.conftest import PSAS, HarnessFactory, seeded


@pytest.mark.django_db
@pytest.mark.parametrize("psa", PSAS)
def test_the_psa_count_gives_the_progress_its_total_from_the_start(
    make_harness: HarnessFactory, psa: str
) -> None:
    harness = seeded(make_harness, psa, "qbo", invoices=60)
    postable = len(harness.before().postable)
    assert postable > harness.ledger.batch_size  # more than one batch, so progress moves
    context = harness.context()
    shown: list[dict[str, Any]] = []
    InvoiceSync(
        context, on_progress=lambda: shown.append(dict(context.run.progress["invoice"]))
    ).run()
    assert shown[0] == {"done": 0, "total": postable}
    assert all(figures["total"] == postable for figures in shown)
    assert [figures["done"] for figures in shown] == sorted({f["done"] for f in shown})
    assert shown[-1] == {"done": postable, "total": postable}
