"""ConnectWise PSA (Manage) REST client: the endpoints LedgerBridge reads and writes, nothing more.

Written against ConnectWise's documented API (see the module notes below), not the simulator:

- The base URL is `https://{site}/{codebase}apis/3.0/`. The codebase (`v2025_1/`, ending in a
  slash) is read from `GET https://{site}/login/companyinfo/{companyId}`, which needs no
  credentials and answers JSON `null` for an unknown company. Cloud upgrades move tenants to a
  new codebase, so a 404 re-reads companyinfo once and tries again if it changed.
- Every call sends Basic `companyId+publicKey:privateKey`, the integration's `clientId`, and a
  versioned `Accept` header pinning the model version.
- Lists are generators over pages of up to 1,000 records: navigable (`page`/`pageSize`, next page
  from the `Link` header, or a short page ends it when the header is missing) or forward-only
  (`pagination-type: forward-only` and the `pageId` cursor), which rows added or removed while we
  read cannot shift. Only one page is held at a time.
- Creating an accounting batch is not idempotent and CW offers no idempotency keys; the unique
  `batchIdentifier` is the key. `create_batch_resolving_uncertainty` looks it up before sending
  and after any uncertain outcome, so a retry never posts twice.

Records are returned as vendor JSON (dicts, money as Decimal); `adapter.py` turns them into
canonical documents.
"""

import base64
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import httpx

from ledgerbridge.connectors.base import ConnectorError, ErrorKind, WriteOutcome
from ledgerbridge.connectors.connectwise import conditions as cq
from ledgerbridge.connectors.http import (
    LogHook,
    RetryPolicy,
    Timeouts,
    VendorTransport,
    stream_pages,
)

LABEL: Final = "ConnectWise"
# Menu paths in messages read as ConnectWise writes them, with a single angle quote.
SEP: Final = "\u203a"
DEFAULT_API_VERSION: Final = "2025.1"
MAX_PAGE_SIZE: Final = 1000
MAX_BATCH_IDENTIFIER: Final = 50

# ConnectWise Cloud's web hosts and the API hosts behind them (as django-connectwise maps them).
CLOUD_API_HOSTS: Final = {
    "na.myconnectwise.net": "api-na.myconnectwise.net",
    "eu.myconnectwise.net": "api-eu.myconnectwise.net",
    "au.myconnectwise.net": "api-au.myconnectwise.net",
    "aus.myconnectwise.net": "api-aus.myconnectwise.net",
    "za.myconnectwise.net": "api-za.myconnectwise.net",
    "staging.connectwisedev.com": "api-staging.connectwisedev.com",
}

type Record = dict[str, Any]
type Conditions = cq.Condition | str | None


@dataclass(frozen=True)
class Permission:
    """A right in a ConnectWise security role, named as the security role screen shows it."""

    module: str
    function: str
    level: str  # Inquire, Add, Edit, Delete

    def __str__(self) -> str:
        return f"{self.module} {SEP} {self.function} {SEP} {self.level}"


@dataclass(frozen=True)
class Endpoint:
    path: str  # under apis/3.0/, lower case, ids as {id}
    permission: Permission
    purpose: str  # what LedgerBridge needs it for, said to the admin


def _perm(module: str, function: str) -> Callable[[str], Permission]:
    return lambda level: Permission(module, function, level)


_ACCOUNTING = _perm("Finance", "Accounting Interface")
_INVOICING = _perm("Finance", "Invoicing")
_COMPANIES = _perm("Companies", "Company Maintenance")
_CONTACTS = _perm("Companies", "Contacts")
_TABLES = _perm("System", "Table Setup")
_CATALOG = _perm("Procurement", "Product Catalog")
_PURCHASING = _perm("Procurement", "Purchase Orders")
_MEMBERS = _perm("System", "Member Maintenance")

# What LedgerBridge reads, in the order a connection test checks it.
READ_ENDPOINTS: Final = (
    Endpoint(
        "finance/accounting/unpostedinvoices", _ACCOUNTING("Inquire"), "list unposted invoices"
    ),
    Endpoint("finance/accounting/batches", _ACCOUNTING("Inquire"), "check accounting batches"),
    Endpoint("finance/invoices", _INVOICING("Inquire"), "read invoices and their payments"),
    Endpoint("company/companies", _COMPANIES("Inquire"), "read customers"),
    Endpoint("company/contacts", _CONTACTS("Inquire"), "read contacts"),
    Endpoint("procurement/catalog", _CATALOG("Inquire"), "read products"),
    Endpoint("finance/taxcodes", _TABLES("Inquire"), "read tax codes"),
    Endpoint("finance/billingterms", _TABLES("Inquire"), "read billing terms"),
    Endpoint("finance/glaccounts", _TABLES("Inquire"), "read GL accounts"),
)

# Writes cannot be tested without writing; a connection test names them in its hint.
WRITE_PERMISSIONS: Final = (
    (_ACCOUNTING("Add"), "mark invoices as posted (accounting batches)"),
    (_INVOICING("Add"), "record payments on invoices"),
)

_PERMISSION_RULES: Final = (
    ("finance/accounting/", _ACCOUNTING, "work with the accounting interface"),
    ("finance/invoices", _INVOICING, "work with invoices and payments"),
    ("company/companies", _COMPANIES, "read customers"),
    ("company/contacts", _CONTACTS, "read contacts"),
    ("procurement/catalog", _CATALOG, "read products"),
    ("procurement/purchaseorders", _PURCHASING, "read purchase orders"),
    ("system/members", _MEMBERS, "read members"),
    ("finance/", _TABLES, "read finance setup tables"),
)
_LEVELS: Final = {
    "GET": "Inquire",
    "POST": "Add",
    "PUT": "Edit",
    "PATCH": "Edit",
    "DELETE": "Delete",
}


def permission_for(method: str, path: str) -> tuple[Permission, str] | None:
    """The security-role right a call needs, and what for; None if we do not know."""
    lowered = path.lower().lstrip("/")
    level = _LEVELS.get(method.upper(), "Inquire")
    if lowered == "finance/accounting/export":
        level = "Inquire"  # the export only reads
    for prefix, make, purpose in _PERMISSION_RULES:
        if lowered.startswith(prefix):
            return make(level), purpose
    return None


def api_site(site: str) -> str:
    """The API root for what an admin typed: a scheme added, a cloud web host mapped to its API."""
    site = site.strip().rstrip("/")
    if "://" not in site:
        site = f"https://{site}"
    parts = urlsplit(site)
    host = (parts.hostname or "").lower()
    if host in CLOUD_API_HOSTS:
        netloc = CLOUD_API_HOSTS[host] + (f":{parts.port}" if parts.port else "")
        return f"{parts.scheme}://{netloc}{parts.path}"
    return site


@dataclass(frozen=True)
class BatchOutcome:
    """An accounting batch made now (`created`) or found from an earlier attempt."""

    outcome: WriteOutcome
    batch: Record


class ConnectWiseClient:
    """One ConnectWise tenant, as one API member with one integration clientId."""

    label = LABEL

    def __init__(
        self,
        *,
        site: str,
        company_id: str,
        public_key: str,
        private_key: str,
        client_id: str,
        codebase: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        budget: str | None = None,
        log_hook: LogHook | None = None,
        detailed_logging: bool = False,
        page_size: int = MAX_PAGE_SIZE,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        rng: Random | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self.site = api_site(site)
        self.company_id = company_id.strip()
        self.client_id = client_id.strip()
        self.page_size = page_size
        self.api_version = api_version
        self._codebase = _normal_codebase(codebase) if codebase else None
        token = base64.b64encode(f"{self.company_id}+{public_key}:{private_key}".encode()).decode()
        accept = f"application/vnd.connectwise.com+json; version={api_version}"
        common: dict[str, Any] = {
            "vendor": LABEL,
            "timeouts": timeouts,
            "retry": retry,
            "budget": budget,
            "log_hook": log_hook,
            "detailed_logging": detailed_logging,
            "secrets": (public_key, private_key, token),
            "sleep": sleep,
            "rng": rng,
            "transport": transport,
        }
        # companyinfo needs no credentials, so none are sent there.
        self._login = VendorTransport(
            base_url=self.site, headers={"Accept": "application/json"}, **common
        )
        headers = {"Authorization": f"Basic {token}", "Accept": accept}
        if self.client_id:
            headers["clientId"] = self.client_id
        self._api = VendorTransport(headers=headers, classify=self._classify, **common)
        if self._codebase:
            self._api.base_url = self._api_root(self._codebase)

    def close(self) -> None:
        self._login.close()
        self._api.close()

    def __enter__(self) -> "ConnectWiseClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- codebase discovery ----------------------------------------------------------------

    @property
    def codebase(self) -> str:
        if self._codebase is None:
            self.discover_codebase()
        assert self._codebase is not None
        return self._codebase

    def company_info(self) -> Record | None:
        """`login/companyinfo/{companyId}`: the codebase and version, None if CW knows no such
        company."""
        info = self._login.decode(self._login.get(f"login/companyinfo/{self.company_id}"))
        if info is None:
            return None
        if not isinstance(info, dict):
            raise self._unreadable("login/companyinfo", info)
        return info

    def discover_codebase(self) -> str:
        info = self.company_info()
        if info is None:
            raise ConnectorError(
                ErrorKind.AUTH,
                f"ConnectWise does not know the company '{self.company_id}'.",
                hint="Check the company ID: it is what you type in the Company box when you "
                "sign in to ConnectWise.",
            )
        codebase = info.get("Codebase") or info.get("codebase")
        if not isinstance(codebase, str) or not codebase.strip("/"):
            raise self._unreadable("login/companyinfo", info)
        self._codebase = _normal_codebase(codebase)
        self._api.base_url = self._api_root(self._codebase)
        return self._codebase

    def _api_root(self, codebase: str) -> str:
        return f"{self.site}/{codebase}apis/3.0/"

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
    ) -> httpx.Response:
        """One API call under `apis/3.0/`; a 404 re-reads the codebase once (cloud upgrades)."""
        before = self.codebase
        try:
            return self._api.request(
                method, path, params=params, json=json, headers=headers, idempotent=idempotent
            )
        except ConnectorError as error:
            # A 404 means nothing was done, so even a POST may go again at the new address.
            if error.kind is not ErrorKind.NOT_FOUND or self.discover_codebase() == before:
                raise
        return self._api.request(
            method, path, params=params, json=json, headers=headers, idempotent=idempotent
        )

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self._api.decode(self.request("GET", path, params=params))

    def iter_list(
        self,
        path: str,
        *,
        conditions: Conditions = None,
        child_conditions: Conditions = None,
        order_by: str | None = None,
        fields: str | None = None,
        forward_only: bool = False,
        page_size: int | None = None,
    ) -> Iterator[Record]:
        """Every record of a list endpoint, page by page (a generator; nothing is fetched until
        iterated). Forward-only paging orders by id and ignores `order_by`."""
        size = page_size or self.page_size
        params: dict[str, str | int] = {"pageSize": size}
        for name, value in (("conditions", conditions), ("childConditions", child_conditions)):
            text = _condition_text(value)
            if text:
                params[name] = text
        if fields:
            params["fields"] = fields
        if forward_only:
            return stream_pages(0, lambda page_id: self._forward_page(path, params, page_id))
        # A stable order keeps rows from moving between pages while we read.
        params["orderBy"] = order_by or "id asc"
        return stream_pages(1, lambda page: self._navigable_page(path, params, size, page))

    def _navigable_page(
        self, path: str, params: Mapping[str, str | int], size: int, page: int
    ) -> tuple[list[Record], int | None]:
        response = self.request("GET", path, params={**params, "page": page})
        records = self._records(path, response)
        if "link" in response.headers:
            following = _link_param(response, "page")
            if following is not None and following <= page:
                raise self._unreadable(path, response.headers["link"])
            return records, following
        # No Link header at all: a full page may have a successor.
        return records, page + 1 if len(records) >= size else None

    def _forward_page(
        self, path: str, params: Mapping[str, str | int], page_id: int
    ) -> tuple[list[Record], int | None]:
        query = {**params, "pageId": page_id} if page_id else dict(params)
        response = self.request(
            "GET", path, params=query, headers={"pagination-type": "forward-only"}
        )
        records = self._records(path, response)
        if any(_id(record) <= page_id for record in records):
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"ConnectWise does not page /{path} forward-only; LedgerBridge cannot read it "
                "safely this way.",
                hint="Report this to LedgerBridge support with your ConnectWise version.",
            )
        following = _link_param(response, "pageId")
        if following is not None and following <= page_id:
            raise self._unreadable(path, response.headers.get("link", ""))
        return records, following

    def _records(self, path: str, response: httpx.Response) -> list[Record]:
        body = self._api.decode(response)
        if body is None:
            return []
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            raise self._unreadable(path, body)
        return body

    def count(self, path: str, conditions: Conditions = None) -> int:
        params: dict[str, str | int] = {}
        text = _condition_text(conditions)
        if text:
            params["conditions"] = text
        body = self.get(f"{path}/count", params)
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise self._unreadable(f"{path}/count", body)
        return int(body["count"])

    def _one(self, path: str) -> Record:
        body = self.get(path)
        if not isinstance(body, dict):
            raise self._unreadable(path, body)
        return body

    def _post(self, path: str, body: Any, *, idempotent: bool = False) -> Any:
        return self._api.decode(self.request("POST", path, json=body, idempotent=idempotent))

    # -- system ----------------------------------------------------------------------------

    def system_info(self) -> Record:
        return self._one("system/info")

    def iter_members(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("system/members", conditions=conditions)

    # -- companies and contacts ------------------------------------------------------------

    def iter_companies(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("company/companies", conditions=conditions)

    def get_company(self, company_id: int) -> Record:
        return self._one(f"company/companies/{company_id}")

    def iter_contacts(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("company/contacts", conditions=conditions)

    # -- invoices and payments -------------------------------------------------------------

    def iter_invoices(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("finance/invoices", conditions=conditions)

    def get_invoice(self, invoice_id: int) -> Record:
        return self._one(f"finance/invoices/{invoice_id}")

    def iter_invoice_payments(self, invoice_id: int) -> Iterator[Record]:
        return self.iter_list(f"finance/invoices/{invoice_id}/payments")

    def create_invoice_payment(self, invoice_id: int, payment: Mapping[str, Any]) -> Record:
        """POST a payment. Not idempotent: a failure after sending raises `uncertain`."""
        body = self._post(f"finance/invoices/{invoice_id}/payments", payment)
        if not isinstance(body, dict):
            raise self._unreadable("payments", body)
        return body

    # -- the accounting interface ----------------------------------------------------------

    def iter_unposted_invoices(
        self, conditions: Conditions = None, *, forward_only: bool = True
    ) -> Iterator[Record]:
        """Closed invoices not yet in a batch. Forward-only by default: posting while we read
        removes rows, which would make numbered pages skip some."""
        return self.iter_list(
            "finance/accounting/unpostedinvoices", conditions=conditions, forward_only=forward_only
        )

    def get_unposted_invoice(self, unposted_id: int) -> Record:
        return self._one(f"finance/accounting/unpostedinvoices/{unposted_id}")

    def iter_unposted_expenses(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("finance/accounting/unpostedexpenses", conditions=conditions)

    def iter_unposted_procurement(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("finance/accounting/unpostedprocurement", conditions=conditions)

    def export_accounting(self, request: Mapping[str, Any]) -> Record:
        """`POST finance/accounting/export`: the GL view of unposted records. It changes nothing
        in ConnectWise, so it may be sent again after a failure."""
        _check_batch_identifier(str(request.get("batchIdentifier", "")))
        body = self._post("finance/accounting/export", request, idempotent=True)
        if not isinstance(body, dict):
            raise self._unreadable("finance/accounting/export", body)
        return body

    def iter_batches(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("finance/accounting/batches", conditions=conditions)

    def get_batch(self, batch_id: int) -> Record:
        return self._one(f"finance/accounting/batches/{batch_id}")

    def iter_batch_entries(self, batch_id: int) -> Iterator[Record]:
        return self.iter_list(f"finance/accounting/batches/{batch_id}/entries")

    def delete_batch(self, batch_id: int) -> None:
        """Un-batch: every record of the batch returns to the unposted lists."""
        self.request("DELETE", f"finance/accounting/batches/{batch_id}")

    def find_batch(self, batch_identifier: str) -> Record | None:
        """The batch with this identifier (unique in ConnectWise), if there is one."""
        condition = cq.field("batchIdentifier").eq(batch_identifier)
        found = self.iter_list("finance/accounting/batches", conditions=condition, page_size=2)
        return next(iter(found), None)

    def create_batch(self, request: Mapping[str, Any]) -> Record:
        """`POST finance/accounting/batches`: marks the GL entries posted. Not idempotent; prefer
        `create_batch_resolving_uncertainty`."""
        _check_batch_identifier(str(request.get("batchIdentifier", "")))
        body = self._post("finance/accounting/batches", request)
        return body if isinstance(body, dict) else {}

    def create_batch_resolving_uncertainty(
        self,
        batch_identifier: str,
        processed_record_ids: Sequence[int],
        *,
        export_invoices: bool = True,
        export_expenses: bool = False,
        export_products: bool = False,
        summarize_expenses: bool = False,
        gl_interface_identifier: str = "",
    ) -> BatchOutcome:
        """Create the batch once, whatever happened to earlier attempts.

        Looks the identifier up first (an earlier attempt may have gone through), then sends;
        after an uncertain outcome, or CW saying the identifier is taken, looks it up again.
        """
        _check_batch_identifier(batch_identifier)
        existing = self.find_batch(batch_identifier)
        if existing is not None:
            return BatchOutcome("already_existed", existing)
        request: dict[str, Any] = {
            "batchIdentifier": batch_identifier,
            "exportInvoicesFlag": export_invoices,
            "exportExpensesFlag": export_expenses,
            "exportProductsFlag": export_products,
            "summarizeExpenses": summarize_expenses,
            "processedRecordIds": list(processed_record_ids),
        }
        if gl_interface_identifier:
            request["glInterfaceIdentifier"] = gl_interface_identifier
        try:
            self.create_batch(request)
        except ConnectorError as error:
            if error.kind is ErrorKind.UNCERTAIN:
                found = self.find_batch(batch_identifier)
                if found is not None:
                    return BatchOutcome("created", found)
                raise ConnectorError(
                    ErrorKind.TRANSIENT,
                    f"ConnectWise did not save accounting batch '{batch_identifier}' (the "
                    "connection broke and the batch is not there).",
                    hint="Nothing was marked as posted; the next run tries again.",
                    vendor_detail=error.vendor_detail,
                ) from error
            if error.kind is ErrorKind.VALIDATION and "ObjectExists" in error.vendor_detail:
                found = self.find_batch(batch_identifier)
                if found is not None:
                    return BatchOutcome("already_existed", found)
            raise
        created = self.find_batch(batch_identifier)
        if created is None:
            # CW answers a batch POST with the GL export, not the batch; it must be listed now.
            raise self._unreadable("finance/accounting/batches", batch_identifier)
        return BatchOutcome("created", created)

    # -- setup tables, catalog, procurement ------------------------------------------------

    def iter_gl_accounts(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("finance/glAccounts", conditions=conditions)

    def iter_tax_codes(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("finance/taxCodes", conditions=conditions)

    def iter_billing_terms(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("finance/billingTerms", conditions=conditions)

    def iter_catalog(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("procurement/catalog", conditions=conditions)

    def iter_purchase_orders(self, conditions: Conditions = None) -> Iterator[Record]:
        return self.iter_list("procurement/purchaseorders", conditions=conditions)

    def iter_purchase_order_lines(self, purchase_order_id: int) -> Iterator[Record]:
        return self.iter_list(f"procurement/purchaseorders/{purchase_order_id}/lineitems")

    # -- errors ----------------------------------------------------------------------------

    def _classify(self, response: httpx.Response) -> ConnectorError | None:
        """ConnectWise's own words for refusals: which keys, which permission, what was wrong."""
        status = response.status_code
        if status not in (400, 401, 403, 409, 422):
            return None
        code, message, errors = _vendor_error(response)
        detail = _error_detail(code, message, errors)
        path = self._relative_path(response.request.url.path)
        method = response.request.method
        if status == 401:
            if "clientid" in message.lower().replace(" ", ""):
                return client_id_error(self.client_id, detail, status)
            return ConnectorError(
                ErrorKind.AUTH,
                f"ConnectWise rejected the API keys for company '{self.company_id}'. Check the "
                "public and private key of the API member.",
                hint=f"In ConnectWise, open System {SEP} Members {SEP} API Members, pick the "
                "member LedgerBridge uses and generate a new key pair under API Keys.",
                status=status,
                vendor_detail=detail,
            )
        if status == 403:
            needed = permission_for(method, path)
            if needed is None:
                text = f"The ConnectWise API member may not {method} /{path}."
                hint = "Check the API member's security role in ConnectWise."
            else:
                permission, purpose = needed
                text = (
                    f"The ConnectWise API member lacks the permission {permission}, which "
                    f"LedgerBridge needs to {purpose}."
                )
                hint = permission_hint(permission)
            return ConnectorError(
                ErrorKind.PERMISSION, text, hint=hint, status=status, vendor_detail=detail
            )
        specifics = "; ".join(str(item.get("message")) for item in errors if isinstance(item, dict))
        said = message.rstrip(".")
        if specifics and specifics not in said:
            said = f"{said}: {specifics}" if said else specifics
        return ConnectorError(
            ErrorKind.VALIDATION,
            f"ConnectWise refused {method} /{path}: {said or f'HTTP {status}'}",
            hint="Correct the record in ConnectWise (or the mapping in LedgerBridge) and run "
            "the sync again.",
            status=status,
            vendor_detail=detail,
        )

    def _relative_path(self, url_path: str) -> str:
        marker = "/apis/3.0/"
        index = url_path.lower().find(marker)
        return url_path[index + len(marker) :] if index >= 0 else url_path.lstrip("/")

    def _unreadable(self, path: str, body: object) -> ConnectorError:
        return ConnectorError(
            ErrorKind.TRANSIENT,
            f"ConnectWise sent an answer LedgerBridge did not expect from /{path}.",
            hint="If this keeps happening, check the site address and report it to support.",
            vendor_detail=repr(body)[:500],
        )


def client_id_error(client_id: str, detail: str = "", status: int | None = None) -> ConnectorError:
    if not client_id:
        message = "No ConnectWise clientId is set for this connection."
    else:
        message = f"ConnectWise does not accept the clientId '{client_id}'."
    return ConnectorError(
        ErrorKind.AUTH,
        message,
        hint="Every integration needs a clientId from the ConnectWise developer portal "
        f"(developer.connectwise.com {SEP} ClientID); paste it into the connection settings.",
        status=status,
        vendor_detail=detail,
    )


def permission_hint(permission: Permission) -> str:
    return (
        f"In ConnectWise, open System {SEP} Security Roles, edit the API member's role and set "
        f"{permission} Level to All."
    )


def _vendor_error(response: httpx.Response) -> tuple[str, str, list[Any]]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300], []
    if not isinstance(body, dict):
        return "", str(body)[:300], []
    errors = body.get("errors")
    return (
        str(body.get("code") or ""),
        str(body.get("message") or ""),
        errors if isinstance(errors, list) else [],
    )


def _error_detail(code: str, message: str, errors: Sequence[Any]) -> str:
    parts = [f"{code}: {message}" if code else message]
    for item in errors:
        if isinstance(item, dict):
            where = item.get("field") or item.get("resource") or ""
            parts.append(f"{item.get('code', '')} {where}: {item.get('message', '')}".strip())
    return " | ".join(part for part in parts if part)


def _check_batch_identifier(identifier: str) -> None:
    if not identifier.strip() or len(identifier) > MAX_BATCH_IDENTIFIER:
        raise ConnectorError(
            ErrorKind.VALIDATION,
            f"The accounting batch identifier '{identifier}' must be 1 to "
            f"{MAX_BATCH_IDENTIFIER} characters.",
            hint="This is a LedgerBridge fault; please report it.",
        )


def _condition_text(conditions: Conditions) -> str | None:
    return conditions if isinstance(conditions, str) or conditions is None else conditions.render()


def _normal_codebase(codebase: str) -> str:
    return codebase.strip().strip("/") + "/"


def _id(record: Mapping[str, Any]) -> int:
    value = record.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _link_param(response: httpx.Response, name: str) -> int | None:
    """The `name` query parameter of the `rel="next"` link, if there is a next page."""
    following = response.links.get("next")
    if not following or not following.get("url"):
        return None
    values = parse_qs(urlsplit(following["url"]).query)
    for key, found in values.items():
        if key.lower() == name.lower() and found and found[-1].isdigit():
            return int(found[-1])
    return None
