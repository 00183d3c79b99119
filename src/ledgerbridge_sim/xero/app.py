"""The Xero Accounting API simulator, served under `/xero/api.xro/2.0/`.

A client talks to it as to `https://api.xero.com/api.xro/2.0/`: `Authorization: Bearer <token>`
(from the OAuth simulator; in tests `oauth.issue_tokens(sim, "xero", (tenant_id,))`) and
`xero-tenant-id: <tenant>` on every call. Tenants are the Xero organisations in
`ledgerbridge_sim.organisations` (four defaults: AU, NZ, UK, US); each gets its starting data
(chart of accounts, country tax rates, Organisation, two tracking categories, items, contacts)
the first time it is used. Answers follow Xero:

- no or dead token → 401 problem details (`Detail: AuthenticationUnsuccessful`,
  `WWW-Authenticate: Bearer error="invalid_token"`); a missing, unknown or not-granted tenant →
  403 (`Detail: AuthorizationUnsuccessful`); a tenant id that is not a GUID → 400;
- unknown resource or record → 404 text "The resource you're looking for cannot be found";
- validation failures → 400 `ValidationException` (`ErrorNumber` 10, `Elements[]` with
  `ValidationErrors`), nothing saved; with `?summarizeErrors=false` → 200 with one result per
  element (`StatusAttributeString` OK/ERROR, `ValidationErrors`), the good ones saved;
- a bad `where`/`order` → 400 `QueryParseException` (`ErrorNumber` 16).

Resources: Invoices, CreditNotes (+ `/{id}/Allocations`, DELETE `/{id}/Allocations/{aid}`),
Payments, BatchPayments, Contacts, Items, Accounts, TaxRates, TrackingCategories
(+ `/{id}/Options`), ManualJournals, Organisation, PurchaseOrders, Overpayments and Prepayments
(+ Allocations). GET lists and `/{id}` (Invoices, CreditNotes and PurchaseOrders also by number,
Contacts by ContactNumber, Items by Code, TaxRates by TaxType); PUT creates, POST creates or
updates (by id, or by the unique number/code). Lists take `where`, `order`, `page` (100 a page,
`pageSize` up to 1,000 where the spec allows it), `IDs`, `InvoiceNumbers`, `ContactIDs`,
`Statuses`, `includeArchived`, `searchTerm` and `If-Modified-Since` (on `UpdatedDateUTC`).
Unpaged lists of documents leave out line items, as Xero does.

`Idempotency-Key` (≤128 characters) on PUT/POST: a repeat within the window replays the first
answer (errors too) without writing; the same key with a different request → 400.

Limits (per app and tenant unless said): 5 calls in flight, 60 per rolling minute, 5,000 per
rolling day, 10,000 per minute per app. Every answer past authentication carries
`X-DayLimit-Remaining`, `X-MinLimit-Remaining`, `X-AppMinLimit-Remaining`; a breach is 429 with
`Retry-After` and `X-Rate-Limit-Problem` (`minute`, `daily`, `appminute`, `concurrent`).

Knobs in `sim.settings["xero"]` (defaults in brackets): `concurrent_limit` (5), `minute_limit`
(60), `day_limit` (5000), `app_minute_limit` (10000), `latency_seconds` (0: an artificial delay
inside each call that holds its concurrency slot), `idempotency_window_seconds` (360),
`adviser` (False: when true the API user is an adviser, whom the period lock date does not
bind; the end-of-year lock binds everyone), `provider_name` ("LedgerBridge Simulator").

Lock dates are set by seeding the organisation:
`seed(sim, {"Organisation": {"PeriodLockDate": "2026-06-30"}})`.
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerbridge_sim import oauth, organisations
from ledgerbridge_sim.state import Simulator
from ledgerbridge_sim.xero import (
    data,
    defaults,
    documents,
    ledger,
    limits,
    masterdata,
    money,
    query,
)
from ledgerbridge_sim.xero.ledger import Call
from ledgerbridge_sim.xero.store import Book
from ledgerbridge_sim.xero.wire import (
    InvalidElementError,
    XeroError,
    decode,
    encode,
    envelope,
    forbidden,
    is_guid,
    not_found,
    parse_date,
    parse_moment,
    problem,
    render_record,
    unauthorised,
    validation_exception,
)

logger = logging.getLogger(__name__)

API_PREFIX: Final = ("api.xro", "2.0")
DEFAULT_PROVIDER: Final = "LedgerBridge Simulator"
IDEMPOTENCY_WINDOW_SECONDS: Final = 360
_METHODS: Final = ["GET", "POST", "PUT", "DELETE"]

type Writer = Callable[..., dict[str, Any]]
type View = Callable[[Call, dict[str, Any], bool], dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    name: str
    id_field: str
    view: View
    writer: Writer | None = None
    can_put: bool = True
    pageable: bool = False
    page_size: bool = False  # the spec gives the list a pageSize parameter
    lookup_fields: tuple[str, ...] = ()  # GET /{Resource}/{value} also matches these
    error_flag: str | None = None  # HasErrors / HasValidationErrors on failed elements
    has_lines: bool = False
    status_attribute: bool = True  # the spec's schema carries StatusAttributeString


def _document_view(kind: documents.Kind) -> View:
    return lambda call, record, with_lines: documents.view(
        call, kind, record, with_lines=with_lines
    )


def _plain_view(call: Call, record: dict[str, Any], with_lines: bool) -> dict[str, Any]:
    twins = ("Date",) if "BatchPaymentID" in record else ()
    return render_record(record, unit_places=call.unit_places, date_twins=twins)


def _credit_view(call: Call, record: dict[str, Any], with_lines: bool) -> dict[str, Any]:
    shown = dict(record)
    shown["Contact"] = ledger.contact_view(call, record.get("Contact"))
    if not with_lines:
        shown["LineItems"] = []
    return render_record(shown, unit_places=call.unit_places, utc_twins=True, date_twins=("Date",))


def _document_writer(kind: documents.Kind) -> Writer:
    return lambda call, element, *, create_only: documents.write(
        call, kind, element, create_only=create_only
    )


RESOURCES: Final = {
    resource.name.lower(): resource
    for resource in (
        Resource(
            "Invoices",
            "InvoiceID",
            _document_view(documents.INVOICES),
            _document_writer(documents.INVOICES),
            pageable=True,
            page_size=True,
            lookup_fields=("InvoiceNumber",),
            error_flag="HasErrors",
            has_lines=True,
        ),
        Resource(
            "CreditNotes",
            "CreditNoteID",
            _document_view(documents.CREDIT_NOTES),
            _document_writer(documents.CREDIT_NOTES),
            pageable=True,
            page_size=True,
            lookup_fields=("CreditNoteNumber",),
            error_flag="HasErrors",
            has_lines=True,
        ),
        Resource(
            "PurchaseOrders",
            "PurchaseOrderID",
            _document_view(documents.PURCHASE_ORDERS),
            _document_writer(documents.PURCHASE_ORDERS),
            pageable=True,
            page_size=True,
            lookup_fields=("PurchaseOrderNumber",),
            has_lines=True,
        ),
        Resource(
            "Payments",
            "PaymentID",
            lambda call, record, with_lines: money.payment_view(call, record),
            money.write_payment,
            pageable=True,
            page_size=True,
            error_flag="HasValidationErrors",
        ),
        Resource(
            "BatchPayments",
            "BatchPaymentID",
            _plain_view,
            money.write_batch,
            status_attribute=False,
        ),
        Resource(
            "Contacts",
            "ContactID",
            _plain_view,
            masterdata.write_contact,
            pageable=True,
            page_size=True,
            lookup_fields=("ContactNumber",),
            error_flag="HasValidationErrors",
        ),
        Resource("Items", "ItemID", _plain_view, masterdata.write_item, lookup_fields=("Code",)),
        Resource(
            "Accounts", "AccountID", _plain_view, masterdata.write_account, status_attribute=False
        ),
        Resource(
            "TaxRates", "TaxType", _plain_view, masterdata.write_tax_rate, status_attribute=False
        ),
        Resource(
            "TrackingCategories",
            "TrackingCategoryID",
            _plain_view,
            masterdata.write_tracking_category,
            status_attribute=False,
        ),
        Resource(
            "ManualJournals",
            "ManualJournalID",
            _plain_view,
            masterdata.write_manual_journal,
            pageable=True,
            page_size=True,
        ),
        Resource(
            "Overpayments",
            "OverpaymentID",
            _credit_view,
            pageable=True,
            page_size=True,
            has_lines=True,
        ),
        Resource(
            "Prepayments",
            "PrepaymentID",
            _credit_view,
            pageable=True,
            page_size=True,
            has_lines=True,
        ),
    )
}


# -- the ASGI app ----------------------------------------------------------------------------


def build_app(sim: Simulator) -> Starlette:
    async def serve(request: Request) -> Response:
        try:
            status, body, headers = await _serve(sim, request)
        except XeroError as error:
            status, body, headers = error.status, error.body, error.headers
        except Exception as error:  # Xero's opaque 500, with the cause for us in the log
            logger.exception("Xero simulator failed on %s %s", request.method, request.url.path)
            status, body, headers = (
                500,
                {"Message": f"An error occurred ({type(error).__name__})"},
                {},
            )
        return _response(status, body, headers)

    return Starlette(routes=[Route("/{path:path}", serve, methods=_METHODS)])


def _response(status: int, body: Any, headers: dict[str, str]) -> Response:
    if isinstance(body, bytes):
        return Response(
            body, status_code=status, headers=headers, media_type="application/json; charset=utf-8"
        )
    if isinstance(body, str):
        return Response(
            body, status_code=status, headers=headers, media_type="text/plain; charset=utf-8"
        )
    return Response(
        encode(body),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def settings(sim: Simulator) -> dict[str, Any]:
    return limits.settings(sim)


async def _serve(sim: Simulator, request: Request) -> tuple[int, Any, dict[str, str]]:
    segments = [part for part in request.path_params["path"].split("/") if part]
    if [part.lower() for part in segments[:2]] != list(API_PREFIX) or len(segments) < 3:
        raise not_found()
    route = segments[2:]
    grant = oauth.authenticate(sim, "xero", request.headers.get("authorization"))
    if grant is None:
        raise unauthorised()
    tenant_id = (request.headers.get("xero-tenant-id") or "").strip()
    if not tenant_id:
        raise forbidden()
    if not is_guid(tenant_id):
        raise XeroError(400, problem(400, "Bad Request", "xero-tenant-id is not a valid GUID"))
    organisation = organisations.get(sim, "xero", tenant_id)
    if organisation is None or tenant_id.lower() not in {t.lower() for t in grant.organisation_ids}:
        raise forbidden()
    app_id = grant.client_id
    with sim.lock:
        allowance = limits.take_call(sim, app_id, organisation.id)
    try:
        delay = float(settings(sim).get("latency_seconds", 0) or 0)
        if delay > 0:
            await asyncio.sleep(delay)
        raw = await request.body()
        with sim.lock:
            replay_key = _idempotency_key(sim, request, app_id, raw)
            if replay_key is not None:
                cached = _replay(sim, replay_key)
                if cached is not None:
                    status, body = cached
                    return status, body, allowance.headers()
            book = Book(sim, organisation)
            defaults.ensure(book)
            call = Call(sim, book, dict(request.query_params), bool(settings(sim).get("adviser")))
            try:
                status, payload = _route(call, request, route, raw)
            except XeroError as error:
                if replay_key is not None and error.status < 500:
                    _remember(sim, replay_key, error.status, _encoded(error.body))
                raise XeroError(
                    error.status, error.body, {**error.headers, **allowance.headers()}
                ) from None
            if replay_key is not None:
                _remember(sim, replay_key, status, encode(payload))
            return status, payload, allowance.headers()
    finally:
        with sim.lock:
            limits.release(sim, app_id, organisation.id)


def _encoded(body: Any) -> bytes | str:
    return body if isinstance(body, str) else encode(body)


# -- idempotency -----------------------------------------------------------------------------


def _idempotency_key(
    sim: Simulator, request: Request, app_id: str, raw: bytes
) -> tuple[str, str, str] | None:
    key = request.headers.get("idempotency-key")
    if key is None or request.method not in ("PUT", "POST"):
        return None
    if len(key) > 128 or not key.strip():
        raise XeroError(
            400, problem(400, "Bad Request", "Idempotency-Key must be 1 to 128 characters long.")
        )
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, str(sorted(request.query_params.multi_items()))):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(raw)
    entries: dict[tuple[str, str], dict[str, Any]] = sim.system("xero").extra.setdefault(
        "idempotency", {}
    )
    now = sim.clock.now()
    entry = entries.get((app_id, key))
    if entry is not None and entry["expires"] > now and entry["digest"] != digest.hexdigest():
        raise XeroError(
            400,
            problem(
                400, "Bad Request", f"Idempotency Key: {key} is used with a different request."
            ),
        )
    return app_id, key, digest.hexdigest()


def _replay(sim: Simulator, replay_key: tuple[str, str, str]) -> tuple[int, bytes | str] | None:
    app_id, key, digest = replay_key
    entries: dict[tuple[str, str], dict[str, Any]] = sim.system("xero").extra["idempotency"]
    entry = entries.get((app_id, key))
    if entry is None or entry["expires"] <= sim.clock.now() or entry["digest"] != digest:
        return None
    return entry["status"], entry["body"]


def _remember(
    sim: Simulator, replay_key: tuple[str, str, str], status: int, body: bytes | str
) -> None:
    app_id, key, digest = replay_key
    window = float(settings(sim).get("idempotency_window_seconds", IDEMPOTENCY_WINDOW_SECONDS))
    sim.system("xero").extra["idempotency"][(app_id, key)] = {
        "digest": digest,
        "status": status,
        "body": body,
        "expires": sim.clock.now() + timedelta(seconds=window),
    }


# -- routing ---------------------------------------------------------------------------------


def _route(call: Call, request: Request, route: list[str], raw: bytes) -> tuple[int, Any]:
    method = request.method
    lowered = [part.lower() for part in route]
    if lowered == ["organisation"]:
        if method != "GET":
            raise not_found()
        org = call.organisation()
        return 200, _envelope(call, "Organisations", [render_record(org)])
    resource = RESOURCES.get(lowered[0])
    if resource is None:
        raise not_found()
    if len(route) == 1:
        if method == "GET":
            return _list(call, resource, request)
        if method in ("PUT", "POST") and resource.writer is not None:
            return _write(call, resource, decode(raw), create_only=method == "PUT")
        raise not_found()
    if len(route) == 2:
        if method == "GET":
            return _get_one(call, resource, route[1])
        if method == "POST" and resource.writer is not None:
            record = _find(call, resource, route[1])
            body = decode(raw)
            elements = _elements(body, resource.name)
            for element in elements:
                if isinstance(element, dict):
                    element[resource.id_field] = record[resource.id_field]
            return _write(call, resource, {resource.name: elements}, create_only=False)
        raise not_found()
    if lowered[2] == "allocations" and resource.name in money.CREDIT_SOURCES:
        source = _find(call, resource, route[1])
        source_id = source[resource.id_field]
        if len(route) == 3 and method == "PUT":
            return _allocations(call, resource.name, source_id, decode(raw))
        if len(route) == 4 and method == "DELETE":
            try:
                shown = money.delete_allocation(call, resource.name, source_id, route[3])
            except InvalidElementError as invalid:
                raise _summarised([({"AllocationID": route[3]}, invalid.messages)], None) from None
            return 200, _envelope(call, "Allocations", [shown])
    if (
        lowered[2] == "options"
        and resource.name == "TrackingCategories"
        and method == "PUT"
        and len(route) == 3
    ):
        category = _find(call, resource, route[1])
        results = []
        mark = call.book.mark()
        failures = []
        for element in _elements(decode(raw), "Options"):
            try:
                results.append(
                    masterdata.add_tracking_options(call, category["TrackingCategoryID"], element)
                )
            except InvalidElementError as invalid:
                failures.append((element, invalid.messages))
        if failures:
            call.book.undo_to(mark)
            raise _summarised(failures, None)
        return 200, _envelope(call, "Options", [render_record(r) for r in results])
    raise not_found()


def _envelope(
    call: Call, plural: str, records: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    provider = str(settings(call.sim).get("provider_name", DEFAULT_PROVIDER))
    return envelope(plural, records, provider=provider, now=call.book.now(), **extra)


def _elements(body: Any, plural: str) -> list[Any]:
    if isinstance(body, dict) and isinstance(body.get(plural), list):
        return list(body[plural])
    if isinstance(body, dict) and plural not in body:
        return [body]  # a single element sent without the wrapper
    if isinstance(body, list):
        return body
    raise XeroError(
        400,
        {
            "ErrorNumber": 14,
            "Type": "PostDataInvalidException",
            "Message": f"Send a {plural} list.",
        },
    )


def _find(call: Call, resource: Resource, value: str) -> dict[str, Any]:
    found = call.book.get(resource.name, value)
    for field in resource.lookup_fields:
        if found is not None:
            break
        live = call.book.having(resource.name, field, value)
        found = next((r for r in live if r.get("Status") != "DELETED"), None)
    if found is None:
        raise not_found()
    return found


def _get_one(call: Call, resource: Resource, value: str) -> tuple[int, Any]:
    record = _find(call, resource, value)
    return 200, _envelope(call, resource.name, [resource.view(call, record, True)])


# -- writes ----------------------------------------------------------------------------------


def _summarised(failures: list[tuple[Any, list[str]]], flag: str | None) -> XeroError:
    elements = []
    for element, messages in failures:
        echo = dict(element) if isinstance(element, dict) else {}
        if flag is not None:
            echo[flag] = True
        echo["ValidationErrors"] = [{"Message": m} for m in messages]
        elements.append(echo)
    return validation_exception(elements)


def _write(call: Call, resource: Resource, body: Any, *, create_only: bool) -> tuple[int, Any]:
    assert resource.writer is not None
    elements = _elements(body, resource.name)
    summarize = call.params.get("summarizeErrors", "").lower() != "false"
    start = call.book.mark()
    outcomes: list[tuple[Any, dict[str, Any] | None, list[str]]] = []
    for element in elements:
        mark = call.book.mark()
        try:
            if not isinstance(element, dict):
                raise InvalidElementError(f"Each of the {resource.name} must be an object")
            record = resource.writer(call, element, create_only=create_only)
            outcomes.append((element, record, []))
        except InvalidElementError as invalid:
            call.book.undo_to(mark)
            outcomes.append((element, None, invalid.messages))
    failures = [(element, messages) for element, record, messages in outcomes if messages]
    if failures and summarize:
        call.book.undo_to(start)  # all or nothing
        raise _summarised(failures, resource.error_flag)
    shown = []
    for element, saved, messages in outcomes:
        if saved is not None:
            view = resource.view(call, saved, True)
            if resource.status_attribute:
                view["StatusAttributeString"] = "OK"
            if resource.error_flag:
                view[resource.error_flag] = False
            shown.append(view)
            continue
        echo = dict(element) if isinstance(element, dict) else {}
        if resource.error_flag == "HasErrors":
            echo.setdefault(resource.id_field, "00000000-0000-0000-0000-000000000000")
        if resource.error_flag:
            echo[resource.error_flag] = True
        if resource.status_attribute:
            echo["StatusAttributeString"] = "ERROR"
        echo["ValidationErrors"] = [{"Message": m} for m in messages]
        shown.append(echo)
    return 200, _envelope(call, resource.name, shown)


def _allocations(call: Call, collection: str, source_id: str, body: Any) -> tuple[int, Any]:
    elements = _elements(body, "Allocations")
    summarize = call.params.get("summarizeErrors", "").lower() != "false"
    start = call.book.mark()
    shown: list[dict[str, Any]] = []
    failures: list[tuple[Any, list[str]]] = []
    for element in elements:
        mark = call.book.mark()
        try:
            if not isinstance(element, dict):
                raise InvalidElementError("Each allocation must be an object")
            view = money.allocate(call, collection, source_id, element)
            view["StatusAttributeString"] = "OK"
            shown.append(view)
        except InvalidElementError as invalid:
            call.book.undo_to(mark)
            failures.append((element, invalid.messages))
            echo = dict(element) if isinstance(element, dict) else {}
            echo["StatusAttributeString"] = "ERROR"
            echo["ValidationErrors"] = [{"Message": m} for m in invalid.messages]
            shown.append(echo)
    if failures and summarize:
        call.book.undo_to(start)
        raise _summarised(failures, None)
    return 200, _envelope(call, "Allocations", shown)


# -- lists -----------------------------------------------------------------------------------


def _listed(params: Any, name: str) -> list[str]:
    values: list[str] = []
    for raw in params.getlist(name):
        values += [part.strip().strip('"').strip() for part in raw.split(",") if part.strip()]
    return values


def _list(call: Call, resource: Resource, request: Request) -> tuple[int, Any]:
    params = request.query_params
    rows = list(call.book.rows(resource.name))
    name = resource.name

    def keep(field_read: Callable[[dict[str, Any]], Any], wanted: list[str]) -> None:
        nonlocal rows
        chosen = {value.lower() for value in wanted}
        rows = [r for r in rows if str(field_read(r) or "").lower() in chosen]

    if ids := _listed(params, "IDs"):
        keep(lambda r: r.get(resource.id_field), ids)
    if name in ("Invoices", "Prepayments") and (numbers := _listed(params, "InvoiceNumbers")):
        keep(lambda r: r.get("InvoiceNumber"), numbers)
    if name == "Invoices" and (contacts := _listed(params, "ContactIDs")):
        keep(lambda r: (r.get("Contact") or {}).get("ContactID"), contacts)
    if name == "Invoices" and (statuses := _listed(params, "Statuses")):
        keep(lambda r: r.get("Status"), statuses)
    if name == "Overpayments" and (references := _listed(params, "References")):
        keep(lambda r: r.get("Reference"), references)
    if name == "PurchaseOrders":
        if status := params.get("Status"):
            keep(lambda r: r.get("Status"), [status])
        try:
            if params.get("DateFrom"):
                start = parse_date(params["DateFrom"])
                rows = [r for r in rows if r["Date"] >= start]
            if params.get("DateTo"):
                end = parse_date(params["DateTo"])
                rows = [r for r in rows if r["Date"] <= end]
        except InvalidElementError as invalid:
            raise XeroError(
                400,
                {"ErrorNumber": 16, "Type": "QueryParseException", "Message": invalid.messages[0]},
            ) from None
    if (
        name in ("Contacts", "TrackingCategories")
        and params.get("includeArchived", "").lower() != "true"
    ):
        rows = [r for r in rows if r.get("ContactStatus", r.get("Status")) != "ARCHIVED"]
    if term := params.get("searchTerm"):
        fields = (
            ("Name", "FirstName", "LastName", "ContactNumber", "CompanyNumber", "EmailAddress")
            if name == "Contacts"
            else ("InvoiceNumber", "Reference")
        )
        rows = [r for r in rows if any(term.lower() in str(r.get(f) or "").lower() for f in fields)]
    since_text = request.headers.get("if-modified-since")
    if since_text:
        since = parse_moment(since_text)
        if since is not None:
            rows = [
                r
                for r in rows
                if r.get("UpdatedDateUTC") is not None and r["UpdatedDateUTC"] > since
            ]
    predicate = query.where(params.get("where"))
    if predicate is not None:
        rows = [r for r in rows if predicate(r)]
    rows = query.ordered(rows, params.get("order"))
    extra: dict[str, Any] = {}
    page = query.positive_int(params.get("page"), "page") if resource.pageable else None
    size = query.positive_int(params.get("pageSize"), "pageSize") if resource.page_size else None
    if resource.pageable and (page is not None or size is not None):
        size = min(size or query.DEFAULT_PAGE_SIZE, query.MAX_PAGE_SIZE)
        rows, pagination = query.page_of(rows, page or 1, size)
        extra["pagination"] = pagination
        with_lines = True
    else:
        with_lines = not resource.has_lines
    return 200, _envelope(
        call, name, [resource.view(call, record, with_lines) for record in rows], **extra
    )


# -- seeding ---------------------------------------------------------------------------------


def seed(sim: Simulator, records: dict[str, Any]) -> dict[str, Any]:
    """Records in Xero's own JSON, written through the API's rules (see `data.seed`)."""
    with sim.lock:
        return data.seed(sim, records)


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, Any]:
    """A realistic MSP ledger for the first tenant (see `data.generate`); counts created."""
    with sim.lock:
        return data.generate(sim, invoices=invoices, seed=seed)


__all__ = ["RESOURCES", "build_app", "generate", "seed"]
