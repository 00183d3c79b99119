import copy
import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from logging.config import DictConfigurator
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from ledgerbridge import urls as project_urls
from ledgerbridge.core.logs import (
    REDACTED,
    JsonFormatter,
    RedactSecretsFilter,
    RequestIdFilter,
    redact_text,
    request_id_var,
)

view_logger = logging.getLogger("tests.core.test_logs.view")


def _logs_something(request: HttpRequest) -> HttpResponse:
    view_logger.info("working on it", extra={"company_id": 7})
    return HttpResponse("done")


def _password_reset_key(request: HttpRequest, key: str) -> HttpResponse:
    return HttpResponse("ok")


# The project's URLs plus two test-only views; used via pytest.mark.urls(__name__).
urlpatterns = [
    path("test-only/logs/", _logs_something),
    path("test-only/reset/<str:key>/", _password_reset_key),
    *project_urls.urlpatterns,
]


class ListHandler(logging.Handler):
    """Keeps records after the handler's own filters ran, like the console handler does."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[ListHandler]:
    handler = ListHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def _record(msg: str, *args: object, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("ledgerbridge.sync", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


# --- JSON formatter --------------------------------------------------------------------------


def test_json_lines_carry_time_level_logger_message_request_id_and_extras() -> None:
    record = _record("posted %d invoices", 3, company_id=7, run="r-1")
    record.request_id = "abc123"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning"
    assert entry["logger"] == "ledgerbridge.sync"
    assert entry["message"] == "posted 3 invoices"
    assert entry["request_id"] == "abc123"
    assert entry["company_id"] == 7
    assert entry["run"] == "r-1"
    assert entry["time"].endswith("+00:00")
    for standard in ("args", "msg", "levelno", "pathname", "exc_info"):
        assert standard not in entry


def test_json_formatter_outside_a_request_uses_the_placeholder_id() -> None:
    entry = json.loads(JsonFormatter().format(_record("tick")))
    assert entry["request_id"] == "-"


def test_json_formatter_includes_the_traceback_and_survives_odd_extras() -> None:
    try:
        raise ValueError("bad row")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.when = object()
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad row" in entry["exception"]
    assert entry["when"].startswith("<object")


def test_json_formatter_describes_a_request_without_its_query_string(rf: Any) -> None:
    request = rf.get("/accounts/login/", {"token": "abc"})
    entry = json.loads(JsonFormatter().format(_record("Not Found", request=request)))
    assert entry["request"] == "GET /accounts/login/"


# --- request id ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client: Client) -> None:
    first = client.get("/accounts/login/")["X-Request-ID"]
    second = client.get("/accounts/login/")["X-Request-ID"]
    assert len(first) == 32
    assert first != second


@pytest.mark.django_db
def test_a_sane_incoming_request_id_is_echoed(client: Client) -> None:
    response = client.get("/accounts/login/", headers={"X-Request-ID": "lb-4f2a.9_Z"})
    assert response["X-Request-ID"] == "lb-4f2a.9_Z"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "unsafe",
    ["x" * 65, "has space", "line\nbreak", "tab\there", 'quote"d', "é-unicode", "<script>"],
)
def test_an_unsafe_incoming_request_id_is_replaced(client: Client, unsafe: str) -> None:
    response = client.get("/accounts/login/", headers={"X-Request-ID": unsafe})
    assert response["X-Request-ID"] != unsafe
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_logs_inside_a_request_carry_its_id(client: Client, captured: ListHandler) -> None:
    response = client.get("/test-only/logs/", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    [line] = [r for r in captured.records if r.name == view_logger.name]
    assert line.request_id == "req-42"  # type: ignore[attr-defined]
    assert line.company_id == 7  # type: ignore[attr-defined]
    # And the id does not leak into whatever is logged after the request.
    assert request_id_var.get() == "-"


# --- request log -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_request_is_logged_once_without_its_query_string(
    client: Client, captured: ListHandler
) -> None:
    client.get("/accounts/login/?next=/&token=sekrit", headers={"X-Request-ID": "req-7"})
    [line] = [r for r in captured.records if r.name == "ledgerbridge.request"]
    assert line.levelno == logging.INFO
    assert line.method == "GET"  # type: ignore[attr-defined]
    assert line.path == "/accounts/login/"  # type: ignore[attr-defined]
    assert line.status == 200  # type: ignore[attr-defined]
    assert isinstance(line.duration_ms, float)  # type: ignore[attr-defined]
    assert line.request_id == "req-7"  # type: ignore[attr-defined]
    assert "sekrit" not in line.getMessage()
    assert "?" not in line.getMessage()


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_key_parts_of_a_url_are_masked_in_the_request_log(
    client: Client, captured: ListHandler
) -> None:
    client.get("/test-only/reset/4-reset-key-abc/")
    [line] = [r for r in captured.records if r.name == "ledgerbridge.request"]
    assert line.path == f"/test-only/reset/{REDACTED}/"  # type: ignore[attr-defined]
    assert "reset-key-abc" not in line.getMessage()


# --- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login failed password=hunter2 for alice", "hunter2"),
        ("POST /token?client_id=a&client_secret=s3cr3t&x=1", "s3cr3t"),
        ('xero answered {"access_token": "eyJhbGciOi", "expires_in": 1800}', "eyJhbGciOi"),
        ("{'refresh_token': 'rt-123', 'scope': 'x'}", "rt-123"),
        ("headers: Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("X-Api-Key=k-999 sent", "k-999"),
        ("api_key: plain-key", "plain-key"),
        ('escaped {"secret": "with \\"quote\\" inside"}', "inside"),
        ("DB_PASSWORD = 'pw with spaces'", "pw with spaces"),
    ],
)
def test_secret_values_in_messages_are_masked(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_redaction_keeps_the_rest_of_the_message() -> None:
    assert redact_text("posted 3 invoices for company=7 status=ok") == (
        "posted 3 invoices for company=7 status=ok"
    )
    assert redact_text('{"access_token": "x", "expires_in": 1800}') == (
        f'{{"access_token": "{REDACTED}", "expires_in": 1800}}'
    )


def test_redaction_stays_fast_on_huge_messages() -> None:
    # A pathological pattern would make a single log call with a big payload hang the worker.
    blob = "tokenA" * 200_000 + " password=x " + "a-b_" * 200_000
    started = time.perf_counter()
    redacted = redact_text(blob)
    assert time.perf_counter() - started < 2
    assert f"password={REDACTED}" in redacted


def test_the_filter_masks_extras_nested_values_and_formatted_args() -> None:
    record = _record(
        "token refreshed for %s: %s",
        "xero",
        {"refresh_token": "rt-1", "tenant": "t-1"},
        password="hunter2",
        response={"access_token": "at-1", "items": [{"client_secret": "cs-1", "id": 3}]},
        url="https://x.example/cb?code=1&token=tk-1",
        company_id=7,
    )
    assert RedactSecretsFilter().filter(record) is True
    entry = json.loads(JsonFormatter().format(record))
    text = json.dumps(entry)
    for secret in ("hunter2", "rt-1", "at-1", "cs-1", "tk-1"):
        assert secret not in text, secret
    assert entry["password"] == REDACTED
    assert entry["response"]["items"][0]["id"] == 3
    assert entry["company_id"] == 7
    assert "t-1" in entry["message"]


def test_the_filter_masks_secrets_in_exception_text() -> None:
    try:
        raise RuntimeError("401 from https://login.example/token?refresh_token=rt-9")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RedactSecretsFilter().filter(record)
    for formatter in (JsonFormatter(), logging.Formatter()):
        text = formatter.format(record)
        assert "rt-9" not in text
        assert "RuntimeError: 401 from" in text


def test_the_filter_leaves_clean_records_untouched() -> None:
    record = _record("posted %d invoices", 3)
    RedactSecretsFilter().filter(record)
    assert (record.msg, record.args) == ("posted %d invoices", (3,))


def test_logging_settings_wire_redaction_into_the_console_output() -> None:
    # Build the console handler's filters and formatter exactly as settings.LOGGING names them,
    # without reconfiguring the process's logging (that would close pytest's own handlers).
    config = copy.deepcopy(settings.LOGGING)
    configurator = DictConfigurator(config)
    console = config["handlers"]["console"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(config["formatters"]["json"]))
    for name in console["filters"]:
        handler.addFilter(configurator.configure_filter(config["filters"][name]))
    logger = logging.getLogger("tests.core.test_logs.wiring")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connected with api_key=abc-123", extra={"password": "hunter2"})
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["message"] == f"connected with api_key={REDACTED}"
    assert entry["password"] == REDACTED
    assert entry["request_id"] == "-"


@pytest.mark.django_db
def test_a_token_that_spells_a_word_masks_only_its_own_segment(
    client: Client, captured: ListHandler
) -> None:
    # Django's set-password view swaps the real token for the word "set" after the first step.
    client.get("/account/set-password/MQ/set/")
    [line] = [r for r in captured.records if r.name == "ledgerbridge.request"]
    assert line.path == f"/account/set-password/MQ/{REDACTED}/"  # type: ignore[attr-defined]
