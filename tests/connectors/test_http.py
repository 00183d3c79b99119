"""The shared vendor transport: retries, back-off, classification, budgets and the call log."""

import gc
import json
import random
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import (
    ApiCall,
    RetryPolicy,
    Timeouts,
    VendorTransport,
    decode_json,
    encode_json,
    retry_after_seconds,
    stream_pages,
)
from ledgerbridge.core import clock, ratebudget
from ledgerbridge.core.models import RateBudget

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

type Handler = Callable[[httpx.Request], httpx.Response]


class FakeSleep:
    """Records the waits and moves the frozen clock by them; never really sleeps."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        clock.advance(timedelta(seconds=seconds))


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.set_now(T0)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


class Script:
    """A MockTransport handler answering from a list, one entry per request, and counting them."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


def make(
    script: Script,
    sleep: FakeSleep,
    *,
    log: list[ApiCall] | None = None,
    **options: object,
) -> VendorTransport:
    return VendorTransport(
        vendor="ConnectWise",
        base_url="https://api-na.example.test/v4_6_release/apis/3.0/",
        sleep=sleep,
        rng=random.Random(4),
        transport=httpx.MockTransport(script),
        log_hook=log.append if log is not None else None,
        **options,  # type: ignore[arg-type]
    )


def ok(body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True}, headers=headers)


# Retries of idempotent requests


def test_get_is_retried_on_5xx_with_capped_jittered_backoff(sleep: FakeSleep) -> None:
    script = Script(*[httpx.Response(503)] * 4, ok())
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=3.0)
    response = make(script, sleep, retry=policy).get("system/info")
    assert response.status_code == 200
    assert len(script.requests) == 5
    assert len(sleep.calls) == 4
    # Ceilings 1, 2, 3 (capped), 3; equal jitter keeps each wait within [ceiling/2, ceiling].
    for wait, ceiling in zip(sleep.calls, [1.0, 2.0, 3.0, 3.0], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_retry_after_in_seconds_is_honoured(sleep: FakeSleep) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    make(script, sleep).get("company/companies")
    assert sleep.calls == [7.0]


def test_retry_after_as_an_http_date_is_honoured(sleep: FakeSleep) -> None:
    when = format_datetime(T0 + timedelta(seconds=42), usegmt=True)
    script = Script(httpx.Response(503, headers={"Retry-After": when}), ok())
    make(script, sleep).get("company/companies")
    assert sleep.calls == [42.0]


def test_retry_after_longer_than_the_policy_allows_is_not_waited_out(sleep: FakeSleep) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep, retry=RetryPolicy(max_retry_after=60)).get("company/companies")
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_at == T0 + timedelta(hours=1)
    assert sleep.calls == []
    assert len(script.requests) == 1


def test_a_429_storm_longer_than_the_attempts_becomes_rate_limited(sleep: FakeSleep) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "2"}))
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep, retry=RetryPolicy(max_attempts=3)).get("company/companies")
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.status == 429
    assert len(script.requests) == 3
    assert sleep.calls == [2.0, 2.0]


def test_connection_errors_on_get_are_retried_then_reported_as_transient(
    sleep: FakeSleep,
) -> None:
    script = Script(httpx.ConnectError("Name or service not known"))
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep, retry=RetryPolicy(max_attempts=3)).get("system/info")
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "could not reach ConnectWise at api-na.example.test" in caught.value.message
    assert len(script.requests) == 3


def test_read_timeout_on_get_is_retried(sleep: FakeSleep) -> None:
    script = Script(httpx.ReadTimeout("slow"), ok())
    assert make(script, sleep).get("system/info").status_code == 200
    assert len(script.requests) == 2


def test_put_and_delete_are_retried_as_idempotent(sleep: FakeSleep) -> None:
    for method in ("PUT", "DELETE"):
        script = Script(httpx.Response(500), ok())
        make(script, sleep).request(method, "finance/invoices/1", json={"id": 1})
        assert len(script.requests) == 2


# Non-idempotent writes are never blindly re-sent


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"code": "ConnectWiseApi", "message": "A timeout has occured."}),
        httpx.Response(502),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("peer closed connection without sending complete body"),
        httpx.WriteTimeout("stalled"),
    ],
    ids=["500", "502", "read-timeout", "dropped", "write-timeout"],
)
def test_post_failing_after_it_was_sent_is_uncertain_and_not_resent(
    sleep: FakeSleep, failure: httpx.Response | Exception
) -> None:
    script = Script(failure, ok())
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep).request("POST", "finance/accounting/batches", json={"a": 1})
    assert caught.value.kind is ErrorKind.UNCERTAIN
    assert "may or may not have been saved" in caught.value.message
    assert "looks the record up" in caught.value.hint
    assert len(script.requests) == 1
    assert sleep.calls == []


def test_patch_is_not_idempotent_either(sleep: FakeSleep) -> None:
    script = Script(httpx.Response(503), ok())
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep).request("PATCH", "finance/invoices/1", json=[])
    assert caught.value.kind is ErrorKind.UNCERTAIN
    assert len(script.requests) == 1


def test_post_is_retried_when_the_connection_never_opened(sleep: FakeSleep) -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(201, json={"id": 9}))
    response = make(script, sleep).request("POST", "finance/invoices/1/payments", json={})
    assert response.status_code == 201
    assert len(script.requests) == 2


def test_post_is_retried_on_429_because_the_vendor_did_not_act(sleep: FakeSleep) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(201))
    make(script, sleep).request("POST", "finance/accounting/batches", json={})
    assert len(script.requests) == 2
    assert sleep.calls == [3.0]


def test_post_marked_idempotent_is_retried(sleep: FakeSleep) -> None:
    # A query sent as POST (Autotask) changes nothing, so it may be sent again.
    script = Script(httpx.Response(500), ok())
    make(script, sleep).request("POST", "Companies/query", json={}, idempotent=True)
    assert len(script.requests) == 2


# Classification


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.VALIDATION),
        (401, ErrorKind.AUTH),
        (403, ErrorKind.PERMISSION),
        (404, ErrorKind.NOT_FOUND),
        (405, ErrorKind.VALIDATION),
        (409, ErrorKind.VALIDATION),
        (422, ErrorKind.VALIDATION),
        (500, ErrorKind.TRANSIENT),
        (503, ErrorKind.TRANSIENT),
        (429, ErrorKind.RATE_LIMITED),
    ],
)
def test_failures_are_classified(sleep: FakeSleep, status: int, kind: ErrorKind) -> None:
    body = {"code": "InvalidObject", "message": "company object is invalid"}
    script = Script(httpx.Response(status, json=body))
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep, retry=RetryPolicy(max_attempts=2)).get("company/companies/1")
    error = caught.value
    assert error.kind is kind
    assert error.status == status
    assert "company object is invalid" in error.vendor_detail
    assert error.message and error.hint
    if kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
        assert len(script.requests) == 2
    else:
        assert len(script.requests) == 1  # refusals are not retried


def test_auth_and_permission_messages_speak_to_the_admin(sleep: FakeSleep) -> None:
    with pytest.raises(ConnectorError) as caught:
        make(Script(httpx.Response(401)), sleep).get("system/info")
    assert caught.value.message == "ConnectWise did not accept the saved credentials."
    with pytest.raises(ConnectorError) as caught:
        make(Script(httpx.Response(403)), sleep).get("finance/glaccounts")
    assert "lacks a permission" in caught.value.message
    assert "/finance/glaccounts" in caught.value.message


def test_a_classifier_hook_decides_first(sleep: FakeSleep) -> None:
    # Autotask reports a refused write as HTTP 500 with an errors list.
    def classify(response: httpx.Response) -> ConnectorError | None:
        if response.status_code == 500 and "errors" in response.json():
            return ConnectorError(ErrorKind.VALIDATION, response.json()["errors"][0])
        return None

    refused = httpx.Response(500, json={"errors": ["paidDate is not a valid date"]})
    script = Script(refused)
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep, classify=classify).request("PATCH", "Invoices", json={})
    assert caught.value.kind is ErrorKind.VALIDATION
    assert caught.value.message == "paidDate is not a valid date"
    # Not a validation body: the default rules (uncertain for a write) still apply.
    script = Script(httpx.Response(500, json={"message": "boom"}))
    with pytest.raises(ConnectorError) as caught:
        make(script, sleep, classify=classify).request("PATCH", "Invoices", json={})
    assert caught.value.kind is ErrorKind.UNCERTAIN


def test_a_garbled_success_body_is_a_transient_error(sleep: FakeSleep) -> None:
    transport = make(Script(httpx.Response(200, content=b"{not json")), sleep)
    with pytest.raises(ConnectorError) as caught:
        transport.get_json("system/info")
    assert caught.value.kind is ErrorKind.TRANSIENT


# Timeouts, JSON and money


def test_every_timeout_phase_is_set(sleep: FakeSleep) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok()

    timeouts = Timeouts(connect=3, read=20, write=15, pool=4)
    make(Script(handler), sleep, timeouts=timeouts).get("system/info")
    assert seen == [{"connect": 3, "read": 20, "write": 15, "pool": 4}]


def test_decimals_travel_with_every_digit_and_floats_are_refused() -> None:
    body = {"amount": Decimal("214.10"), "quantity": Decimal("1.2345678"), "ids": (1, 2)}
    assert encode_json(body) == b'{"amount":214.10,"quantity":1.2345678,"ids":[1,2]}'
    assert encode_json({"when": datetime(2024, 2, 15, tzinfo=UTC)}) == (
        b'{"when":"2024-02-15T00:00:00+00:00"}'
    )
    with pytest.raises(TypeError):
        encode_json({"amount": 214.1})
    decoded = decode_json(b'{"total": 214.10, "count": 3}')
    assert decoded == {"total": Decimal("214.10"), "count": 3}
    assert isinstance(decoded["total"], Decimal)


def test_json_body_sent_as_exact_decimal(sleep: FakeSleep) -> None:
    script = Script(httpx.Response(201, json={"id": 1}))
    make(script, sleep).request(
        "POST", "finance/invoices/1/payments", json={"amount": Decimal("0.10")}
    )
    request = script.requests[0]
    assert request.content == b'{"amount":0.10}'
    assert request.headers["content-type"] == "application/json"


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("12", T0) == 12.0
    assert retry_after_seconds(format_datetime(T0 + timedelta(minutes=2), usegmt=True), T0) == 120
    assert retry_after_seconds(format_datetime(T0 - timedelta(minutes=2), usegmt=True), T0) == 0
    assert retry_after_seconds("soon", T0) is None
    assert retry_after_seconds(None, T0) is None


# The API call log


def test_log_hook_gets_method_path_status_and_duration_but_no_bodies(sleep: FakeSleep) -> None:
    log: list[ApiCall] = []
    script = Script(httpx.Response(503), ok({"secret": "x"}))
    make(script, sleep, log=log).get("system/info", params={"conditions": 'name="x"'})
    assert [(c.method, c.path, c.status, c.attempt, c.outcome) for c in log] == [
        ("GET", "/v4_6_release/apis/3.0/system/info", 503, 1, "retrying"),
        ("GET", "/v4_6_release/apis/3.0/system/info", 200, 2, "ok"),
    ]
    assert all(c.duration_ms >= 0 and c.vendor == "ConnectWise" for c in log)
    assert all(c.request_body is None and c.response_body is None for c in log)
    assert all(c.response_headers is None and c.query == "" for c in log)


def test_detailed_log_masks_secrets_and_never_carries_credentials(sleep: FakeSleep) -> None:
    log: list[ApiCall] = []
    private_key = "pk-5ecret-Value"  # a value with no telltale key name around it
    answer = httpx.Response(
        200,
        json={"memberId": "api", "password": "hunter2", "note": f"key {private_key}"},
        headers={"Set-Cookie": "session=abc", "x-cw-request-id": "r1"},
    )
    transport = make(
        Script(answer),
        sleep,
        log=log,
        detailed_logging=True,
        secrets=[private_key],
        headers={"clientId": "0f1e-guid"},
        auth=("demo+public", private_key),
    )
    transport.request("POST", "system/members", json={"token": "t0ken", "name": "Jo"})
    call = log[0]
    text = json.dumps(vars(call), default=str)
    for leaked in ("hunter2", "t0ken", private_key, "session=abc", "0f1e-guid", "Basic"):
        assert leaked not in text
    assert '"name": "Jo"' in (call.request_body or "")
    assert '"memberId": "api"' in (call.response_body or "")
    assert call.response_headers is not None
    assert call.response_headers["set-cookie"] == "[redacted]"
    assert call.response_headers["x-cw-request-id"] == "r1"


def test_an_uncertain_write_is_logged_with_its_kind(sleep: FakeSleep) -> None:
    log: list[ApiCall] = []
    script = Script(httpx.ReadTimeout("no answer"))
    with pytest.raises(ConnectorError):
        make(script, sleep, log=log).request("POST", "finance/accounting/batches", json={})
    assert [(c.status, c.outcome) for c in log] == [(None, "uncertain")]


# Streaming pagination


def test_stream_pages_fetches_lazily_one_page_at_a_time() -> None:
    fetched: list[int] = []

    def fetch(page: int) -> tuple[list[int], int | None]:
        fetched.append(page)
        records = list(range((page - 1) * 3, min(page * 3, 7)))
        return records, page + 1 if page * 3 < 7 else None

    records: Iterator[int] = stream_pages(1, fetch)
    assert fetched == []
    assert [next(records) for _ in range(3)] == [0, 1, 2]
    assert fetched == [1]
    assert next(records) == 3
    assert fetched == [1, 2]
    assert list(records) == [4, 5, 6]
    assert fetched == [1, 2, 3]


def test_a_read_response_is_freed_without_waiting_for_the_garbage_collector(
    sleep: FakeSleep,
) -> None:
    # Otherwise every page of a long list lingers until a collection: memory grows with it.
    response = make(Script(ok({"page": "x" * 1000})), sleep).get("company/companies")
    freed = weakref.ref(response)
    gc.disable()
    try:
        del response
        assert freed() is None
    finally:
        gc.enable()


def test_stream_pages_of_nothing() -> None:
    assert list(stream_pages(1, lambda page: ([], None))) == []


# The rate budget


def _budget(**limits: object) -> str:
    name = "connectwise:test"
    defaults: dict[str, object] = {
        "label": "ConnectWise",
        "calls_per_window": 100,
        "window": timedelta(minutes=1),
        "max_concurrent": 2,
    }
    ratebudget.configure(name, **{**defaults, **limits})  # type: ignore[arg-type]
    return name


@pytest.mark.django_db
def test_every_call_takes_a_budget_slot_and_waits_for_the_window(sleep: FakeSleep) -> None:
    name = _budget(calls_per_window=2)
    script = Script(ok())
    transport = make(script, sleep, budget=name)
    for _ in range(3):
        transport.get("system/info")
    assert len(script.requests) == 3
    # The third call waited (through the injected sleep) for a window slot to free.
    assert sum(sleep.calls) >= 59


@pytest.mark.django_db
def test_a_429_blocks_the_budget_for_every_worker_until_retry_after(sleep: FakeSleep) -> None:
    name = _budget()
    script = Script(httpx.Response(429, headers={"Retry-After": "30"}), ok())
    make(script, sleep, budget=name).get("company/companies")
    budget = RateBudget.objects.get(name=name)
    assert budget.blocked_until == T0 + timedelta(seconds=30)
    assert "Retry-After: 30" in budget.blocked_reason
    assert len(script.requests) == 2
    assert clock.now() >= T0 + timedelta(seconds=30)


@pytest.mark.django_db
def test_a_budget_that_cannot_start_in_time_is_rate_limited(sleep: FakeSleep) -> None:
    name = _budget()
    ratebudget.note_response(name, 429, {"Retry-After": "3600"})
    script = Script(ok())
    transport = make(script, sleep, budget=name, budget_max_wait=timedelta(minutes=1))
    with pytest.raises(ConnectorError) as caught:
        transport.get("system/info")
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_at == T0 + timedelta(hours=1)
    assert script.requests == []


def test_a_form_body_is_sent_url_encoded() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with VendorTransport(vendor="Test", transport=httpx.MockTransport(handler)) as http:
        http.request("POST", "http://vendor.test/token", form={"grant_type": "refresh_token"})
        with pytest.raises(ValueError, match="not both"):
            http.request("POST", "http://vendor.test/token", form={"a": "1"}, json={"b": 2})
    assert seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen[0].content == b"grant_type=refresh_token"
