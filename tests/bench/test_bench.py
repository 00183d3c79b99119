"""The sync benchmarks run at tiny sizes and report figures that agree with what happened."""

from decimal import Decimal

import pytest
from bench.engine_throughput import bench_engine_throughput, run_engine
from bench.rate_bound import LATENCY_SECONDS, QBO, XERO, LimitProfile, bench_rate_bound
from bench.targets import Target, table
from bench.workload import GeneratedPsa
from django.conf import settings


def test_generated_invoices_add_up_and_are_made_again_identically() -> None:
    source = GeneratedPsa(3, customers=2)
    refs = source.list_postable_invoices()
    assert not isinstance(refs, list)  # a generator: the source holds nothing
    invoices = [source.get_invoice(ref) for ref in refs]
    assert [invoice.customer.psa_id for invoice in invoices] == ["C00000", "C00001", "C00000"]
    for invoice in invoices:
        assert sum(line.line_amount for line in invoice.lines) == invoice.subtotal
        assert invoice.total == invoice.subtotal + invoice.tax_total
        assert invoice.tax_total == (invoice.subtotal / 10).quantize(Decimal("0.01"))
    assert source.get_invoice(invoices[1].ref()) == invoices[1]


def test_ceilings_follow_the_documented_limits() -> None:
    # Xero: 60 calls a minute of 50 invoices; 5 at once only binds with very slow calls.
    assert XERO.ceiling(50, 0.3) == pytest.approx(50)
    assert XERO.ceiling(50, 10.0) == pytest.approx(25)
    # QuickBooks batches: 40 batch calls a minute of 30 invoices binds before 500/min or 10/s.
    assert QBO.ceiling(30, 0.3) == pytest.approx(20)
    assert QBO.ceiling(1, 0.3) == pytest.approx(40 / 60)


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="the engine benchmark measures the embedded default, a SQLite file database",
)
@pytest.mark.django_db(transaction=True)
def test_engine_benchmark_runs_each_size_in_its_own_process() -> None:
    figures = bench_engine_throughput(0, throughput_size=40, memory_sizes=(20, 60))
    for size in (20, 40, 60):
        assert figures[f"invoices_per_second_{size}"] > 0
        assert figures[f"peak_rss_mib_{size}"] > 10  # a Python process with Django loaded
    assert figures["invoices_per_second"] == figures["invoices_per_second_40"]
    assert figures["rss_ratio_large_vs_small"] == pytest.approx(
        figures["peak_rss_mib_60"] / figures["peak_rss_mib_20"], abs=0.001
    )


@pytest.mark.django_db
def test_engine_run_posts_and_acknowledges_every_invoice_once() -> None:
    measured = run_engine(120, customers=7)
    assert measured["invoices"] == 120
    assert measured["ledger_calls"] == 3  # 120 invoices in batches of 50


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("profile", "posting_calls"),
    [(XERO, 2), (QBO, 4)],
    ids=["xero", "qbo"],
)
def test_rate_bound_runs_count_the_ledger_calls_they_made(
    profile: LimitProfile, posting_calls: int
) -> None:
    figures = bench_rate_bound(
        profile, invoices=100, single_invoices=5, invoices_per_customer=25, fill_window=False
    )
    batched, single = figures["batched"], figures["single"]
    # The customers and products were made by the warm-up: the timed run only posts documents.
    assert batched["calls"][profile.posting_call] == posting_calls
    assert figures["write_calls_per_invoice"] == pytest.approx(posting_calls / 100)
    assert single["calls"][profile.posting_call] == 5
    assert single["write_calls_per_invoice"] == pytest.approx(1.0)
    assert batched["throttled_429"] == 0
    # Every call took the virtual latency at least, so time moved.
    assert batched["virtual_seconds"] >= batched["ledger_calls"] * LATENCY_SECONDS
    assert figures["batch_speedup"] == pytest.approx(
        batched["invoices_per_second"] / single["invoices_per_second"], rel=0.01
    )


def test_the_table_shows_each_figure_against_its_target() -> None:
    figures = {"invoices_per_second": 420, "ratio": 1.1, "info": 3.5}
    rows = [
        Target("s", "invoices_per_second", "throughput", ">=", 1000).check(figures),
        Target("s", "ratio", "memory ratio", "<=", 1.2).check(figures),
        Target("s", "info", "shown only").check(figures),
    ]
    assert [row["met"] for row in rows] == [False, True, None]
    lines = table(rows).splitlines()
    assert lines[1].split()[-4:] == ["420", ">=", "1000", "NO"]
    assert lines[2].split()[-4:] == ["1.1", "<=", "1.2", "yes"]
    assert lines[3].split()[-2:] == ["3.5", "-"]
