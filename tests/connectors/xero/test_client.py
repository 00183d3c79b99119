"""XeroClient against canned answers shaped like Xero's documentation (MockTransport)."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import ApiCall
from ledgerbridge.core import clock

from .conftest import TENANT_ID, Recorder, StaticTokens, error_response, fixture, ok

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def test_every_call_carries_the_bearer_token_tenant_and_json_accept() -> None:
    recorder = Recorder(lambda request: ok(fixture("items.json")))
    with recorder.client(StaticTokens("token-a")) as client:
        items = client.get_records("Items")
    assert [item["Code"] for item in items] == ["MS-SEAT", "BKP-2TB"]
    (request,) = recorder.requests
    assert request.headers["Authorization"] == "Bearer token-a"
    assert request.headers["xero-tenant-id"] == TENANT_ID
    assert request.headers["Accept"] == "application/json"
    assert request.url.path == "/xero/api.xro/2.0/Items"


def test_a_401_refreshes_the_token_once_and_repeats_the_call() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer old":
            return error_response("token_expired")
        return ok(fixture("organisation.json"))

    tokens = StaticTokens("old", "new")
    recorder = Recorder(handler)
    with recorder.client(tokens) as client:
        rows = client.get_records("Organisation", key="Organisations")
    assert rows[0]["Name"] == "Riverside MSP Ltd"
    assert tokens.refreshes == ["old"]
    assert [r.headers["Authorization"] for r in recorder.requests] == ["Bearer old", "Bearer new"]


def test_a_second_401_is_an_auth_error_without_a_third_try() -> None:
    recorder = Recorder(lambda request: error_response("token_expired"))
    tokens = StaticTokens("old", "new", "newer")
    with recorder.client(tokens) as client, pytest.raises(ConnectorError) as caught:
        client.get_records("Invoices")
    assert caught.value.kind == ErrorKind.AUTH
    assert "expired" in caught.value.message
    assert "Reconnect Xero" in caught.value.hint
    assert tokens.refreshes == ["old"]
    assert len(recorder.requests) == 2


def test_a_dead_connection_raises_the_token_stores_auth_error() -> None:
    recorder = Recorder(lambda request: error_response("token_expired"))
    with recorder.client(StaticTokens("only")) as client, pytest.raises(ConnectorError) as caught:
        client.get_records("Invoices")
    assert caught.value.kind == ErrorKind.AUTH
    assert "revoked" in caught.value.message
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("case", "kind", "words"),
    [
        ("forbidden", ErrorKind.PERMISSION, "not connected"),
        ("not_found", ErrorKind.NOT_FOUND, "no record"),
        ("validation", ErrorKind.VALIDATION, "Invoice # must be unique."),
    ],
)
def test_refusals_are_classified(case: str, kind: ErrorKind, words: str) -> None:
    recorder = Recorder(lambda request: error_response(case))
    with recorder.client() as client, pytest.raises(ConnectorError) as caught:
        client.get_records("Invoices")
    assert caught.value.kind == kind
    assert words in caught.value.message
    assert len(recorder.requests) == 1  # a refusal is not retried


def test_the_validation_hint_comes_from_the_vendor_text() -> None:
    recorder = Recorder(lambda request: error_response("validation"))
    with recorder.client() as client, pytest.raises(ConnectorError) as caught:
        client.get_records("Invoices")
    assert "already in Xero" in caught.value.hint


def test_a_minute_limit_429_waits_what_retry_after_says() -> None:
    answers = iter([error_response("minute_limit"), ok(fixture("items.json"))])
    recorder = Recorder(lambda request: next(answers))
    with recorder.client() as client:
        assert len(client.get_records("Items")) == 2
    assert recorder.sleeps == [37.0]


def test_a_daily_limit_429_is_not_retried_within_the_call() -> None:
    clock.set_now(NOW)
    recorder = Recorder(lambda request: error_response("day_limit"))
    with recorder.client() as client, pytest.raises(ConnectorError) as caught:
        client.get_records("Items")
    assert caught.value.kind == ErrorKind.RATE_LIMITED
    assert caught.value.retry_at == NOW + timedelta(seconds=30617)
    assert "for the day" in caught.value.message
    assert len(recorder.requests) == 1 and recorder.sleeps == []


def test_a_batch_put_asks_for_per_element_results_with_an_idempotency_key() -> None:
    recorder = Recorder(lambda request: ok(fixture("invoices_put_per_element.json")))
    with recorder.client() as client:
        answers = client.put_batch(
            "Invoices", [{"InvoiceNumber": "A"}, {"InvoiceNumber": "B"}], idempotency_key="k" * 200
        )
    assert [a["StatusAttributeString"] for a in answers] == ["OK", "ERROR"]
    (request,) = recorder.requests
    assert request.method == "PUT"
    assert request.url.params["summarizeErrors"] == "false"
    assert request.headers["Idempotency-Key"] == "k" * 128  # Xero's limit
    assert json.loads(request.content) == {
        "Invoices": [{"InvoiceNumber": "A"}, {"InvoiceNumber": "B"}]
    }


def test_a_create_whose_connection_broke_is_uncertain_and_not_sent_again() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    recorder = Recorder(handler)
    with recorder.client() as client, pytest.raises(ConnectorError) as caught:
        client.put_batch("Invoices", [{"InvoiceNumber": "A"}], idempotency_key="k")
    assert caught.value.kind == ErrorKind.UNCERTAIN
    assert len(recorder.requests) == 1


def test_a_5xx_on_a_create_is_uncertain_but_a_read_is_retried() -> None:
    recorder = Recorder(lambda request: httpx.Response(503, text="Service Unavailable"))
    with recorder.client() as client:
        with pytest.raises(ConnectorError) as caught:
            client.put_batch("Invoices", [{"InvoiceNumber": "A"}], idempotency_key="k")
        assert caught.value.kind == ErrorKind.UNCERTAIN
        assert len(recorder.requests) == 1
        with pytest.raises(ConnectorError) as caught:
            client.get_records("Invoices")
        assert caught.value.kind == ErrorKind.TRANSIENT
    assert len(recorder.requests) == 1 + 3  # the read used all its attempts


def test_paging_follows_page_count() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        payments = [{"PaymentID": f"p{page}-{n}"} for n in range(2 if page < 3 else 1)]
        return ok(
            {"pagination": {"page": page, "pageSize": 2, "pageCount": 3}, "Payments": payments}
        )

    recorder = Recorder(handler)
    with recorder.client() as client:
        ids = [p["PaymentID"] for p in client.pages("Payments", page_size=2)]
    assert ids == ["p1-0", "p1-1", "p2-0", "p2-1", "p3-0"]
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2", "3"]


def test_if_modified_since_is_sent_as_a_utc_timestamp() -> None:
    recorder = Recorder(lambda request: ok({"Payments": []}))
    moment = datetime(2026, 11, 2, 14, 5, 9, 250000, tzinfo=UTC)
    with recorder.client() as client:
        list(client.pages("Payments", modified_since=moment))
    assert recorder.requests[0].headers["If-Modified-Since"] == "2026-11-02T14:05:09"


def test_tokens_never_reach_the_api_log() -> None:
    calls: list[ApiCall] = []
    recorder = Recorder(lambda request: error_response("token_expired"))
    tokens = StaticTokens("secret-token-one", "secret-token-two")
    client = recorder.client(tokens, log_hook=calls.append, detailed_logging=True)
    with client, pytest.raises(ConnectorError) as caught:
        client.get_records("Invoices")
    assert len(calls) == 2
    logged = repr(calls) + repr(caught.value) + caught.value.vendor_detail + caught.value.message
    assert "secret-token" not in logged
