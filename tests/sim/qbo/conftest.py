"""Helpers for the QuickBooks Online simulator tests: a realm's API with a token, Decimal bodies."""

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge_sim import jsonio, oauth
from ledgerbridge_sim.state import Simulator

US = "9341452100000001"
CA = "9341452100000002"
UK = "9341452100000003"
AU = "9341452100000004"


def read(response: httpx.Response) -> Any:
    """A JSON body with money as Decimal, as a careful client reads it."""
    return json.loads(response.content, parse_float=Decimal)


class QboApi:
    """One realm's `/v3/company/{realmId}/` as a client with a valid token sees it."""

    def __init__(self, http: httpx.Client, sim: Simulator, realm: str) -> None:
        self.http, self.sim, self.realm = http, sim, realm
        token = oauth.issue_tokens(sim, "qbo", (realm,))["access_token"]
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.base = f"/qbo/v3/company/{realm}/"

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(self.base + path, params=params, headers=self.headers)

    def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        """POST JSON with Decimal money written as exact numbers."""
        headers = {**self.headers, "Content-Type": "application/json"}
        return self.http.post(
            self.base + path, content=jsonio.dumps(body), params=params, headers=headers
        )

    def query(self, statement: str) -> httpx.Response:
        return self.get("query", query=statement)

    def rows(self, statement: str) -> list[dict[str, Any]]:
        """The records a SELECT * answers (an empty QueryResponse is no records)."""
        response = self.query(statement)
        assert response.status_code == 200, response.text
        answer = read(response)["QueryResponse"]
        found = [value for value in answer.values() if isinstance(value, list)]
        return found[0] if found else []

    def one(self, entity: str, where: str) -> dict[str, Any]:
        rows = self.rows(f"select * from {entity} where {where}")  # noqa: S608 - QBO query
        assert len(rows) == 1, rows
        return rows[0]

    def create(self, entity: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.post(entity.lower(), body, **params)
        assert response.status_code == 200, response.text
        created: dict[str, Any] = read(response)[entity]
        return created

    def fetch(self, entity: str, record_id: str) -> dict[str, Any]:
        response = self.get(f"{entity.lower()}/{record_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = read(response)[entity]
        return found


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The first Error of a Fault answer."""
    body = read(response)
    assert "Fault" in body, body
    first: dict[str, Any] = body["Fault"]["Error"][0]
    return first


@pytest.fixture
def api_for(sim: Simulator, sim_http: httpx.Client) -> Callable[[str], QboApi]:
    """APIs for any realm, with the throttles off (test_limits.py turns them back on)."""
    sim.settings["qbo"]["throttling"] = False
    return lambda realm: QboApi(sim_http, sim, realm)


@pytest.fixture
def us(api_for: Callable[[str], QboApi]) -> QboApi:
    return api_for(US)


@pytest.fixture
def uk(api_for: Callable[[str], QboApi]) -> QboApi:
    return api_for(UK)


@pytest.fixture
def ca(api_for: Callable[[str], QboApi]) -> QboApi:
    return api_for(CA)


def sales_line(
    item_id: str, qty: int, unit_price: str, tax_code: str | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "ItemRef": {"value": item_id},
        "Qty": qty,
        "UnitPrice": Decimal(unit_price),
    }
    if tax_code is not None:
        detail["TaxCodeRef"] = {"value": tax_code}
    return {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
