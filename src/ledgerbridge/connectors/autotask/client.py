"""A thin client for the Datto Autotask PSA REST API (v1.0), on the shared `VendorTransport`.

How the service works, and what this client does about it:

- **Zones.** A tenant lives in one of several zones. `GET …/zoneInformation?user=<api user>` on
  the global host answers the zone's REST root (`https://webservicesN.autotask.net/
  ATServicesRest/`); every other call goes to that root + `V1.0/`. The zone is cached for the
  client's life. A 401 may mean the tenant moved zone, so the client looks the zone up again
  once and, if it changed, repeats the call there (as django-autotask does).
- **Auth.** Three headers on every call: `ApiIntegrationCode`, `UserName`, `Secret` (and an
  optional `ImpersonationResourceId`, sent only on writes).
- **Queries.** `POST {Entity}/query` with a JSON body (`filters.query_body`). Each page's
  `pageDetails.nextPageUrl` must be POSTed with the same body: a GET answers 405. Pages stream
  one at a time (`query` is a generator holding one page).
- **Writes.** Create is `POST {Entity}` (or through the parent for child entities); update is
  `PATCH {Entity}` on the collection URL with `id` in the body.
- **Errors.** `{"errors": [...]}`. Validation and many business-rule failures come back as
  HTTP 500 with a readable message; `classify` turns those into `validation` (or `permission`,
  `not_found`, `auth` where the text says so) instead of a retried server fault.
- **Limits.** 10,000 requests per rolling hour per Autotask database and 3 concurrent requests
  per integration per entity endpoint. `configure_rate_budget` sets up a `core.ratebudget`
  budget that keeps under both: it counts the hour as 60 one-minute windows of
  `requests_per_hour // 60` calls (never more than the hourly limit in any 60 minutes, and a
  refusal without `Retry-After` blocks the connection for a minute, not an hour), and it allows
  3 calls at once for the whole connection — stricter than the vendor's 3 per entity, and
  simpler than one budget per entity. A thread-limit 429 (another worker of the same
  integration) is retried by the transport after a back-off; 429 means the service did no work,
  so retrying is safe even for a write.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from ledgerbridge.connectors.autotask import entities
from ledgerbridge.connectors.autotask.filters import MAX_RECORDS, Filter, query_body
from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import (
    LogHook,
    RetryPolicy,
    Timeouts,
    VendorTransport,
    stream_pages,
)

VENDOR: Final = "Autotask"
DEFAULT_ZONE_LOOKUP_URL: Final = (
    "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
)
API_VERSION_PATH: Final = "V1.0/"
REQUESTS_PER_HOUR: Final = 10_000
THREADS_PER_ENTITY: Final = 3

# Reading these needs more than the usual API user's security level.
_ADMIN_ENTITIES: Final = frozenset(
    {"billingcodes", "taxes", "taxcategories", "taxregions", "paymentterms", "invoicetemplates"}
)
_ENTITY_LABELS: Final[Mapping[str, str]] = {
    "invoices": "Invoices",
    "billingitems": "Billing Items (posted charges)",
    "billingcodes": "Billing Codes (work types, material codes and their GL accounts)",
    "companies": "Companies",
    "contacts": "Contacts",
    "products": "Products",
    "taxes": "Taxes",
    "taxcategories": "Tax Categories",
    "taxregions": "Tax Regions",
    "paymentterms": "Payment Terms",
    "invoicetemplates": "Invoice Templates",
}

# Texts of HTTP 500 answers that are not validation failures.
_SERVER_FAULT_TEXTS: Final = (
    "an unexpected error has occurred",
    "timeout",
    "timed out",
    "thread threshold",
    "request threshold",
)


@dataclass(frozen=True)
class AutotaskCredentials:
    """An API-only user's name and secret, and the integration's tracking identifier."""

    username: str
    secret: str
    integration_code: str
    impersonation_resource_id: int | None = None


def entity_label(entity: str) -> str:
    """The entity as the Autotask admin reads it ("Billing Codes (…)")."""
    return _ENTITY_LABELS.get(entity.lower(), entity)


def permission_hint(entity: str) -> str:
    """What to change in Autotask so the API user may read `entity`."""
    label = entity_label(entity)
    if entity.lower() in _ADMIN_ENTITIES:
        return (
            f"{label} can only be read by an API user with an admin-level security level. In "
            "Autotask open Admin → Resources/Users, edit the API user and give it the "
            "'API User (system)' security level or one with Admin access."
        )
    return (
        f"Give the API user's security level permission to view {label} (Admin → Features & "
        "Settings → Resources/Users → Security Levels), then test the connection again."
    )


def configure_rate_budget(
    name: str,
    *,
    requests_per_hour: int = REQUESTS_PER_HOUR,
    max_concurrent: int = THREADS_PER_ENTITY,
    label: str = VENDOR,
) -> None:
    """Create or update the `core.ratebudget` budget one Autotask connection uses.

    `requests_per_hour` is the tenant's threshold (10,000 unless Autotask raised it); leave
    room for the tenant's other integrations by passing less.
    """
    from ledgerbridge.core import ratebudget

    ratebudget.configure(
        name,
        label=label,
        calls_per_window=max(requests_per_hour // 60, 1),
        window=timedelta(minutes=1),
        max_concurrent=max_concurrent,
    )


class AutotaskClient:
    """One Autotask tenant, as one API user of one integration."""

    def __init__(
        self,
        credentials: AutotaskCredentials,
        *,
        zone_lookup_url: str = DEFAULT_ZONE_LOOKUP_URL,
        zone_url: str | None = None,
        budget: str | None = None,
        budget_max_wait: timedelta = timedelta(minutes=5),
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        log_hook: LogHook | None = None,
        detailed_logging: bool = False,
        sleep: Callable[[float], object] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`zone_url` pins the zone's REST root and skips discovery (the issue's override)."""
        self.credentials = credentials
        self.zone_lookup_url = zone_lookup_url
        self._pinned_zone = zone_url is not None
        self._zone: entities.ZoneInformation | None = (
            entities.ZoneInformation("", zone_url, "", None) if zone_url else None
        )
        self._fields: dict[str, dict[str, entities.EntityField]] = {}
        headers = {
            "ApiIntegrationCode": credentials.integration_code,
            "UserName": credentials.username,
            "Secret": credentials.secret,
            "Accept": "application/json",
        }
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
        self._http = VendorTransport(
            vendor=VENDOR,
            headers=headers,
            timeouts=timeouts,
            retry=retry,
            budget=budget,
            budget_max_wait=budget_max_wait,
            log_hook=log_hook,
            detailed_logging=detailed_logging,
            classify=self.classify,
            secrets=(credentials.secret,),
            transport=transport,
            **extra,
        )
        if self._zone is not None:
            self._http.base_url = _api_root(self._zone.url)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "AutotaskClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- zone ------------------------------------------------------------------------------

    def zone(self) -> entities.ZoneInformation:
        """The tenant's zone, looked up once."""
        if self._zone is None:
            self.discover_zone()
        assert self._zone is not None
        return self._zone

    def discover_zone(self) -> entities.ZoneInformation:
        """Ask the global host which zone serves our API user, and send later calls there."""
        response = self._http.request(
            "GET", self.zone_lookup_url, params={"user": self.credentials.username}
        )
        body = self._http.decode(response)
        try:
            zone = entities.parse_zone_information(body if isinstance(body, Mapping) else {})
        except entities.VendorDataError as error:
            raise ConnectorError(
                ErrorKind.TRANSIENT,
                f"Autotask's zone lookup for '{self.credentials.username}' gave no zone address.",
                hint="Try again later; if it persists, check the zone lookup address.",
                status=response.status_code,
                vendor_detail=str(error),
            ) from error
        self._zone = zone
        self._http.base_url = _api_root(zone.url)
        return zone

    # -- requests --------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        idempotent: bool | None = None,
        write: bool = False,
    ) -> Any:
        """One API call in the tenant's zone, decoded; re-discovers the zone once after a 401."""
        headers: dict[str, str] = {}
        if write and self.credentials.impersonation_resource_id is not None:
            headers["ImpersonationResourceId"] = str(self.credentials.impersonation_resource_id)
        fresh = self._zone is None
        zone_before = self.zone()
        try:
            response = self._http.request(
                method, url, json=json, idempotent=idempotent, headers=headers
            )
        except ConnectorError as error:
            if error.status != 401 or fresh or self._pinned_zone:
                raise
            # A 401 may mean the tenant moved zone: look again, and retry only if it did.
            moved = self.discover_zone()
            if moved.url == zone_before.url:
                raise
            if _is_absolute(url):
                raise  # a page link of the old zone; the caller starts its query again
            response = self._http.request(
                method, url, json=json, idempotent=idempotent, headers=headers
            )
        return self._http.decode(response)

    def get(self, entity: str, record_id: int) -> dict[str, Any] | None:
        """`GET {Entity}/{id}`: the record, or None when there is none."""
        try:
            body = self._call("GET", f"{entity}/{int(record_id)}")
        except ConnectorError as error:
            if error.kind == ErrorKind.NOT_FOUND:
                return None
            raise
        item = body.get("item") if isinstance(body, Mapping) else None
        return dict(item) if isinstance(item, Mapping) else None

    def query(
        self,
        entity: str,
        filters: Sequence[Filter],
        *,
        include_fields: Sequence[str] | None = None,
        page_size: int = MAX_RECORDS,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, ascending by id, one page in memory at a time."""
        body = query_body(filters, max_records=page_size, include_fields=include_fields)
        first = f"{entity}/query"

        def fetch(url: str) -> tuple[list[dict[str, Any]], str | None]:
            # A query changes nothing, so it may be retried although it is a POST.
            page = self._call("POST", url, json=body, idempotent=True)
            if not isinstance(page, Mapping):
                raise self._garbled(entity, "a query answer without items")
            items = page.get("items") or []
            if not isinstance(items, list):
                raise self._garbled(entity, "items that are not a list")
            next_url = entities.parse_page_details(page).next_page_url
            if next_url is not None:
                if not items or next_url == url:
                    next_url = None  # a link that goes nowhere new would loop for ever
                else:
                    self._check_page_link(entity, next_url)
            return [dict(item) for item in items], next_url

        return stream_pages(first, fetch)

    def count(self, entity: str, filters: Sequence[Filter]) -> int:
        body = query_body(filters)
        del body["MaxRecords"]
        answer = self._call("POST", f"{entity}/query/count", json=body, idempotent=True)
        count = entities.Row(answer if isinstance(answer, Mapping) else {}).integer("queryCount")
        if count is None:
            raise self._garbled(entity, "a count answer without queryCount")
        return count

    def entity_fields(self, entity: str) -> dict[str, entities.EntityField]:
        """`{Entity}/entityInformation/fields` by lower-cased field name, cached per entity."""
        key = entity.lower()
        if key not in self._fields:
            body = self._call("GET", f"{entity}/entityInformation/fields")
            self._fields[key] = entities.parse_entity_fields(
                body if isinstance(body, Mapping) else {}
            )
        return self._fields[key]

    def entity_information(self, entity: str) -> dict[str, Any]:
        """`{Entity}/entityInformation`'s `info`: what the API user may do with `entity`."""
        body = self._call("GET", f"{entity}/entityInformation")
        info = body.get("info") if isinstance(body, Mapping) else None
        return dict(info) if isinstance(info, Mapping) else {}

    def threshold_information(self) -> dict[str, Any]:
        """The tenant's hourly threshold and how much of it is used (counts as a call)."""
        body = self._call("GET", "ThresholdInformation")
        return dict(body) if isinstance(body, Mapping) else {}

    def create(
        self, entity: str, fields: Mapping[str, Any], *, parent: tuple[str, int] | None = None
    ) -> int:
        """Create a record; its new id. Not idempotent: a failure mid-way is `uncertain`."""
        url = f"{parent[0]}/{int(parent[1])}/{entity}" if parent else entity
        answer = self._call("POST", url, json=dict(fields), write=True)
        return self._item_id(entity, answer)

    def update(
        self,
        entity: str,
        record_id: int,
        fields: Mapping[str, Any],
        *,
        parent: tuple[str, int] | None = None,
        idempotent: bool = False,
    ) -> int:
        """PATCH the given fields of one record (on the collection URL, `id` in the body).

        Pass `idempotent=True` only when sending the same values twice is harmless, so the
        transport may retry after a timeout instead of reporting the outcome `uncertain`.
        """
        url = f"{parent[0]}/{int(parent[1])}/{entity}" if parent else entity
        body = {"id": int(record_id), **{k: v for k, v in fields.items() if k.lower() != "id"}}
        answer = self._call("PATCH", url, json=body, idempotent=idempotent, write=True)
        return self._item_id(entity, answer)

    # -- errors ----------------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> ConnectorError | None:
        """Autotask's refusals by their words; None leaves the transport's default in force."""
        status = response.status_code
        try:
            body = entities.decode(response.content) if response.content else None
        except ValueError:
            body = None
        messages = entities.error_messages(body)
        text = " ".join(messages)
        lowered = text.lower()
        entity = _entity_of(response.request.url.path)
        label = entity_label(entity) if entity else "Autotask"
        detail = text[:2000]
        user = self.credentials.username

        if "zone information could not be determined" in lowered:
            return ConnectorError(
                ErrorKind.AUTH,
                f"Autotask could not find a zone for the API user '{user}': the user name is "
                "wrong or is not an API user.",
                hint="Enter the API user's user name exactly as Autotask shows it (Admin → "
                "Resources/Users, the API-only user with the 'API User' license).",
                status=status,
                vendor_detail=detail,
            )
        if "integrationcode" in lowered.replace(" ", "") or "integration code" in lowered:
            return ConnectorError(
                ErrorKind.AUTH,
                "Autotask refused the API integration code (tracking identifier).",
                hint="Copy the integration code from the API user's 'API Tracking Identifier' "
                "in Autotask (Admin → Resources/Users → the API user → Security), or use "
                "LedgerBridge's vendor code.",
                status=status,
                vendor_detail=detail,
            )
        if status == 401:
            return ConnectorError(
                ErrorKind.AUTH,
                f"Autotask did not accept the secret for the API user '{user}'.",
                hint="Check the secret; if it was changed in Autotask, generate a new one "
                "there and save it under Company → Connections.",
                status=status,
                vendor_detail=detail,
            )
        if "does not belong to an api user" in lowered or "not an api user" in lowered:
            return ConnectorError(
                ErrorKind.AUTH,
                f"Autotask says '{user}' is not an API user.",
                hint="Use an API-only user (license 'API User'), not a person's login.",
                status=status,
                vendor_detail=detail,
            )
        if status == 403 or "adequate permission" in lowered or "not have permission" in lowered:
            return ConnectorError(
                ErrorKind.PERMISSION,
                f"The Autotask API user '{user}' may not read or change {label}.",
                hint=permission_hint(entity) if entity else "",
                status=status,
                vendor_detail=detail,
            )
        if status == 404 and "no http resource was found" in lowered:
            # Not a missing record but a missing endpoint: a bug or an older Autotask version.
            return ConnectorError(
                ErrorKind.VALIDATION,
                f"Autotask has no API endpoint for {response.request.method} "
                f"{response.request.url.path}.",
                hint="Report this to LedgerBridge support; the Autotask version may not offer "
                f"{label} through its REST API.",
                status=status,
                vendor_detail=detail,
            )
        if "no matching records found" in lowered:
            return ConnectorError(
                ErrorKind.NOT_FOUND,
                f"Autotask found no such record in {label}.",
                hint="It may have been deleted in Autotask.",
                status=status,
                vendor_detail=detail,
            )
        if status >= 500 and status != 503 and messages:
            if any(part in lowered for part in _SERVER_FAULT_TEXTS):
                return None  # a fault at the vendor: retried, or uncertain for a write
            what = f"{response.request.method} {label}"
            return ConnectorError(
                ErrorKind.VALIDATION,
                f"Autotask refused {what}: {text}",
                hint="Autotask's message says what to correct; the record was not changed.",
                status=status,
                vendor_detail=detail,
            )
        return None

    def _garbled(self, entity: str, what: str) -> ConnectorError:
        return ConnectorError(
            ErrorKind.TRANSIENT,
            f"Autotask sent {what} for {entity_label(entity)}.",
            hint="This is usually a passing fault; the next run tries again.",
        )

    def _check_page_link(self, entity: str, url: str) -> None:
        # The credentials go wherever the link points: follow it only within the zone.
        zone = urlsplit(self.zone().url)
        link = urlsplit(url)
        if (link.scheme, link.netloc.lower()) != (zone.scheme, zone.netloc.lower()):
            raise ConnectorError(
                ErrorKind.TRANSIENT,
                f"Autotask's next-page link for {entity_label(entity)} points outside its "
                f"zone ({link.netloc}); LedgerBridge stopped rather than send the secret there.",
                hint="Report this to LedgerBridge support.",
                vendor_detail=url[:500],
            )

    def _item_id(self, entity: str, answer: Any) -> int:
        item_id = entities.Row(answer if isinstance(answer, Mapping) else {}).integer("itemId")
        if item_id is None:
            raise ConnectorError(
                ErrorKind.UNCERTAIN,
                f"Autotask accepted a change to {entity_label(entity)} but did not say which "
                "record it was.",
                hint="LedgerBridge looks the record up before trying again.",
            )
        return item_id


def _api_root(zone_url: str) -> str:
    """The zone's REST root + `V1.0/`, whether the zone URL ends in a slash or not."""
    return zone_url.rstrip("/") + "/" + API_VERSION_PATH


def _is_absolute(url: str) -> bool:
    return "://" in url


def _entity_of(path: str) -> str:
    """The entity a request path names (`…/V1.0/Invoices/query` → `Invoices`)."""
    parts = [part for part in path.split("/") if part]
    lowered = [part.lower() for part in parts]
    if "v1.0" in lowered:
        rest = parts[lowered.index("v1.0") + 1 :]
        if rest:
            # Child writes go through the parent: `Companies/174/Contacts` names Contacts.
            if len(rest) >= 3 and rest[1].isdigit():
                return rest[2]
            return rest[0]
    return ""
