import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.autotask import limits
from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import EVERY_ROW, HEADERS, AutotaskApi

pytestmark = pytest.mark.usefixtures("tenant")

BASE = "http://sim.test/autotask/zone1/ATServicesRest/V1.0/"


def test_the_hourly_threshold_refuses_until_the_window_rolls(
    api: AutotaskApi, sim: Simulator
) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    sim.clock.set(start)
    sim.settings["autotask"]["requests_per_hour"] = 5
    for minute in range(5):
        sim.clock.set(start + timedelta(minutes=minute))
        assert api.query("Companies", {"filter": EVERY_ROW}).status_code == 200
    refused = api.query("Companies", {"filter": EVERY_ROW})
    assert refused.status_code == 429
    assert "request threshold of 5 requests per 60 minutes" in refused.json()["errors"][0]
    sim.clock.set(start + timedelta(minutes=59, seconds=59))
    assert api.get("Companies/174").status_code == 429
    assert api.get("ThresholdInformation").status_code == 429
    # Zone discovery is not an API call against the database's threshold.
    zone = api.http.get(
        "/autotask/ATServicesRest/V1.0/zoneInformation", params={"user": HEADERS["UserName"]}
    )
    assert zone.status_code == 200
    sim.clock.set(start + timedelta(minutes=60))  # the first request has left the window
    assert api.get("Companies/174").status_code == 200
    assert api.get("Companies/174").status_code == 429
    sim.clock.set(start + timedelta(minutes=62))
    threshold = api.get("ThresholdInformation").json()
    # 09:03, 09:04, 10:00 and this call are inside the hour ending 10:02.
    assert threshold["currentTimeframeRequestCount"] == 4


def test_the_default_threshold_is_ten_thousand(api: AutotaskApi) -> None:
    assert api.get("ThresholdInformation").json()["externalRequestThreshold"] == 10_000


def test_latency_is_added_from_half_and_three_quarters_when_enabled(sim: Simulator) -> None:
    sim.settings["autotask"].update(requests_per_hour=8, threshold_latency=True)
    delays = [limits.count_request(sim) for _ in range(8)]
    assert delays == [0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    sim.settings["autotask"]["threshold_latency"] = False
    sim.system("autotask").extra.clear()
    assert [limits.count_request(sim) for _ in range(8)] == [0.0] * 8


async def _burst(sim: Simulator, calls: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=build_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        return await asyncio.gather(
            *(
                client.post(path, json={"filter": EVERY_ROW}, headers=headers)
                for path, headers in calls
            )
        )


def test_a_fourth_concurrent_request_to_one_entity_is_429(sim: Simulator) -> None:
    sim.settings["autotask"]["latency_seconds"] = 0.05
    responses = asyncio.run(_burst(sim, [("Companies/query", HEADERS)] * 5))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 200, 429, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["errors"][0].startswith(
        "Thread Threshold Exceeded — The Autotask API thread threshold of 3 threads"
    )
    assert sim.system("autotask").extra["threads_in_flight"] == {}


def test_threads_are_counted_per_entity_and_per_integration(sim: Simulator) -> None:
    sim.settings["autotask"]["latency_seconds"] = 0.05
    sim.system("autotask").extra["integration_codes"] = {"SECONDVENDOR"}
    other_vendor = {**HEADERS, "ApiIntegrationCode": "SECONDVENDOR"}
    calls = (
        [("Companies/query", HEADERS)] * 3
        + [("Invoices/query", HEADERS)] * 3
        + [("companies/query", other_vendor)] * 3
    )
    responses = asyncio.run(_burst(sim, calls))
    assert [response.status_code for response in responses] == [200] * 9


def test_the_thread_limit_is_configurable(sim: Simulator) -> None:
    sim.settings["autotask"].update(latency_seconds=0.05, threads_per_entity=1)
    responses = asyncio.run(_burst(sim, [("Companies/query", HEADERS)] * 3))
    assert sorted(response.status_code for response in responses) == [200, 429, 429]


def test_sequential_requests_never_hit_the_thread_limit(api: AutotaskApi) -> None:
    for _ in range(10):
        assert api.query("Companies", {"filter": EVERY_ROW}).status_code == 200
