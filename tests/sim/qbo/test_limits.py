"""The three throttles per realm on the virtual clock, and the 429 + 3001 answer."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.qbo.conftest import UK, US, QboApi, read

START = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
def throttled(sim: Simulator, sim_http: httpx.Client) -> QboApi:
    """The US realm with the real limits and a frozen clock."""
    sim.clock.set(START)
    return QboApi(sim_http, sim, US)


def _term(api: QboApi) -> httpx.Response:
    return api.query("select * from Term")


def test_ten_requests_a_second_then_429_with_fault_3001(throttled: QboApi, sim: Simulator) -> None:
    assert [_term(throttled).status_code for _ in range(10)] == [200] * 10
    refused = _term(throttled)
    assert refused.status_code == 429
    body = read(refused)
    assert body["Fault"]["type"] == "SERVICE"
    error = body["Fault"]["Error"][0]
    assert error["code"] == "3001"
    assert error["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"
    assert error["Detail"] == "The request limit was reached.  Try again later"
    sim.clock.advance(timedelta(seconds=1))
    assert _term(throttled).status_code == 200


def test_five_hundred_a_minute(throttled: QboApi, sim: Simulator) -> None:
    statuses = []
    for _ in range(50):  # 10 a second for 50 seconds
        statuses += [_term(throttled).status_code for _ in range(10)]
        sim.clock.advance(timedelta(seconds=1))
    assert statuses == [200] * 500
    assert _term(throttled).status_code == 429
    sim.clock.set(START + timedelta(seconds=60))  # the first second's ten have left the minute
    assert [_term(throttled).status_code for _ in range(11)] == [200] * 10 + [429]


def test_forty_batches_a_minute(throttled: QboApi, sim: Simulator) -> None:
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Term"}]}
    for _ in range(10):
        assert [throttled.post("batch", batch).status_code for _ in range(4)] == [200] * 4
        sim.clock.advance(timedelta(seconds=1))
    assert throttled.post("batch", batch).status_code == 429
    assert _term(throttled).status_code == 200  # single requests still pass
    sim.clock.advance(timedelta(seconds=51))
    assert throttled.post("batch", batch).status_code == 200


def test_refused_requests_do_not_count_and_realms_have_their_own_budget(
    throttled: QboApi, sim: Simulator, sim_http: httpx.Client
) -> None:
    for _ in range(10):
        _term(throttled)
    for _ in range(5):
        assert _term(throttled).status_code == 429
    assert _term(QboApi(sim_http, sim, UK)).status_code == 200
    sim.clock.advance(timedelta(seconds=1))
    # Only the ten admitted requests used the minute: 490 remain, 10 of them this second.
    assert [_term(throttled).status_code for _ in range(10)] == [200] * 10


def test_the_limits_scale_with_settings(throttled: QboApi, sim: Simulator) -> None:
    sim.settings["qbo"].update(requests_per_second=2, requests_per_minute=3)
    assert [_term(throttled).status_code for _ in range(3)] == [200, 200, 429]
    sim.clock.advance(timedelta(seconds=1))
    assert [_term(throttled).status_code for _ in range(2)] == [200, 429]
    sim.settings["qbo"]["throttling"] = False
    assert [_term(throttled).status_code for _ in range(20)] == [200] * 20
