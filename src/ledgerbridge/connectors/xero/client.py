"""A thin client for the Xero Accounting API (`…/api.xro/2.0/`), on the shared `VendorTransport`.

How the service works, and what this client does about it:

- **Auth.** Every call carries `Authorization: Bearer <access token>` and `xero-tenant-id`. Access
  tokens live 30 minutes; the `AccessTokens` the caller hands in refreshes them. When Xero still
  answers 401 (expired early, revoked, refreshed by another worker) the client asks
  `tokens.refreshed(rejected)` once and repeats the request with the new token; a second 401 is
  the caller's `auth` error.
- **Envelopes.** Requests and answers wrap arrays in the plural resource name
  (`{"Invoices": [...]}`); `Accept: application/json` because XML is Xero's historic default.
- **Writes.** PUT creates, POST creates or updates. Batch writes go out with
  `summarizeErrors=false`, so Xero answers 200 with one element per input (each with its own
  `ValidationErrors`) instead of refusing the whole batch. `Idempotency-Key` (≤ 128 characters)
  makes Xero replay its first answer to a repeat within a few minutes. A create is never sent
  again by the transport after a dropped connection or a 5xx: it is `uncertain`, and the ledger
  adapter looks the documents up.
- **Errors.** 400 ValidationException (element texts), 401/403 problem-details JSON
  (`Detail: "TokenExpired…"`, `"AuthorizationUnsuccessful"`), 404 plain text, 429 with
  `Retry-After` and `X-Rate-Limit-Problem`, 503 when the organisation is offline. `classify`
  turns them into `ConnectorError`s with the admin's wording; a 429 for the *daily* limit is not
  retried within the call (its `Retry-After` can be hours), minute and concurrency 429s are
  waited out by the transport.
- **Limits.** Per tenant: 60 calls a minute, 5 at once, 5,000 a day. `configure_rate_budget`
  sets up a `core.ratebudget` budget with exactly those numbers; the limit headers Xero returns
  (`X-MinLimit-Remaining`, `X-DayLimit-Remaining`) feed back into it.
"""

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

from ledgerbridge.connectors.base import AccessTokens, ConnectorError, ErrorKind
from ledgerbridge.connectors.http import (
    LogHook,
    RetryPolicy,
    Timeouts,
    VendorTransport,
    decode_json,
)
from ledgerbridge.connectors.xero import hints, wire
from ledgerbridge.core import clock

VENDOR: Final = "Xero"
DEFAULT_API_URL: Final = "https://api.xero.com/api.xro/2.0/"
CALLS_PER_MINUTE: Final = 60
CONCURRENT_CALLS: Final = 5
CALLS_PER_DAY: Final = 5_000
IDEMPOTENCY_KEY_LIMIT: Final = 128
MAX_PAGE_SIZE: Final = 1_000

_RECONNECT_HINT: Final = (
    "Reconnect Xero under Company → Connections, sign in as a Xero user with the adviser or "
    "standard role, and choose this organisation."
)


def configure_rate_budget(
    name: str,
    *,
    calls_per_minute: int = CALLS_PER_MINUTE,
    max_concurrent: int = CONCURRENT_CALLS,
    calls_per_day: int = CALLS_PER_DAY,
    label: str = VENDOR,
) -> None:
    """Create or update the `core.ratebudget` budget one Xero tenant connection uses.

    Xero counts per tenant and app, so one budget per connected organisation. Pass
    `calls_per_day=1000` for an app on Xero's Starter tier.
    """
    from ledgerbridge.core import ratebudget

    ratebudget.configure(
        name,
        label=label,
        calls_per_window=calls_per_minute,
        window=timedelta(minutes=1),
        max_concurrent=max_concurrent,
        daily_cap=calls_per_day,
    )


class XeroClient:
    """One Xero organisation (tenant), as one connection of LedgerBridge's Xero app."""

    def __init__(
        self,
        *,
        api_url: str,
        tenant_id: str,
        tokens: AccessTokens,
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
        self.tenant_id = tenant_id
        self.tokens = tokens
        self._http = VendorTransport(
            vendor=VENDOR,
            base_url=self.api_url,
            headers={"Accept": "application/json", "xero-tenant-id": tenant_id},
            timeouts=timeouts,
            retry=retry,
            budget=budget,
            budget_max_wait=budget_max_wait,
            log_hook=log_hook,
            detailed_logging=detailed_logging,
            classify=self.classify,
            sleep=sleep,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "XeroClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    configure_rate_budget = staticmethod(configure_rate_budget)

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """One call, decoded; after a 401 the token is refreshed once and the call repeated."""
        token = self.tokens.current()
        try:
            response = self._send(method, path, token, params, json, headers, idempotent)
        except ConnectorError as error:
            if error.status != 401:
                raise
            # Xero did not take the token: the refresh raises `auth` if the connection is dead.
            fresh = self.tokens.refreshed(token)
            response = self._send(method, path, fresh, params, json, headers, idempotent)
        return self._http.decode(response)

    def _send(
        self,
        method: str,
        path: str,
        token: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
    ) -> httpx.Response:
        # The token goes per request (not on the client) so a refreshed one replaces it; the
        # transport never passes an Authorization header on to the log.
        sent = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return self._http.request(
            method, path, params=params, json=json, headers=sent, idempotent=idempotent
        )

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        modified_since: datetime | None = None,
    ) -> Any:
        headers = {}
        if modified_since is not None:
            headers["If-Modified-Since"] = if_modified_since(modified_since)
        return self.request("GET", path, params=params, headers=headers)

    def get_records(
        self,
        resource: str,
        *,
        params: Mapping[str, str | int] | None = None,
        modified_since: datetime | None = None,
        key: str | None = None,
    ) -> list[Mapping[str, Any]]:
        """One GET's records (`{"Items": [...]}` → the items)."""
        body = self.get(resource, params=params, modified_since=modified_since)
        return self.records_of(body, key or resource.split("/")[0])

    def pages(
        self,
        resource: str,
        *,
        params: Mapping[str, str | int] | None = None,
        modified_since: datetime | None = None,
        page_size: int = 100,
    ) -> Iterator[Mapping[str, Any]]:
        """Every record of a paged resource (Invoices, Contacts, Payments, …), page by page."""
        page = 1
        while True:
            query = {**(params or {}), "page": page, "pageSize": page_size}
            body = self.get(resource, params=query, modified_since=modified_since)
            found = self.records_of(body, resource)
            yield from found
            pagination = body.get("pagination") if isinstance(body, Mapping) else None
            page_count = pagination.get("pageCount") if isinstance(pagination, Mapping) else None
            if isinstance(page_count, int) and not isinstance(page_count, bool):
                if page >= page_count:
                    return
            elif len(found) < page_size:
                return
            if not found:
                return
            page += 1

    def put_batch(
        self,
        resource: str,
        elements: Sequence[Mapping[str, Any]],
        *,
        idempotency_key: str,
        params: Mapping[str, str | int] | None = None,
    ) -> list[Mapping[str, Any]]:
        """`PUT {resource}?summarizeErrors=false`: Xero's answer element per element, in order.

        Not retried after a dropped connection or a 5xx (`uncertain`): the caller looks up.
        """
        body = self.request(
            "PUT",
            resource,
            params={**(params or {}), "summarizeErrors": "false"},
            json={resource: list(elements)},
            headers={"Idempotency-Key": idempotency_key[:IDEMPOTENCY_KEY_LIMIT]},
            idempotent=False,
        )
        return self.records_of(body, resource)

    def put_one(
        self, resource: str, element: Mapping[str, Any], *, idempotency_key: str = ""
    ) -> Mapping[str, Any]:
        """Create one record (a contact, an item); its stored form."""
        headers = {"Idempotency-Key": idempotency_key[:IDEMPOTENCY_KEY_LIMIT]}
        body = self.request(
            "PUT",
            resource,
            json={resource: [dict(element)]},
            headers=headers if idempotency_key else None,
            idempotent=False,
        )
        found = self.records_of(body, resource)
        if not found:
            raise ConnectorError(
                ErrorKind.UNCERTAIN,
                f"Xero accepted a new record in {resource} but did not return it.",
                hint="LedgerBridge looks the record up before trying again.",
            )
        messages = wire.validation_messages(found[0])
        if messages:
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"Xero refused the new record in {resource}: {' '.join(messages)}",
                hint=hints.hint_for(messages),
                status=400,
                vendor_detail=" ".join(messages)[:2000],
            )
        return found[0]

    def records_of(self, body: Any, key: str) -> list[Mapping[str, Any]]:
        """The records of an envelope, or a transient error when the answer is garbled."""
        try:
            return wire.records(body, key)
        except wire.VendorDataError as error:
            raise ConnectorError(
                ErrorKind.TRANSIENT,
                f"Xero sent an answer without the expected {key}.",
                hint="This is usually a passing fault; the next run tries again.",
                vendor_detail=str(error),
            ) from error

    # -- errors ----------------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> ConnectorError | None:
        """Xero's refusals in the admin's words; None leaves the transport's default in force."""
        status = response.status_code
        try:
            body: Any = wire_body(response)
        except ValueError:
            body = response.text
        messages = wire.error_messages(body)
        detail = " ".join(messages)[:2000] or response.text[:2000]
        where = f"{response.request.method} {_resource_of(response.request.url.path)}"

        if status == 429:
            problem = response.headers.get("X-Rate-Limit-Problem", "").strip().lower()
            if problem not in ("day", "daily"):
                return None  # the minute or concurrency limit: the transport waits it out
            wait = _seconds(response.headers.get("Retry-After"))
            now = clock.now()
            retry_at = now + timedelta(seconds=wait) if wait is not None else _next_midnight(now)
            return ConnectorError(
                ErrorKind.RATE_LIMITED,
                "This Xero organisation has used its 5,000 API calls for the day.",
                hint="LedgerBridge carries on when Xero allows calls again; nothing needs "
                "doing. Other apps connected to the same organisation share this allowance.",
                status=status,
                vendor_detail=detail,
                retry_at=retry_at,
            )
        if status == 401:
            expired = "expired" in detail.lower()
            return ConnectorError(
                ErrorKind.AUTH,
                "Xero did not accept LedgerBridge's sign-in"
                + (": the access token has expired." if expired else ": the token is invalid."),
                hint=_RECONNECT_HINT,
                status=status,
                vendor_detail=detail,
            )
        if status == 403:
            return ConnectorError(
                ErrorKind.PERMISSION,
                f"Xero refused {where}: this organisation is not connected to LedgerBridge, "
                "or the connection lacks a permission it needs.",
                hint=_RECONNECT_HINT + " Approve every permission Xero asks for.",
                status=status,
                vendor_detail=detail,
            )
        if status == 404:
            return ConnectorError(
                ErrorKind.NOT_FOUND,
                f"Xero has no record at {where}.",
                hint="It may have been deleted or archived in Xero.",
                status=status,
                vendor_detail=detail,
            )
        if status == 400 or (400 < status < 500 and status != 408):
            text = " ".join(messages) if messages else f"HTTP {status}"
            return ConnectorError(
                ErrorKind.VALIDATION,
                f"Xero refused {where}: {text}",
                hint=hints.hint_for(messages),
                status=status,
                vendor_detail=detail,
            )
        return None


def wire_body(response: httpx.Response) -> Any:
    """A response body as JSON when it is JSON, else its text (404s are plain text)."""
    if not response.content:
        return None
    content_type = response.headers.get("Content-Type", "")
    if "json" in content_type or response.content.lstrip()[:1] in (b"{", b"["):
        return decode_json(response.content)
    return response.text


def if_modified_since(moment: datetime) -> str:
    """`If-Modified-Since` as Xero reads it: a UTC timestamp to the second."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def idempotency_key(parts: Sequence[str], *, prefix: str = "lb") -> str:
    """A key Xero accepts (≤ 128 characters), the same for the same parts in the same order.

    Order counts: Xero compares a repeat's body with the first, so the same documents in another
    order must not reuse the key ("…is used with a different request").
    """
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"{prefix}-{digest}"[:IDEMPOTENCY_KEY_LIMIT]


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _next_midnight(now: datetime) -> datetime:
    tomorrow = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)


def _resource_of(path: str) -> str:
    """The resource a path names (`/api.xro/2.0/Invoices/abc` → `Invoices/abc`)."""
    marker = "/api.xro/2.0/"
    return path.split(marker, 1)[1] if marker in path else path.rsplit("/", 1)[-1]
