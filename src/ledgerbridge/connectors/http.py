"""The one HTTP transport every connector uses: timeouts, retries, classification, budgets, logs.

Rules it keeps for every vendor:

- Explicit timeouts on every phase (connect, read, write, pool); no call waits for ever.
- Idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, or any request marked `idempotent=True`)
  are retried on 429, 5xx and connection failures, waiting what `Retry-After` says (seconds or
  an HTTP date) or a capped, jittered exponential back-off. Waiting goes through `sleep`, so
  tests pass one that records or moves the clock.
- A write that is not idempotent (POST, PATCH) is retried only when the vendor surely did not act
  on it: a 429, or a connection that never opened. After a timeout, a dropped connection or a
  5xx the write may have happened, so it raises `ConnectorError(kind="uncertain")` and the caller
  looks the record up instead of sending it again.
- Refusals are classified: 401 auth, 403 permission, 404 not_found, other 4xx validation. A
  vendor-specific `classify` hook may decide first (Autotask reports validation as HTTP 500).
- With a `budget` name every attempt holds a `core.ratebudget` slot and reports the response's
  limit headers to it, so all workers together stay inside the vendor's limits.
- Every attempt is reported to `log_hook` as an `ApiCall`: method, path, status, duration; the
  bodies only when `detailed_logging` is on, with secrets masked. Headers carrying credentials
  are never passed on.
"""

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import urlencode

import httpx

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.core import clock
from ledgerbridge.core.logs import REDACTED, is_secret_key, redact, redact_text

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

# Failures before any byte of the request left: the vendor cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# Header names never passed to the log hook, beyond what `is_secret_key` already catches.
_CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "secret",
        "clientid",
        "apiintegrationcode",
        "username",
        "impersonationresourceid",
    }
)

# Bodies passed to the log hook are cut to this many characters.
_LOGGED_BODY_LIMIT = 10_000
_DETAIL_LIMIT = 2_000


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed per phase of one attempt."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try again.

    Back-off before attempt n+1 is `base_delay * 2**(n-1)`, capped at `max_delay`, with "equal
    jitter" (half fixed, half random) so many workers do not retry in step. A `Retry-After`
    longer than `max_retry_after` is not waited out here: the call fails as `rate_limited` with
    `retry_at` set, and the rate budget keeps other calls away until then.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class ApiCall:
    """One attempt at one request, as the API call log sees it."""

    vendor: str
    method: str
    path: str
    status: int | None  # None when no response arrived
    duration_ms: float
    attempt: int
    outcome: str  # "ok", "retrying", or the ErrorKind of the failure
    query: str = ""
    request_body: str | None = None  # only with detailed logging, secrets masked
    response_body: str | None = None
    response_headers: Mapping[str, str] | None = None


type LogHook = Callable[[ApiCall], None]
type Classifier = Callable[[httpx.Response], ConnectorError | None]


def decode_json(content: bytes | str) -> Any:
    """A JSON body with fractional numbers as exact Decimals (money never becomes a float)."""
    return json.loads(content, parse_float=Decimal)


def encode_json(body: Any) -> bytes:
    """A request body as JSON. Decimals keep their exact digits (`214.10`), never via a float."""
    return "".join(_json_parts(body)).encode()


def _json_parts(value: Any) -> Iterator[str]:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} as a JSON number")
        yield format(value, "f")
    elif isinstance(value, Mapping):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            if index:
                yield ","
            yield json.dumps(str(key))
            yield ":"
            yield from _json_parts(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _json_parts(item)
        yield "]"
    elif isinstance(value, datetime | date):
        yield json.dumps(value.isoformat())
    elif isinstance(value, float):
        raise TypeError("money and quantities travel as Decimal, never float")
    else:
        yield json.dumps(value)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` value asks for (a delay, or an HTTP date); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return max((moment - now).total_seconds(), 0.0)


def stream_pages[C, T](first: C, fetch: Callable[[C], tuple[Iterable[T], C | None]]) -> Iterator[T]:
    """Yield every record of every page, holding one page at a time.

    `fetch(cursor)` returns one page's records and the next cursor (None after the last page).
    Nothing is fetched until the first record is asked for, and the next page only once the
    previous page's records were all taken.
    """
    cursor: C | None = first
    while cursor is not None:
        records, cursor = fetch(cursor)
        yield from records
        # Let the page go before the next request so two never live at once.
        del records


class VendorTransport:
    """Synchronous HTTP to one vendor API with the rules in the module docstring.

    `base_url` may change after discovery (ConnectWise codebase, Autotask zone); set the
    attribute. `secrets` are values (keys, passwords) scrubbed from anything logged.
    """

    def __init__(
        self,
        *,
        vendor: str,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        budget: str | None = None,
        budget_max_wait: timedelta = timedelta(minutes=5),
        log_hook: LogHook | None = None,
        detailed_logging: bool = False,
        classify: Classifier | None = None,
        secrets: Sequence[str] = (),
        sleep: Callable[[float], object] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.vendor = vendor
        self.retry = retry or RetryPolicy()
        self.budget = budget
        self.budget_max_wait = budget_max_wait
        self.log_hook = log_hook
        self.detailed_logging = detailed_logging
        self.classify = classify
        self._secrets = tuple(s for s in secrets if s)
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter, not security
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=(timeouts or Timeouts()).as_httpx(),
            transport=transport,
            follow_redirects=False,
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._client.base_url = httpx.URL(value)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request (retrying where safe); a 2xx/3xx response or a `ConnectorError`.

        The body is `json` (Decimal-exact JSON) or `form` (`application/x-www-form-urlencoded`,
        as OAuth token endpoints take it)."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if json is not None and form is not None:
            raise ValueError("send a JSON body or a form, not both")
        request_headers = dict(headers or {})
        content: bytes | None = None
        if json is not None:
            content = encode_json(json)
            request_headers.setdefault("Content-Type", "application/json")
        elif form is not None:
            content = urlencode({str(k): str(v) for k, v in form.items()}).encode()
            request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= self.retry.max_attempts
            started = time.perf_counter()
            request = self._client.build_request(
                method, url, params=params, content=content, headers=request_headers
            )
            response: httpx.Response | None = None
            try:
                with self._budget_slot():
                    try:
                        response = self._client.send(request)
                        response.read()
                        # httpx's bound stream points back at its response: a cycle that would
                        # keep each page's body alive until the garbage collector runs. The body
                        # is read, so the stream is done with; dropping it frees pages at once.
                        response.stream = httpx.ByteStream(b"")
                    finally:
                        if response is not None and self.budget:
                            self._note_response(response)
            except httpx.TransportError as error:
                duration = _ms(started)
                failure = self._transport_failure(error, request, idempotent)
                if failure is None and not last:
                    self._log(request, None, duration, attempt, "retrying", error=error)
                    self._sleep(self.retry.backoff(attempt, self._rng))
                    continue
                if failure is None:
                    failure = self._gave_up_on_transport(error, request)
                self._log(request, None, duration, attempt, failure.kind.value, error=error)
                raise failure from error

            duration = _ms(started)
            if response.is_success or response.is_redirect:
                self._log(request, response, duration, attempt, "ok")
                return response
            failure, wait = self._response_failure(response, request, idempotent, attempt)
            if failure is None:
                self._log(request, response, duration, attempt, "retrying")
                self._sleep(wait)
                continue
            self._log(request, response, duration, attempt, failure.kind.value)
            raise failure

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        return self.request("GET", url, params=params, headers=headers)

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self.decode(self.get(url, params=params, headers=headers))

    def decode(self, response: httpx.Response) -> Any:
        """The response body as JSON (Decimals for fractions), or a transient error if garbled."""
        if not response.content:
            return None
        try:
            return decode_json(response.content)
        except ValueError as error:
            raise ConnectorError(
                ErrorKind.TRANSIENT,
                f"{self.vendor} sent an answer LedgerBridge could not read "
                f"({response.request.method} {response.request.url.path}).",
                hint="This is usually a passing fault; the next run tries again.",
                status=response.status_code,
                vendor_detail=self._scrub(response.text[:_DETAIL_LIMIT]),
            ) from error

    # -- classification --------------------------------------------------------------------

    def _transport_failure(
        self, error: httpx.TransportError, request: httpx.Request, idempotent: bool
    ) -> ConnectorError | None:
        """None when trying again is safe; otherwise the error to raise now."""
        if idempotent or isinstance(error, _NOT_SENT):
            return None
        return ConnectorError(
            ErrorKind.UNCERTAIN,
            f"The connection to {self.vendor} broke before it confirmed "
            f"{request.method} {request.url.path}; it may or may not have been saved.",
            hint="LedgerBridge looks the record up before trying again, so nothing is "
            "recorded twice.",
            vendor_detail=f"{type(error).__name__}: {self._scrub(str(error))}",
        )

    def _gave_up_on_transport(
        self, error: httpx.TransportError, request: httpx.Request
    ) -> ConnectorError:
        host = request.url.host
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            message = f"LedgerBridge could not reach {self.vendor} at {host}."
            hint = "Check the site address; if it is right, the service may be down."
        elif isinstance(error, httpx.TimeoutException):
            message = f"{self.vendor} at {host} did not answer in time."
            hint = "This is usually a passing fault; the next run tries again."
        else:
            message = f"The connection to {self.vendor} at {host} broke."
            hint = "This is usually a passing fault; the next run tries again."
        return ConnectorError(
            ErrorKind.TRANSIENT,
            message,
            hint=hint,
            vendor_detail=f"{type(error).__name__}: {self._scrub(str(error))}",
        )

    def _response_failure(
        self, response: httpx.Response, request: httpx.Request, idempotent: bool, attempt: int
    ) -> tuple[ConnectorError | None, float]:
        """(None, seconds to wait) to retry, or (the error to raise, 0)."""
        status = response.status_code
        last = attempt >= self.retry.max_attempts
        if self.classify is not None:
            decided = self.classify(response)
            if decided is not None:
                return decided, 0.0
        detail = self._scrub(response.text[:_DETAIL_LIMIT])
        where = f"{request.method} {request.url.path}"
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"), clock.now())
            retry_at = clock.now() + timedelta(seconds=wait) if wait is not None else None
            too_long = wait is not None and wait > self.retry.max_retry_after
            if not last and not too_long:
                return None, wait if wait is not None else self.retry.backoff(attempt, self._rng)
            return (
                ConnectorError(
                    ErrorKind.RATE_LIMITED,
                    f"{self.vendor} is refusing calls as over its limit.",
                    hint="LedgerBridge waits and tries again later; nothing needs doing "
                    "unless this keeps happening.",
                    status=status,
                    vendor_detail=detail,
                    retry_at=retry_at,
                ),
                0.0,
            )
        if status >= 500 or status == 408:
            if not idempotent:
                return (
                    ConnectorError(
                        ErrorKind.UNCERTAIN,
                        f"{self.vendor} failed while handling {where} (HTTP {status}); "
                        "it may or may not have been saved.",
                        hint="LedgerBridge looks the record up before trying again, so "
                        "nothing is recorded twice.",
                        status=status,
                        vendor_detail=detail,
                    ),
                    0.0,
                )
            if not last:
                wait = retry_after_seconds(response.headers.get("Retry-After"), clock.now())
                if wait is not None and wait <= self.retry.max_retry_after:
                    return None, wait
                return None, self.retry.backoff(attempt, self._rng)
            return (
                ConnectorError(
                    ErrorKind.TRANSIENT,
                    f"{self.vendor} failed while handling {where} (HTTP {status}).",
                    hint="This is usually a passing fault at the vendor; the next run tries again.",
                    status=status,
                    vendor_detail=detail,
                ),
                0.0,
            )
        return self.client_error(response, where, detail), 0.0

    def client_error(self, response: httpx.Response, where: str, detail: str) -> ConnectorError:
        """The default classification of a 4xx refusal."""
        status = response.status_code
        if status == 401:
            return ConnectorError(
                ErrorKind.AUTH,
                f"{self.vendor} did not accept the saved credentials.",
                hint=f"Check the API keys for {self.vendor} under Company → Connections.",
                status=status,
                vendor_detail=detail,
            )
        if status == 403:
            return ConnectorError(
                ErrorKind.PERMISSION,
                f"{self.vendor} refused {where}: the API user lacks a permission.",
                hint=f"Give the API user in {self.vendor} the rights LedgerBridge needs.",
                status=status,
                vendor_detail=detail,
            )
        if status == 404:
            return ConnectorError(
                ErrorKind.NOT_FOUND,
                f"{self.vendor} has no record at {where}.",
                hint="It may have been deleted in the PSA.",
                status=status,
                vendor_detail=detail,
            )
        return ConnectorError(
            ErrorKind.VALIDATION,
            f"{self.vendor} refused {where} (HTTP {status}).",
            hint="The vendor's message below says what it objected to.",
            status=status,
            vendor_detail=detail,
        )

    # -- budget and logging ----------------------------------------------------------------

    def _budget_slot(self) -> AbstractContextManager[object]:
        if not self.budget:
            return nullcontext()
        return _BudgetSlot(self.budget, self.vendor, self.budget_max_wait, self._sleep)

    def _note_response(self, response: httpx.Response) -> None:
        from ledgerbridge.core import ratebudget

        assert self.budget
        ratebudget.note_response(self.budget, response.status_code, response.headers)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact_text(text)

    def _log(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        duration_ms: float,
        attempt: int,
        outcome: str,
        *,
        error: Exception | None = None,
    ) -> None:
        if self.log_hook is None:
            return
        call = ApiCall(
            vendor=self.vendor,
            method=request.method,
            path=request.url.path,
            status=response.status_code if response is not None else None,
            duration_ms=duration_ms,
            attempt=attempt,
            outcome=outcome,
        )
        if self.detailed_logging:
            call = ApiCall(
                **{
                    **vars(call),
                    "query": self._scrub(request.url.query.decode()),
                    "request_body": self._loggable_body(request.content),
                    "response_body": (
                        self._loggable_body(response.content)
                        if response is not None
                        else f"{type(error).__name__}: {error}"
                        if error
                        else None
                    ),
                    "response_headers": (
                        self._loggable_headers(response.headers) if response is not None else None
                    ),
                }
            )
        self.log_hook(call)

    def _loggable_body(self, content: bytes) -> str | None:
        if not content:
            return None
        text = content[:_LOGGED_BODY_LIMIT].decode(errors="replace")
        with suppress(ValueError):  # not JSON: the text is scrubbed as it is
            text = json.dumps(redact(decode_json(content)), default=str)[:_LOGGED_BODY_LIMIT]
        return self._scrub(text)

    def _loggable_headers(self, headers: httpx.Headers) -> dict[str, str]:
        return {
            name: REDACTED
            if name.lower() in _CREDENTIAL_HEADERS or is_secret_key(name)
            else self._scrub(value)
            for name, value in headers.items()
        }


class _BudgetSlot(AbstractContextManager[object]):
    """Holds a `core.ratebudget` slot; a budget that cannot start a call becomes rate_limited."""

    def __init__(
        self, name: str, vendor: str, max_wait: timedelta, sleep: Callable[[float], object]
    ) -> None:
        self._name, self._vendor, self._max_wait, self._sleep = name, vendor, max_wait, sleep
        self._inner: AbstractContextManager[object] | None = None

    def __enter__(self) -> object:
        from ledgerbridge.core import ratebudget

        self._inner = ratebudget.call(self._name, max_wait=self._max_wait, sleep=self._sleep)
        try:
            return self._inner.__enter__()
        except ratebudget.RateLimitError as error:
            self._inner = None
            raise ConnectorError(
                ErrorKind.RATE_LIMITED,
                f"{error} ({self._vendor}).",
                hint="LedgerBridge waits and tries again then; nothing needs doing.",
                retry_at=error.resumes_at,
            ) from error

    def __exit__(self, *exc: Any) -> bool | None:
        if self._inner is None:
            return None
        return self._inner.__exit__(*exc)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
