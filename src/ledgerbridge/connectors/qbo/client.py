"""A thin client for the QuickBooks Online Accounting API (v3), on the shared `VendorTransport`.

How the service works, and what this client does about it:

- **Addresses.** Every call goes to `{api_url}company/{realmId}/…` (`api_url` is the `…/v3/`
  root: production, sandbox or the simulator) with `minorversion` (75: Intuit answers anything
  older as 75 anyway) and `Accept: application/json`.
- **Auth.** `Authorization: Bearer <access token>` from `AccessTokens`. A 401 (expired or
  revoked token) asks `tokens.refreshed(rejected)` for a newer one and repeats the call once.
- **Queries.** `GET query?query=SELECT * FROM … STARTPOSITION n MAXRESULTS 1000`; strings go in
  single quotes with `\\'` for a quote inside (`quote`). `query` streams one page at a time and
  stops at the first short page.
- **Writes** carry `requestid`, derived from the caller's key (a document key), so sending the
  same write again makes QuickBooks replay its first answer instead of acting twice. That makes
  a write safe to repeat after a dropped connection or a 5xx, so the transport does repeat it;
  if every attempt fails the outcome is `uncertain` (it may have happened) — never `transient`.
- **Faults** (`faults.py`) are classified by code: validation, rate_limited (3001), auth (401,
  both body casings), permission (403 / AuthorizationFault); a SystemFault 5xx is left to the
  transport (retried for reads, uncertain for writes).
- **Limits.** 500 requests a minute and 10 a second per company and app, and 40 batch calls a
  minute. `configure_rate_budget(name)` sets up two `core.ratebudget` budgets: `name` allows 8
  calls in any second (so never more than 10 a second nor 480 ≤ 500 in any minute) with 10 at
  once, and `name:batch` allows 40 batch calls in any minute; a batch call holds a slot in
  both. A 429 carries no `Retry-After` and Intuit asks clients to wait 60 s, so the client
  adds `Retry-After: 60` to such answers: the transport waits that out and the budget keeps
  every other worker away for the same minute.
"""

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any, Final

import httpx

from ledgerbridge.connectors.base import AccessTokens, ConnectorError, ErrorKind
from ledgerbridge.connectors.http import (
    LogHook,
    RetryPolicy,
    Timeouts,
    VendorTransport,
    stream_pages,
)
from ledgerbridge.connectors.qbo.faults import VENDOR, fault_to_error, is_throttle, parse_fault

PRODUCTION_API_URL: Final = "https://quickbooks.api.intuit.com/v3/"
SANDBOX_API_URL: Final = "https://sandbox-quickbooks.api.intuit.com/v3/"
MINOR_VERSION: Final = 75
MAX_RESULTS: Final = 1000  # the most one query page may return
BATCH_LIMIT: Final = 30  # payloads per batch call
REQUESTS_PER_SECOND: Final = 8  # under both 10/s and 500/min (8 x 60 = 480)
MAX_CONCURRENT: Final = 10
BATCH_CALLS_PER_MINUTE: Final = 40
THROTTLE_WAIT_SECONDS: Final = 60  # Intuit: wait 60 s after a 429
# A namespace for requestids, so the same key always gives the same id (36 characters,
# within the 36 Intuit allows on batch calls and the 50 on others).
_REQUEST_ID_NAMESPACE: Final = uuid.UUID("0b6f4bd2-8c59-4f5e-9a43-6c1b8f1c2e77")


def quote(value: str) -> str:
    """A string literal for the query language: single quotes, a quote inside escaped `\\'`."""
    return "'" + str(value).replace("'", "\\'") + "'"


def quote_list(values: Sequence[str]) -> str:
    """`('a', 'b')` for an IN condition."""
    return "(" + ", ".join(quote(v) for v in values) + ")"


def select(entity: str, *conditions: str, order_by: str = "", count: bool = False) -> str:
    """A query statement; conditions are joined with AND (the language has no OR).

    Values inside conditions must already be literals from `quote`/`quote_list`.
    """
    # Not SQL: QuickBooks' query language, and every value in it went through `quote`.
    statement = f"SELECT {'COUNT(*)' if count else '*'} FROM {entity}"  # noqa: S608
    if conditions:
        statement += " WHERE " + " AND ".join(conditions)
    if order_by:
        statement += f" ORDERBY {order_by}"
    return statement


def batch_budget_name(name: str) -> str:
    return f"{name}:batch"


def configure_rate_budget(name: str, *, label: str = VENDOR) -> None:
    """Create or update the budgets one QuickBooks connection (one company, one app) uses."""
    from ledgerbridge.core import ratebudget

    ratebudget.configure(
        name,
        label=label,
        calls_per_window=REQUESTS_PER_SECOND,
        window=timedelta(seconds=1),
        max_concurrent=MAX_CONCURRENT,
    )
    ratebudget.configure(
        batch_budget_name(name),
        label=f"{label} (batch calls)",
        calls_per_window=BATCH_CALLS_PER_MINUTE,
        window=timedelta(minutes=1),
        max_concurrent=MAX_CONCURRENT,
    )


def request_id(realm_id: str, key: str) -> str:
    """The `requestid` for a write: the same for the same company and key, always."""
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{realm_id}\n{key}"))


class _ThrottleAdvice(httpx.BaseTransport):
    """Adds Intuit's advised 60 s `Retry-After` to a 429 that came without one."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if response.status_code == 429 and "retry-after" not in response.headers:
            response.headers["Retry-After"] = str(THROTTLE_WAIT_SECONDS)
        return response

    def close(self) -> None:
        self._inner.close()


class QboClient:
    """One QuickBooks Online company (realm), as one connected app."""

    def __init__(
        self,
        *,
        api_url: str,
        realm_id: str,
        tokens: AccessTokens,
        minor_version: int = MINOR_VERSION,
        budget: str | None = None,
        log_hook: LogHook | None = None,
        detailed_logging: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        budget_max_wait: timedelta = timedelta(minutes=5),
    ) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.realm_id = str(realm_id)
        self.tokens = tokens
        self.minor_version = minor_version
        self.budget = budget
        self._sleep = sleep
        self._budget_max_wait = budget_max_wait
        self._http = VendorTransport(
            vendor=VENDOR,
            base_url=f"{self.api_url}company/{self.realm_id}/",
            headers={"Accept": "application/json"},
            timeouts=timeouts,
            retry=retry,
            budget=budget,
            budget_max_wait=budget_max_wait,
            log_hook=log_hook,
            detailed_logging=detailed_logging,
            classify=self.classify,
            sleep=sleep,
            transport=_ThrottleAdvice(transport or httpx.HTTPTransport()),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "QboClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        request_key: str | None = None,
    ) -> Any:
        """One API call in the company, decoded; refreshes the token once after a 401.

        With `request_key` the call is a replay-safe write (`requestid`); a write without one
        is never repeated after an unclear outcome.
        """
        query: dict[str, str | int] = {"minorversion": self.minor_version, **(params or {})}
        write = method.upper() not in ("GET", "HEAD")
        if request_key is not None:
            query["requestid"] = request_id(self.realm_id, request_key)
        idempotent = None if request_key is None else True
        token = self.tokens.current()
        try:
            try:
                response = self._send(method, path, query, json, token, idempotent)
            except ConnectorError as error:
                if error.kind != ErrorKind.AUTH or error.status != 401:
                    raise
                # An expired (or revoked) access token: a fresh one, and the same call once more.
                token = self.tokens.refreshed(token)
                response = self._send(method, path, query, json, token, idempotent)
        except ConnectorError as error:
            if write and request_key is not None and error.kind == ErrorKind.TRANSIENT:
                # Every attempt broke or failed at QuickBooks' end: one of them may have landed.
                raise ConnectorError(
                    ErrorKind.UNCERTAIN,
                    f"{VENDOR} did not confirm {method.upper()} {path}; it may or may not "
                    "have been saved.",
                    hint="LedgerBridge looks the record up before trying again, so nothing is "
                    "recorded twice.",
                    status=error.status,
                    vendor_detail=error.vendor_detail,
                ) from error
            raise
        return self._http.decode(response)

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int],
        json: Any,
        token: str,
        idempotent: bool | None,
    ) -> httpx.Response:
        return self._http.request(
            method,
            path,
            params=params,
            json=json,
            headers={"Authorization": f"Bearer {token}"},
            idempotent=idempotent,
        )

    def query_page(self, statement: str) -> list[dict[str, Any]]:
        """One query's records (the caller adds STARTPOSITION/MAXRESULTS if it pages)."""
        body = self.call("GET", "query", params={"query": statement})
        answer = body.get("QueryResponse") if isinstance(body, Mapping) else None
        if not isinstance(answer, Mapping):
            raise self._garbled("a query answer without QueryResponse")
        for value in answer.values():
            if isinstance(value, list):
                return [dict(record) for record in value if isinstance(record, Mapping)]
        return []

    def query(self, statement: str, *, page_size: int = MAX_RESULTS) -> Iterator[dict[str, Any]]:
        """Every record `statement` selects (no STARTPOSITION/MAXRESULTS in it), paged."""
        page_size = max(1, min(page_size, MAX_RESULTS))

        def fetch(start: int) -> tuple[list[dict[str, Any]], int | None]:
            records = self.query_page(f"{statement} STARTPOSITION {start} MAXRESULTS {page_size}")
            more = len(records) >= page_size
            return records, (start + page_size if more else None)

        return stream_pages(1, fetch)

    def count(self, entity: str, *conditions: str) -> int:
        statement = select(entity, *conditions, count=True)
        body = self.call("GET", "query", params={"query": statement})
        answer = body.get("QueryResponse") if isinstance(body, Mapping) else None
        total = answer.get("totalCount") if isinstance(answer, Mapping) else None
        if not isinstance(total, int):
            raise self._garbled("a count answer without totalCount")
        return total

    def read(self, entity: str, record_id: str) -> dict[str, Any] | None:
        """`GET {entity}/{id}`: the record, or None when QuickBooks has none."""
        try:
            body = self.call("GET", f"{entity.lower()}/{record_id}")
        except ConnectorError as error:
            if error.kind == ErrorKind.NOT_FOUND:
                return None
            raise
        return _entity(body, entity)

    def create(self, entity: str, fields: Mapping[str, Any], *, request_key: str) -> dict[str, Any]:
        """Create one record (replay-safe through `request_key`); the record as saved."""
        body = self.call("POST", entity.lower(), json=dict(fields), request_key=request_key)
        record = _entity(body, entity)
        if record is None:
            raise ConnectorError(
                ErrorKind.UNCERTAIN,
                f"{VENDOR} accepted a new {entity} but did not return it.",
                hint="LedgerBridge looks the record up before trying again.",
            )
        return record

    def update(self, entity: str, fields: Mapping[str, Any], *, request_key: str) -> dict[str, Any]:
        """A sparse update (`Id` and the current `SyncToken` in `fields`)."""
        body = self.call(
            "POST", entity.lower(), json={**fields, "sparse": True}, request_key=request_key
        )
        record = _entity(body, entity)
        if record is None:
            raise self._garbled(f"an update of {entity} without the record")
        return record

    def batch(
        self, items: Sequence[Mapping[str, Any]], *, request_key: str
    ) -> list[dict[str, Any]]:
        """One `batch` call (≤ 30 items, each with its `bId`); the `BatchItemResponse` list."""
        if len(items) > BATCH_LIMIT:
            raise ValueError(f"a QuickBooks batch takes at most {BATCH_LIMIT} items")
        with self._batch_slot():
            body = self.call(
                "POST", "batch", json={"BatchItemRequest": list(items)}, request_key=request_key
            )
        answers = body.get("BatchItemResponse") if isinstance(body, Mapping) else None
        if not isinstance(answers, list):
            raise ConnectorError(
                ErrorKind.UNCERTAIN,
                f"{VENDOR} answered a batch without its results.",
                hint="LedgerBridge looks the records up before trying again.",
            )
        return [dict(answer) for answer in answers if isinstance(answer, Mapping)]

    def company_info(self) -> dict[str, Any]:
        record = self.read("CompanyInfo", self.realm_id)
        if record is None:
            raise self._garbled("no CompanyInfo for this company")
        return record

    def preferences(self) -> dict[str, Any]:
        body = self.call("GET", "preferences")
        record = _entity(body, "Preferences")
        if record is None:
            raise self._garbled("no Preferences for this company")
        return record

    # -- errors ----------------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> ConnectorError | None:
        """QuickBooks' refusals by their fault; None leaves the transport's default in force."""
        status = response.status_code
        if status == 429 or status >= 500:
            return None  # waited out and retried, or uncertain for a write: the transport knows
        try:
            body = self._http.decode(response)
        except ConnectorError:
            body = None
        fault = parse_fault(body)
        where = f"{response.request.method} {_resource(response.request.url.path)}"
        if status == 401:
            detail = fault.text() if fault else response.text[:500]
            expired = "expired" in detail.lower()
            return ConnectorError(
                ErrorKind.AUTH,
                f"{VENDOR} did not accept LedgerBridge's access token"
                + (" (it has expired)." if expired else " (it is invalid or was revoked)."),
                hint="Reconnect QuickBooks under Company → Connections if this persists.",
                status=status,
                vendor_detail=detail[:2000],
            )
        if status == 403:
            return ConnectorError(
                ErrorKind.PERMISSION,
                f"{VENDOR} company {self.realm_id} has not authorised LedgerBridge for {where}.",
                hint="Reconnect QuickBooks under Company → Connections, signed in as an admin "
                "of this company, and pick this company when QuickBooks asks.",
                status=status,
                vendor_detail=fault.text()[:2000] if fault else response.text[:500],
            )
        if fault is None:
            return None
        if is_throttle(fault):
            return None
        return fault_to_error(fault, what=where, status=status)

    def _garbled(self, what: str) -> ConnectorError:
        return ConnectorError(
            ErrorKind.TRANSIENT,
            f"{VENDOR} sent {what}.",
            hint="This is usually a passing fault; the next run tries again.",
        )

    @contextmanager
    def _batch_slot(self) -> Iterator[None]:
        """A slot in the batch budget (40 a minute), held on top of the call's usual slot."""
        if not self.budget:
            yield
            return
        from ledgerbridge.core import ratebudget

        with ExitStack() as stack:
            try:
                stack.enter_context(
                    ratebudget.call(
                        batch_budget_name(self.budget),
                        max_wait=self._budget_max_wait,
                        sleep=self._sleep,
                    )
                )
            except ratebudget.RateLimitError as error:
                raise ConnectorError(
                    ErrorKind.RATE_LIMITED,
                    f"{error} ({VENDOR} batch calls).",
                    hint="LedgerBridge waits and tries again then; nothing needs doing.",
                    retry_at=error.resumes_at,
                ) from error
            yield


def _entity(body: Any, entity: str) -> dict[str, Any] | None:
    if not isinstance(body, Mapping):
        return None
    record = body.get(entity)
    return dict(record) if isinstance(record, Mapping) else None


def _resource(path: str) -> str:
    """`/v3/company/123/invoice` → `invoice` (the company id is noise in a message)."""
    parts = [part for part in path.split("/") if part]
    if "company" in parts:
        rest = parts[parts.index("company") + 2 :]
        if rest:
            return "/".join(rest)
    return path
