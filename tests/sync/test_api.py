"""The sync API: start and follow runs, page and filter records, act on them, statistics."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client

from ledgerbridge.accounts.models import User
from ledgerbridge.companies.models import Company
from ledgerbridge.core import clock
from ledgerbridge.sync.models import SyncRecord, SyncRun
from tests.accounts.users.conftest import make_api_token
from tests.api.openapi import assert_matches_openapi, openapi_document

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def document(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return openapi_document()


@pytest.fixture
def company(alice: User) -> Company:
    assert alice.account is not None
    return Company.objects.create(account=alice.account, name="Northwind AU")


@pytest.fixture
def api(alice: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}")


def checked(response: Any, document: dict[str, Any], status: int) -> Any:
    assert response.status_code == status, response.content.decode()[:1000]
    assert_matches_openapi(response, document)
    return response.json()


def records(company: Company, count: int, **fields: Any) -> list[SyncRecord]:
    made = []
    for n in range(count):
        options = {"state": "acknowledged", "number": f"INV-{n}", "customer_name": "Acme"}
        options.update(fields)
        made.append(
            SyncRecord.objects.create(
                company=company, record_type="invoice", psa_id=f"{n}-{fields}", **options
            )
        )
    return made


def test_starting_a_run_queues_it_and_progress_can_be_read(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    body = checked(
        api.post(
            f"/api/v1/sync/companies/{company.pk}/runs",
            {"record_types": ["invoice"]},
            content_type="application/json",
        ),
        document,
        202,
    )
    assert (body["status"], body["record_types"], body["trigger"]) == (
        "queued",
        ["invoice"],
        "sync_all",
    )
    SyncRun.objects.filter(pk=body["id"]).update(
        status="running", progress={"invoice": {"done": 40, "total": 120}}
    )
    run = checked(api.get(f"/api/v1/sync/runs/{body['id']}"), document, 200)
    assert run["progress"] == {"invoice": {"done": 40, "total": 120}}
    cancelled = checked(api.post(f"/api/v1/sync/runs/{body['id']}/cancel"), document, 200)
    assert cancelled["cancel_requested"] is True


def test_records_filter_and_page_newest_first(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    records(company, 5)
    failed = records(company, 3, state="failed", error_class="mapping", issued_on=date(2026, 3, 1))
    url = f"/api/v1/sync/companies/{company.pk}/records"
    page = checked(api.get(url, {"state": "failed", "limit": 2}), document, 200)
    assert [r["id"] for r in page["records"]] == [failed[2].pk, failed[1].pk]
    rest = checked(
        api.get(url, {"state": "failed", "limit": 2, "before": page["next_before"]}), document, 200
    )
    assert [r["id"] for r in rest["records"]] == [failed[0].pk] and rest["next_before"] is None
    by_class = api.get(url, {"error_class": "mapping", "issued_from": "2026-03-01"}).json()
    assert len(by_class["records"]) == 3
    assert len(api.get(url, {"search": "inv-4"}).json()["records"]) == 1


def test_record_actions_and_their_refusals(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    (failed,) = records(company, 1, state="failed", error_class="mapping")
    excluded = checked(
        api.post(
            f"/api/v1/sync/records/{failed.pk}/exclude",
            {"reason": "Billed elsewhere"},
            content_type="application/json",
        ),
        document,
        200,
    )
    assert (excluded["state"], excluded["manual_note"]) == ("excluded", "Billed elsewhere")
    included = checked(api.post(f"/api/v1/sync/records/{failed.pk}/include"), document, 200)
    assert included["state"] == "pending"
    marked = checked(
        api.post(
            f"/api/v1/sync/records/{failed.pk}/mark-posted",
            {"ledger_number": "INV-0"},
            content_type="application/json",
        ),
        document,
        200,
    )
    assert (marked["state"], marked["ledger_number"]) == ("posted", "INV-0")
    refused = checked(api.post(f"/api/v1/sync/records/{failed.pk}/retry"), document, 409)
    assert "only failed records" in refused["detail"]


def test_statistics_count_synced_documents_per_month(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    now = clock.now()
    for record in records(company, 3):
        record.posted_at = now
        record.save()
    last_month = records(company, 2, state="acknowledged")
    SyncRecord.objects.filter(pk__in=[r.pk for r in last_month]).update(
        posted_at=now - timedelta(days=40)
    )
    records(company, 1, state="failed", error_class="validation")
    months = checked(api.get(f"/api/v1/sync/companies/{company.pk}/statistics"), document, 200)
    assert months[0]["synced"] == 3 and months[0]["failed"] == 1
    assert months[0]["errors_by_class"] == {"validation": 1}
    assert months[1]["synced"] == 2
