"""Server time of the Results page and each of its filters with 100,000 records (issue 7,
acceptance 3: under 300 ms each).

One company gets `RECORDS` sync records shaped like a few years of an MSP's invoices (most done,
some failing by error class, a few excluded or waiting, a share of payments) and a second
company gets a tenth as many, so every query has to pick its company's rows out of others.
An account-admin opens the page through Django's test client (the whole request: middleware,
queries, template), each URL once to warm up and then `RUNS` times; the figure is the median
in milliseconds. There is no network, so this is server time.

Run: `./dev bench results_page`. Figures: `ms_<view>` per page and filter, `slowest_ms`, and
`records`.
"""

import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

RECORDS = 100_000
OTHER_COMPANY_RECORDS = RECORDS // 10
RUNS = 7
TARGET_MS = 300.0
BATCH = 5_000
ERROR_CLASSES = ("mapping", "validation", "ledger_rejected", "transient", "uncertain")
CUSTOMERS = [f"Customer {n:03} Pty Ltd" for n in range(400)] + ["Zenith Dental Group"]
FIRST_DAY = date(2023, 6, 1)
DAYS = 3 * 365


def _states(rng: random.Random) -> Iterator[tuple[str, str]]:
    """(state, error class) in the proportions a busy MSP sees."""
    while True:
        roll = rng.random()
        if roll < 0.86:
            yield "acknowledged", ""
        elif roll < 0.90:
            yield "posted", ""
        elif roll < 0.95:
            yield "failed", rng.choice(ERROR_CLASSES)
        elif roll < 0.97:
            yield "excluded", ""
        elif roll < 0.99:
            yield "pending", ""
        else:
            yield "skipped_onboarding", ""


def make_records(company: Any, count: int, *, seed: int, prefix: str = "INV") -> None:
    """`count` records for `company`, oldest first, written in batches."""
    from ledgerbridge.sync.models import SyncRecord

    rng = random.Random(seed)
    states = _states(rng)
    base = datetime(2023, 6, 1, 9, tzinfo=UTC)
    batch: list[SyncRecord] = []
    for n in range(count):
        state, error_class = next(states)
        issued = FIRST_DAY + timedelta(days=n * DAYS // count)
        moment = base + timedelta(days=n * DAYS / count)
        is_payment = n % 50 == 49
        in_ledger = state in ("acknowledged", "posted")
        batch.append(
            SyncRecord(
                company=company,
                record_type="payment" if is_payment else "invoice",
                psa_id=str(100_000 + n),
                number=f"{prefix}-{n:06}",
                kind="invoice" if n % 17 else "credit_note",
                customer_name=rng.choice(CUSTOMERS),
                issued_on=issued,
                total=Decimal(rng.randint(5_000, 900_000)) / 100,
                currency="AUD",
                state=state,
                ledger_number=f"L-{n:06}" if in_ledger else "",
                ledger_url=f"https://ledger.invalid/invoice/{n}" if in_ledger else "",
                error_class=error_class,
                error_message=f"Tax code 'GST-{n % 7}' has no ledger tax rate."
                if error_class
                else "",
                error_hint="Map it under Company → Tax codes." if error_class else "",
                posted_at=moment if in_ledger else None,
                first_seen_at=moment,
                updated_at=moment + timedelta(minutes=5),
            )
        )
        if len(batch) == BATCH:
            SyncRecord.objects.bulk_create(batch)
            batch = []
    if batch:
        SyncRecord.objects.bulk_create(batch)


def _views(company_id: int, middle_id: int) -> dict[str, str]:
    """The page and each filter, as the admin would open them."""
    results = f"/sync/{company_id}/results/"
    return {
        "results": results,
        "older_page": f"{results}?before={middle_id}",
        "newer_page": f"{results}?after={middle_id}",
        "state_failed": f"{results}?state=failed",
        "state_acknowledged": f"{results}?state=acknowledged",
        "problem_mapping": f"{results}?problem=mapping",
        "type_payment": f"{results}?record_type=payment",
        "issued_one_month": f"{results}?issued_from=2025-02-01&issued_to=2025-02-28",
        "search_number": f"{results}?search=INV-054321",
        "search_customer": f"{results}?search=zenith",
        "search_absent": f"{results}?search=no-such-invoice",
        "failed_mapping_in_2025": (
            f"{results}?state=failed&problem=mapping&issued_from=2025-01-01&issued_to=2025-12-31"
        ),
        "failed_older_page": f"{results}?state=failed&before={middle_id}",
        "statistics": f"/sync/{company_id}/statistics/",
        "run_history": f"/sync/{company_id}/runs/",
    }


PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Every page and filter timed, for the target table.
VIEW_NAMES = tuple(_views(0, 0))


def bench_results_page(rounds: int, *, records: int = RECORDS, runs: int = RUNS) -> dict[str, Any]:
    """`rounds` is not used: the size is the one the acceptance names (100,000 records)."""
    from django.test import Client
    from django.test.utils import override_settings

    from ledgerbridge.accounts.models import Account, User
    from ledgerbridge.companies.models import Company
    from ledgerbridge.core import clock
    from ledgerbridge.sync.models import SyncRecord

    clock.set_now(datetime(2026, 6, 1, 9, tzinfo=UTC))
    try:
        account = Account.objects.create(name="Bench MSP", two_factor_policy="optional")
        admin = User.objects.create_user(
            "bench-admin@msp.example", None, account=account, role="account-admin"
        )
        company = Company.objects.create(account=account, name="Bench Company")
        other = Company.objects.create(account=account, name="Other Company")
        started = time.perf_counter()
        make_records(other, max(1, records // 10), seed=2, prefix="OTH")
        make_records(company, records, seed=1)
        seeded = time.perf_counter() - started
        ids = list(
            SyncRecord.objects.filter(company=company).order_by("pk").values_list("pk", flat=True)
        )
        client = Client(SERVER_NAME="localhost")
        client.force_login(admin)
        figures: dict[str, Any] = {"records": len(ids), "seed_seconds": round(seeded, 1)}
        # Static files by name: the bench home has no collected manifest (as in the tests).
        with override_settings(STORAGES=PLAIN_STATIC):
            for name, url in _views(company.pk, ids[len(ids) // 2]).items():
                figures[f"ms_{name}"] = _median_ms(client, url, runs)
        timed = [value for key, value in figures.items() if key.startswith("ms_")]
        figures["slowest_ms"] = max(timed)
        figures["target_ms"] = TARGET_MS
        return figures
    finally:
        clock.set_now(None)


def _median_ms(client: Any, url: str, runs: int) -> float:
    warm = client.get(url)
    if warm.status_code != 200:
        raise RuntimeError(f"{url} answered {warm.status_code}")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)
