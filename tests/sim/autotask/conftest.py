"""Helpers for the Autotask simulator tests: a discovered API base, the default credentials."""

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge_sim.autotask import app as autotask
from ledgerbridge_sim.state import Simulator

FIXTURES = Path(__file__).parent / "fixtures"
HEADERS = {
    "UserName": "api@demo.example",
    "Secret": "demo-secret",
    "ApiIntegrationCode": "DEMOINTEGRATIONCODE",
}
EVERY_ROW = [{"op": "gte", "field": "id", "value": 0}]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def read(response: httpx.Response) -> Any:
    """A response body with money as Decimal, as the real client reads it."""
    return json.loads(response.content, parse_float=Decimal)


class AutotaskApi:
    """The simulator as a client sees it after zone discovery: `base` ends in `V1.0/`."""

    def __init__(self, http: httpx.Client, base: str) -> None:
        self.http = http
        self.base = base

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        url = path if path.startswith("http") else self.base + path
        return self.http.request(method, url, headers=headers or HEADERS, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def query(self, entity: str, body: dict[str, Any]) -> httpx.Response:
        return self.post(f"{entity}/query", json=body)

    def ids(self, entity: str, filters: list[dict[str, Any]]) -> list[int]:
        response = self.query(entity, {"filter": filters})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def api(sim_http: httpx.Client) -> AutotaskApi:
    zone = sim_http.get(
        "/autotask/ATServicesRest/V1.0/zoneInformation", params={"user": HEADERS["UserName"]}
    )
    assert zone.status_code == 200, zone.text
    return AutotaskApi(sim_http, zone.json()["url"] + "V1.0/")


@pytest.fixture
def tenant(sim: Simulator) -> Iterator[Simulator]:
    """The small tenant reconstructed from the documentation examples."""
    records = {key: value for key, value in load("tenant.json").items() if not key.startswith("_")}
    autotask.seed(sim, records)
    yield sim
