"""A thin caller for the ConnectWise simulator with the default demo credentials."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ledgerbridge_sim.state import Simulator

CLIENT_ID = "00000000-0000-4000-8000-000000000001"
BASE = "/connectwise/v4_6_release/apis/3.0/"


def basic(company: str = "demo", public: str = "demo-public", private: str = "demo-private") -> str:
    return "Basic " + base64.b64encode(f"{company}+{public}:{private}".encode()).decode()


class CwApi:
    """Calls `/connectwise/v4_6_release/apis/3.0/…` as a registered integration would."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.headers = {
            "Authorization": basic(),
            "clientId": CLIENT_ID,
            "Accept": "application/vnd.connectwise.com+json; version=2025.1",
        }

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = path if path.startswith("/") or path.startswith("http") else BASE + path
        return self.http.request(
            method, url, params=params, json=json, headers={**self.headers, **(headers or {})}
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, json: Any) -> httpx.Response:
        return self.request("POST", path, json=json)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)


@pytest.fixture
def cw(sim_http: httpx.Client, sim: Simulator) -> Iterator[CwApi]:
    sim.clock.set(datetime(2026, 2, 2, 9, 0, tzinfo=UTC))
    yield CwApi(sim_http)


def links(response: httpx.Response) -> dict[str, str]:
    """rel → URL from a Link header."""
    found: dict[str, str] = {}
    header = response.headers.get("link", "")
    for part in header.split(","):
        if not part.strip():
            continue
        url, _, rel = part.partition(";")
        found[rel.split("=", 1)[1].strip().strip('"')] = url.strip().strip("<>")
    return found
