"""AutotaskClient against canned answers shaped like the vendor's documentation (MockTransport)."""

import gc
import json
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ledgerbridge.connectors.autotask import filters as f
from ledgerbridge.connectors.autotask.client import (
    AutotaskClient,
    AutotaskCredentials,
    permission_hint,
)
from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures"
LOOKUP = "http://127.0.0.1:8900/autotask/atservicesrest/v1.0/zoneInformation"
ZONE = "http://127.0.0.1:8900/autotask/zone5/ATServicesRest/"
CREDENTIALS = AutotaskCredentials(
    username="api@riverside.example", secret="s3cret-value", integration_code="ABCDEF123"
)

type Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def error(name: str) -> httpx.Response:
    case = fixture("errors.json")[name]
    if case["body"] is None:
        return httpx.Response(case["status"])
    return httpx.Response(case["status"], json=case["body"])


class Recorder:
    """Answers requests with `handler` and keeps them for the assertions."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.lower().endswith("/zoneinformation"):
            return httpx.Response(200, json=fixture("zone_information.json"))
        return self.handler(request)

    def client(self, **kwargs: Any) -> AutotaskClient:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay=0.01))
        return AutotaskClient(
            CREDENTIALS,
            zone_lookup_url=LOOKUP,
            transport=httpx.MockTransport(self),
            sleep=self.sleeps.append,
            **kwargs,
        )

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.requests if not r.url.path.lower().endswith("/zoneinformation")]


def test_zone_discovery_then_every_call_in_the_zone_with_the_three_headers() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=fixture("invoice_paid.json")))
    with recorder.client() as client:
        assert client.get("Invoices", 29684400) is not None
        assert client.get("Invoices", 29684400) is not None
        assert client.zone().zone_name == "America West"
    lookup, *calls = recorder.requests
    assert lookup.method == "GET"
    assert str(lookup.url).startswith(LOOKUP)
    assert parse_qs(urlsplit(str(lookup.url)).query) == {"user": ["api@riverside.example"]}
    assert len(calls) == 2  # the zone is cached
    for call in calls:
        assert str(call.url) == ZONE + "V1.0/Invoices/29684400"
        assert call.headers["ApiIntegrationCode"] == "ABCDEF123"
        assert call.headers["UserName"] == "api@riverside.example"
        assert call.headers["Secret"] == "s3cret-value"
        assert "ImpersonationResourceId" not in call.headers


def test_pinned_zone_skips_discovery() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"item": {"id": 1}}))
    client = recorder.client(zone_url="http://127.0.0.1:8900/autotask/zone2/atservicesrest")
    assert client.get("Companies", 1) == {"id": 1}
    (call,) = recorder.requests
    assert str(call.url) == "http://127.0.0.1:8900/autotask/zone2/atservicesrest/V1.0/Companies/1"


def test_query_posts_the_same_body_to_every_next_page_url() -> None:
    page_one = fixture("invoices_page.json")
    next_url = page_one["pageDetails"]["nextPageUrl"]
    last = {
        "items": [{"id": 29684514, "companyID": 1, "invoiceTotal": 5}],
        "pageDetails": {"count": 1, "requestCount": 2, "prevPageUrl": None, "nextPageUrl": None},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return error("method_not_allowed")
        return httpx.Response(200, json=page_one if str(request.url).endswith("/query") else last)

    recorder = Recorder(handler)
    rows = list(
        recorder.client().query(
            "Invoices", [f.not_exist("webServiceDate"), f.eq("isVoided", False)], page_size=2
        )
    )
    assert [row["id"] for row in rows] == [29684512, 29684513, 29684514]
    first, second = recorder.api_calls()
    assert str(first.url) == ZONE + "V1.0/Invoices/query"
    assert str(second.url) == next_url
    assert first.method == second.method == "POST"
    assert (
        json.loads(first.content)
        == json.loads(second.content)
        == {
            "MaxRecords": 2,
            "filter": [
                {"op": "notExist", "field": "webServiceDate"},
                {"op": "eq", "field": "isVoided", "value": False},
            ],
        }
    )
    assert first.headers["Content-Type"] == "application/json"


def test_query_is_lazy_and_reads_money_as_decimal() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=fixture("billing_items.json")))
    rows = recorder.client().query("BillingItems", [f.eq("invoiceID", 29684512)])
    assert recorder.requests == []  # nothing asked until the first row is wanted
    first = next(rows)
    assert str(first["quantity"]) == "2.5"
    assert type(first["quantity"]).__name__ == "Decimal"


def test_a_page_link_outside_the_zone_is_not_followed() -> None:
    page = fixture("invoices_page.json")
    page["pageDetails"]["nextPageUrl"] = "https://evil.example/V1.0/Invoices/query/next?paging=x"
    recorder = Recorder(lambda request: httpx.Response(200, json=page))
    with pytest.raises(ConnectorError, match="outside its zone"):
        list(recorder.client().query("Invoices", [f.every_row()]))
    assert len(recorder.api_calls()) == 1


def test_a_401_rediscovers_the_zone_and_retries_once_there() -> None:
    zones = iter(
        [
            {"zoneName": "Old", "url": "http://127.0.0.1:8900/autotask/zone5/ATServicesRest/"},
            {"zoneName": "New", "url": "http://127.0.0.1:8900/autotask/zone15/ATServicesRest/"},
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.lower().endswith("/zoneinformation"):
            return httpx.Response(200, json=next(zones))
        if "/zone5/" in request.url.path and request.url.path.endswith("/2"):
            return error("unauthorized")
        return httpx.Response(200, json={"item": {"id": 2}})

    client = AutotaskClient(
        CREDENTIALS, zone_lookup_url=LOOKUP, transport=httpx.MockTransport(handler)
    )
    assert client.get("Companies", 1) == {"id": 2}  # finds the old zone
    assert client.get("Companies", 2) == {"id": 2}  # 401 there, then the new zone answers
    assert client.zone().zone_name == "New"


def test_a_401_in_an_unmoved_zone_is_the_secret() -> None:
    recorder = Recorder(lambda request: error("unauthorized"))
    client = recorder.client()
    client.zone()
    with pytest.raises(ConnectorError) as caught:
        client.get("Companies", 1)
    assert caught.value.kind == ErrorKind.AUTH
    assert "secret" in caught.value.message and "api@riverside.example" in caught.value.message
    # One look-up at the start, one after the 401: the zone had not moved.
    assert len(recorder.requests) - len(recorder.api_calls()) == 2
    assert "s3cret-value" not in repr(caught.value.__dict__)


def test_validation_500_is_validation_with_the_vendors_words() -> None:
    recorder = Recorder(lambda request: error("validation"))
    with pytest.raises(ConnectorError) as caught:
        recorder.client().update("Invoices", 5, {"invoiceNumber": "X"})
    assert caught.value.kind == ErrorKind.VALIDATION
    assert caught.value.status == 500
    assert "you must assign both a assignedResourceID" in caught.value.message
    assert len(recorder.api_calls()) == 1  # never retried


def test_permission_500_names_the_entity() -> None:
    recorder = Recorder(lambda request: error("permission"))
    with pytest.raises(ConnectorError) as caught:
        list(recorder.client().query("BillingCodes", [f.every_row()]))
    assert caught.value.kind == ErrorKind.PERMISSION
    assert "Billing Codes" in caught.value.message
    assert "admin-level" in caught.value.hint
    assert caught.value.hint == permission_hint("BillingCodes")


def test_unexpected_500_on_a_read_is_retried_then_transient() -> None:
    recorder = Recorder(lambda request: error("unexpected"))
    with pytest.raises(ConnectorError) as caught:
        recorder.client().get("Companies", 1)
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert len(recorder.api_calls()) == 3
    assert len(recorder.sleeps) == 2


def test_unexpected_500_on_a_create_is_uncertain_and_not_resent() -> None:
    recorder = Recorder(lambda request: error("unexpected"))
    with pytest.raises(ConnectorError) as caught:
        recorder.client().create("Companies", {"companyName": "X"})
    assert caught.value.kind == ErrorKind.UNCERTAIN
    assert len(recorder.api_calls()) == 1


def test_thread_threshold_429_is_retried_after_a_back_off() -> None:
    answers = iter([error("thread_threshold"), error("thread_threshold")])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json={"itemId": 7}))

    recorder = Recorder(handler)
    assert recorder.client().create("Companies", {"companyName": "X"}) == 7
    assert len(recorder.api_calls()) == 3
    assert len(recorder.sleeps) == 2 and all(s > 0 for s in recorder.sleeps)


def test_zone_lookup_failures_are_auth_with_the_user_name() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return error("zone_unknown_user")

    client = AutotaskClient(
        CREDENTIALS,
        zone_lookup_url=LOOKUP,
        transport=httpx.MockTransport(handler),
        sleep=lambda seconds: None,
    )
    with pytest.raises(ConnectorError) as caught:
        client.zone()
    assert caught.value.kind == ErrorKind.AUTH
    assert "api@riverside.example" in caught.value.message


def test_invalid_integration_code_is_auth() -> None:
    recorder = Recorder(lambda request: error("integration_code_invalid"))
    with pytest.raises(ConnectorError) as caught:
        recorder.client().get("Companies", 1)
    assert caught.value.kind == ErrorKind.AUTH
    assert "integration code" in caught.value.message


def test_get_missing_is_none() -> None:
    recorder = Recorder(lambda request: httpx.Response(404, json={"item": None}))
    assert recorder.client().get("Invoices", 9) is None
    recorder = Recorder(lambda request: httpx.Response(200, json={"item": None}))
    assert recorder.client().get("Invoices", 9) is None


def test_a_missing_endpoint_is_not_a_missing_record() -> None:
    body = {"Message": "No HTTP resource was found that matches the request URI 'x'."}
    recorder = Recorder(lambda request: httpx.Response(404, json=body))
    with pytest.raises(ConnectorError) as caught:
        recorder.client().get("Invoicez", 9)
    assert caught.value.kind == ErrorKind.VALIDATION
    assert "no API endpoint" in caught.value.message


def test_update_patches_the_collection_url_with_id_and_impersonates() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"itemId": 29684512}))
    credentials = AutotaskCredentials(
        username="api@riverside.example",
        secret="s3cret-value",
        integration_code="ABCDEF123",
        impersonation_resource_id=29682885,
    )
    client = AutotaskClient(
        credentials, zone_lookup_url=LOOKUP, transport=httpx.MockTransport(recorder)
    )
    assert client.update("Invoices", 29684512, {"paidDate": "2024-02-15"}) == 29684512
    assert client.update("Contacts", 9, {"isActive": 0}, parent=("Companies", 174)) == 29684512
    patch, child = recorder.api_calls()
    assert (patch.method, str(patch.url)) == ("PATCH", ZONE + "V1.0/Invoices")
    assert json.loads(patch.content) == {"id": 29684512, "paidDate": "2024-02-15"}
    assert patch.headers["ImpersonationResourceId"] == "29682885"
    assert str(child.url) == ZONE + "V1.0/Companies/174/Contacts"


def test_count_and_entity_fields_are_cached() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/count"):
            return httpx.Response(200, json={"queryCount": 7})
        return httpx.Response(200, json=fixture("invoice_fields.json"))

    recorder = Recorder(handler)
    client = recorder.client()
    assert client.count("Invoices", [f.not_exist("webServiceDate")]) == 7
    assert json.loads(recorder.api_calls()[0].content) == {
        "filter": [{"op": "notExist", "field": "webServiceDate"}]
    }
    assert client.entity_fields("Invoices")["paymentterm"].label_for(1) == "Net 30"
    assert client.entity_fields("invoices")["duedate"].is_queryable is False
    assert len(recorder.api_calls()) == 2


def test_call_log_never_carries_the_secret() -> None:
    calls: list[Any] = []
    recorder = Recorder(lambda request: error("validation"))
    client = recorder.client(log_hook=calls.append, detailed_logging=True)
    with pytest.raises(ConnectorError):
        client.update("Invoices", 1, {"invoiceNumber": "X"})
    assert calls and all("s3cret-value" not in repr(call) for call in calls)


def test_iterating_holds_one_page_at_a_time() -> None:
    """Ten pages made on the fly: at any row, at most the current page's response is alive."""
    sent: list[weakref.ref[httpx.Response]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.lower().endswith("/zoneinformation"):
            return httpx.Response(200, json=fixture("zone_information.json"))
        after = int(request.url.params.get("after", "0"))
        ids = range(after + 1, min(after + 100, 1000) + 1)
        next_url = f"{ZONE}V1.0/Companies/query/next?after={ids[-1]}" if ids[-1] < 1000 else None
        response = httpx.Response(
            200,
            json={"items": [{"id": n} for n in ids], "pageDetails": {"nextPageUrl": next_url}},
        )
        sent.append(weakref.ref(response))
        return response

    # Not a Recorder: it would keep every request.
    client = AutotaskClient(
        CREDENTIALS, zone_lookup_url=LOOKUP, transport=httpx.MockTransport(handler)
    )
    most_alive = 0
    for count, _row in enumerate(client.query("Companies", [f.every_row()], page_size=100), 1):
        if count % 50 == 0:
            gc.collect()  # httpx keeps each response in a reference cycle until a collection
            most_alive = max(most_alive, sum(1 for ref in sent if ref() is not None))
    assert count == 1000 and len(sent) == 10
    assert most_alive <= 1
