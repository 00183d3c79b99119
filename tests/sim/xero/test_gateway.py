"""What happens before a call reaches the books: tokens, tenants, limits, idempotency."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from ledgerbridge_sim import oauth
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.state import Simulator
from tests.sim.xero.conftest import AU, BASE, NZ, START, XeroApi, read


def test_a_missing_or_dead_token_is_401(xero: XeroApi, sim_http: httpx.Client) -> None:
    for authorization in (None, "Bearer not-a-token"):
        headers = {"xero-tenant-id": AU} | (
            {"Authorization": authorization} if authorization else {}
        )
        response = sim_http.get(BASE + "Invoices", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert (body["Title"], body["Status"], body["Detail"]) == (
            "Unauthorized",
            401,
            "AuthenticationUnsuccessful",
        )
        assert response.headers["WWW-Authenticate"].startswith("Bearer error=")
    xero.sim.clock.advance(timedelta(minutes=31))  # access tokens live 30 minutes
    assert xero.get("Invoices").status_code == 401


def test_the_tenant_must_be_named_listed_and_granted(xero: XeroApi) -> None:
    for tenant in ("", NZ, "00000000-0000-4000-8000-000000000001"):
        response = xero.get("Invoices", headers={"xero-tenant-id": tenant})
        assert response.status_code == 403
        assert response.json()["Detail"] == "AuthorizationUnsuccessful"
    assert xero.get("Invoices", headers={"xero-tenant-id": "not-a-guid"}).status_code == 400


def test_tenants_see_only_their_own_records(
    xero: XeroApi, sim_http: httpx.Client, sim: Simulator
) -> None:
    xero.invoice()
    other = XeroApi(sim_http, sim, NZ)
    assert read(other.get("Invoices"))["Invoices"] == []
    assert read(other.get("Organisation"))["Organisations"][0]["BaseCurrency"] == "NZD"


def test_limit_headers_count_down(xero: XeroApi) -> None:
    first, second = xero.get("Items"), xero.get("Items")
    assert (first.headers["X-MinLimit-Remaining"], second.headers["X-MinLimit-Remaining"]) == (
        "59",
        "58",
    )
    assert second.headers["X-DayLimit-Remaining"] == "4998"
    assert second.headers["X-AppMinLimit-Remaining"] == "9998"
    assert xero.get("Invoices/INV-0404").headers["X-MinLimit-Remaining"] == "57"  # failures count


def _refusal(response: httpx.Response) -> tuple[int, str, str]:
    return (
        response.status_code,
        response.headers.get("X-Rate-Limit-Problem", ""),
        response.headers.get("Retry-After", ""),
    )


def test_the_minute_limit(xero: XeroApi) -> None:
    xero.sim.settings["xero"]["minute_limit"] = 3
    for _ in range(3):
        assert xero.get("Items").status_code == 200
        xero.sim.clock.advance(timedelta(seconds=10))
    refused = xero.get("Items")
    assert _refusal(refused) == (429, "minute", "30")  # the first call leaves the window at +60 s
    assert refused.headers["X-MinLimit-Remaining"] == "0"
    xero.sim.clock.advance(timedelta(seconds=30))
    assert xero.get("Items").status_code == 200


def test_the_daily_limit(xero: XeroApi) -> None:
    xero.sim.settings["xero"]["day_limit"] = 2
    assert [xero.get("Items").status_code for _ in range(2)] == [200, 200]
    xero.sim.clock.advance(timedelta(minutes=20))
    assert _refusal(xero.get("Items")) == (429, "daily", str(24 * 3600 - 20 * 60))
    xero.sim.clock.advance(timedelta(hours=23, minutes=40))
    xero.token = oauth.issue_tokens(xero.sim, "xero", (AU,))["access_token"]  # the old one expired
    assert xero.get("Items").status_code == 200


def test_the_app_minute_limit_spans_tenants(
    xero: XeroApi, sim_http: httpx.Client, sim: Simulator
) -> None:
    sim.settings["xero"]["app_minute_limit"] = 2
    other = XeroApi(sim_http, sim, NZ)
    assert xero.get("Items").status_code == other.get("Items").status_code == 200
    assert _refusal(xero.get("Items"))[:2] == (429, "appminute")
    # A different app has its own allowance.
    own = oauth.issue_tokens(sim, "xero", (AU,), client_id="another-app")["access_token"]
    assert (
        sim_http.get(
            BASE + "Items", headers={"Authorization": f"Bearer {own}", "xero-tenant-id": AU}
        ).status_code
        == 200
    )


def test_five_calls_in_flight_and_no_more(sim: Simulator) -> None:
    sim.clock.set(START)
    sim.settings["xero"]["latency_seconds"] = 0.05
    token = oauth.issue_tokens(sim, "xero", (AU,))["access_token"]
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": AU}

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=build_app(sim))
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
            return await asyncio.gather(
                *(client.get(BASE + "Items", headers=headers) for _ in range(7))
            )

    responses = asyncio.run(burst())
    assert sorted(r.status_code for r in responses) == [200] * 5 + [429] * 2
    assert {_refusal(r)[1] for r in responses if r.status_code == 429} == {"concurrent"}
    assert sim.system("xero").extra["limits"]["in_flight"] == {}


def _invoice_body(xero: XeroApi, number: str) -> dict[str, Any]:
    return {
        "Invoices": [
            {
                "Type": "ACCREC",
                "InvoiceNumber": number,
                "Contact": {"Name": "Northwind Traders"},
                "LineItems": [
                    {"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}
                ],
            }
        ]
    }


def test_an_idempotency_key_replays_the_first_answer(xero: XeroApi) -> None:
    key = {"Idempotency-Key": "cw-run-17-batch-1"}
    first = xero.put("Invoices", _invoice_body(xero, "MSP-1"), headers=key)
    again = xero.put("Invoices", _invoice_body(xero, "MSP-1"), headers=key)
    assert again.status_code == 200 and again.content == first.content
    assert len(read(xero.get("Invoices"))["Invoices"]) == 1
    assert again.headers["X-MinLimit-Remaining"] == "58"  # replays still count
    clash = xero.put("Invoices", _invoice_body(xero, "MSP-2"), headers=key)
    assert clash.status_code == 400
    assert (
        clash.json()["Detail"]
        == "Idempotency Key: cw-run-17-batch-1 is used with a different request."
    )
    # After the window the key is free again (and this time the number is a duplicate).
    xero.sim.clock.advance(timedelta(minutes=7))
    late = xero.put("Invoices", _invoice_body(xero, "MSP-1"), headers=key)
    assert late.status_code == 400 and read(late)["Type"] == "ValidationException"


def test_errors_are_replayed_too(xero: XeroApi) -> None:
    key = {"Idempotency-Key": "k-2"}
    body = {"Invoices": [{"Type": "ACCREC", "Contact": {}, "LineItems": []}]}
    first = xero.put("Invoices", body, headers=key)
    assert first.status_code == 400
    assert xero.put("Invoices", body, headers=key).content == first.content
    assert xero.put("Invoices", body, headers={"Idempotency-Key": "x" * 129}).status_code == 400


def test_summarise_errors_false_saves_the_good_elements(xero: XeroApi) -> None:
    body = {
        "Invoices": [
            _invoice_body(xero, "A-1")["Invoices"][0],
            _invoice_body(xero, "A-1")["Invoices"][0],
            _invoice_body(xero, "A-2")["Invoices"][0],
        ]
    }
    refused = xero.put("Invoices", body)
    assert refused.status_code == 400
    assert read(refused)["Elements"][0]["ValidationErrors"] == [
        {"Message": "Invoice # must be unique."}
    ]
    assert read(xero.get("Invoices"))["Invoices"] == [], "the default saves nothing"
    mixed = xero.put("Invoices?summarizeErrors=false", body)
    assert mixed.status_code == 200
    results = read(mixed)["Invoices"]
    assert [r["StatusAttributeString"] for r in results] == ["OK", "ERROR", "OK"]
    assert (
        results[1]["HasErrors"] is True
        and results[1]["InvoiceID"] == "00000000-0000-0000-0000-000000000000"
    )
    assert [i["InvoiceNumber"] for i in read(xero.get("Invoices"))["Invoices"]] == ["A-1", "A-2"]
