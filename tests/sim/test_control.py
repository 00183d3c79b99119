import httpx
import pytest

from ledgerbridge_sim.state import Simulator


def test_the_clock_can_be_set_and_advanced(sim_http: httpx.Client) -> None:
    sim_http.post("/_sim/clock", json={"set": "2026-03-02T09:00:00+00:00"})
    moved = sim_http.post("/_sim/clock", json={"advance_seconds": 90}).json()
    assert moved["now"] == "2026-03-02T09:01:30+00:00"
    assert sim_http.get("/_sim/clock").json()["now"] == "2026-03-02T09:01:30+00:00"


def test_a_planned_fault_answers_for_n_calls_then_stops(
    sim_http: httpx.Client, sim: Simulator
) -> None:
    added = sim_http.post(
        "/_sim/faults",
        json={"system": "connectwise", "path": "/missing", "status": 503, "times": 2},
    )
    assert added.status_code == 201
    statuses = [sim_http.get("/connectwise/missing").status_code for _ in range(3)]
    assert statuses == [503, 503, 404]
    log = sim_http.get("/_sim/requests", params={"system": "connectwise"}).json()
    assert log["count"] == 3
    assert log["counts"] == {"GET /connectwise/missing": 3}


def test_a_bad_fault_spec_is_refused_with_the_reason(sim_http: httpx.Client) -> None:
    response = sim_http.post("/_sim/faults", json={"statuz": 500})
    assert response.status_code == 400
    assert "statuz" in response.json()["error"]


def test_commit_then_drop_breaks_the_response(sim_http: httpx.Client) -> None:
    sim_http.post("/_sim/faults", json={"path": "/anything", "drop_after_commit": True})
    with pytest.raises(httpx.RemoteProtocolError):
        sim_http.get("/autotask/anything")
    # The request still reached the simulator: a write there would have been committed.
    assert sim_http.get("/_sim/requests").json()["counts"] == {"GET /autotask/anything": 1}


def test_reset_forgets_faults_and_requests(sim_http: httpx.Client, sim: Simulator) -> None:
    sim_http.post("/_sim/faults", json={"status": 500})
    sim_http.get("/connectwise/x")
    sim_http.post("/_sim/reset")
    assert sim.faults == []
    assert sim_http.get("/_sim/requests").json()["count"] == 0
