"""Helpers for the Xero simulator tests: a token for a tenant, the API base, Decimal bodies."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge_sim import jsonio, oauth
from ledgerbridge_sim.state import Simulator

AU = "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b01"
NZ = "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b02"
UK = "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b03"
US = "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b04"
BASE = "/xero/api.xro/2.0/"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def read(response: httpx.Response) -> Any:
    """A response body with money as Decimal, as a careful client reads it."""
    return json.loads(response.content, parse_float=Decimal)


class XeroApi:
    """One app's view of one organisation: bearer token and `xero-tenant-id` on every call."""

    def __init__(self, http: httpx.Client, sim: Simulator, tenant: str = AU) -> None:
        self.http, self.sim, self.tenant = http, sim, tenant
        self.token = oauth.issue_tokens(sim, "xero", (tenant,))["access_token"]

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        found = {
            "Authorization": f"Bearer {self.token}",
            "xero-tenant-id": self.tenant,
            "Accept": "application/json",
        }
        found.update(extra or {})
        return found

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return self.http.request(method, BASE + path, headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, content=_dumps(body), **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, content=_dumps(body), **kwargs)

    # Shortcuts for the common records.
    def contact_id(self, name: str = "Northwind Traders") -> str:
        found = read(self.get("Contacts", params={"where": f'Name=="{name}"'}))["Contacts"]
        return str(found[0]["ContactID"])

    def invoice(self, **fields: Any) -> dict[str, Any]:
        """Create one invoice (AUTHORISED, one 100.00 line on account 200 unless told)."""
        body = {
            "Type": "ACCREC",
            "Contact": {"ContactID": self.contact_id()},
            "Date": "2026-11-02",
            "DueDate": "2026-12-02",
            "Status": "AUTHORISED",
            "LineItems": [
                {
                    "Description": "Managed services",
                    "Quantity": 1,
                    "UnitAmount": 100,
                    "AccountCode": "200",
                }
            ],
        }
        body.update(fields)
        response = self.put("Invoices", {"Invoices": [body]})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = read(response)["Invoices"][0]
        return found

    def pay(self, invoice_id: str, amount: Any, **fields: Any) -> httpx.Response:
        payment = {
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": "090"},
            "Date": "2026-11-20",
            "Amount": amount,
        }
        payment.update(fields)
        return self.put("Payments", {"Payments": [payment]})


def _dumps(body: Any) -> bytes:
    # Decimal money goes out as JSON numbers, as a real client sends it.
    return body if isinstance(body, bytes) else jsonio.dumps(body)


def messages(response: httpx.Response) -> list[str]:
    """Every validation message in a 400 ValidationException body."""
    body = read(response)
    return [
        error["Message"] for element in body["Elements"] for error in element["ValidationErrors"]
    ]


@pytest.fixture
def xero(sim_http: httpx.Client, sim: Simulator) -> Iterator[XeroApi]:
    sim.clock.set(START)
    yield XeroApi(sim_http, sim)
