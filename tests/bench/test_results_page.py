"""The Results-page benchmark runs at a tiny size and times every page and filter it lists."""

import pytest
from bench.results_page import TARGET_MS, VIEW_NAMES, bench_results_page, make_records

from ledgerbridge.accounts.models import Account
from ledgerbridge.companies.models import Company
from ledgerbridge.sync.models import SyncRecord


@pytest.mark.django_db
def test_results_benchmark_times_each_filter_of_a_seeded_company() -> None:
    figures = bench_results_page(0, records=300, runs=1)
    assert figures["records"] == 300
    timed = {key[3:]: value for key, value in figures.items() if key.startswith("ms_")}
    assert set(timed) == set(VIEW_NAMES)
    assert all(value > 0 for value in timed.values())
    assert figures["slowest_ms"] == max(timed.values())
    assert figures["target_ms"] == TARGET_MS


@pytest.mark.django_db
def test_seeded_records_look_like_an_msps_books(account: Account) -> None:
    company = Company.objects.create(account=account, name="Seeded")
    make_records(company, 1000, seed=1)
    records = SyncRecord.objects.filter(company=company)
    assert records.count() == 1000
    failed = records.filter(state="failed")
    # Most are done, a few percent fail, each failure with a class and a hint.
    assert records.filter(state="acknowledged").count() > 800
    assert 20 < failed.count() < 100
    assert not failed.filter(error_class="").exists() and not failed.filter(error_hint="").exists()
    assert records.filter(record_type="payment").count() == 20
