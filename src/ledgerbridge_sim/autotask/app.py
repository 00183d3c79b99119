"""The Datto Autotask PSA REST simulator, served under `/autotask/`.

A client talks to it exactly as to the real service, only the discovery host differs:

1. Zone discovery, no credentials needed::

       GET /autotask/ATServicesRest/V1.0/zoneInformation?user=api@demo.example
       → {"zoneName": "Simulator Zone 1", "url": "http://<host>/autotask/zone1/ATServicesRest/",
          "webUrl": "http://<host>/autotask/zone1/web/", "ci": 123456}

   The `url` is built from the request's own scheme and host, so it points back at whichever
   simulator answered (in-process at http://sim.test or on a real port). As with the real
   service the API base is `url + "V1.0/"`; path segments are matched without regard to case.
   Unknown user → HTTP 500 `{"errors": ["Zone information could not be determined"]}`.
   Setting `sim.settings["autotask"]["zone"]` (default "zone1") moves the tenant to another
   zone: calls to the old zone's URL then answer 401, as after a real zone move.

2. Every other call sends three headers. Defaults (also in the README):

   | header               | default value           |
   | -------------------- | ----------------------- |
   | `UserName`           | `api@demo.example`      |
   | `Secret`             | `demo-secret`           |
   | `ApiIntegrationCode` | `DEMOINTEGRATIONCODE`   |

   More users and codes: `sim.system("autotask").extra["api_users"] = {"user@x": "secret"}`,
   `extra["integration_codes"] = {"OTHERCODE"}`. Failures answer as the service does: a missing
   header or a wrong secret → 401; an unknown user name → 500; an unknown integration code →
   500 "IntegrationCode is invalid." (apigrate's observation of the real service). An optional
   `ImpersonationResourceId` must name an existing resource.

Endpoints under `/autotask/{zone}/ATServicesRest/V1.0/`: `{Entity}/query` (GET `?search=`, POST
body), `/query/count`, `/query/next` and `/query/previous` (the opaque `pageDetails` URLs),
`{Entity}/{id}`, `{Entity}/entityInformation`, `…/fields`, `…/userDefinedFields`, writes on the
collection URL (POST create, PATCH, PUT with `id` in the body) or through the parent for child
entities (`Companies/{id}/Contacts`, `PurchaseOrders/{id}/Items`, `Expenses/{id}/Items`),
`ThresholdInformation`; and `/autotask/{zone}/ATServicesRest/VersionInformation`.

Simulator-only (no credentials; what people do in the UI): `POST /autotask/_admin/processInvoices`
`{"invoiceDate": "2026-03-02", "companyIDs": [174]}` turns posted, un-invoiced billing items into
invoices (one batch) → `{"invoiceIds": [...]}`; `POST /autotask/_admin/voidInvoice` `{"id": N}`.

Knobs in `sim.settings["autotask"]`: `requests_per_hour` (10,000), `threads_per_entity` (3),
`latency_seconds` (an artificial delay inside each API call, holding its thread slot, so tests
can create real concurrency), `threshold_latency` (add the service's 0.5 s / 1 s from 50 % / 75 %
of the hourly threshold; off by default), `zone`, `zone_name`, `ci`.

Records are stored per entity in `sim.system("autotask").collection("<Entity>")` with the wire's
camelCase names; money and quantities as Decimal; datetimes as the wire's text.
"""

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerbridge_sim.autotask import billing, data, filters, limits, records
from ledgerbridge_sim.autotask.entities import (
    ENTITIES,
    Entity,
    Field,
    child_route,
    entity_named,
)
from ledgerbridge_sim.autotask.wire import (
    AutotaskError,
    decode,
    encode,
    method_not_allowed,
    no_route,
)
from ledgerbridge_sim.state import Simulator

logger = logging.getLogger(__name__)

DEFAULT_USERNAME: Final = "api@demo.example"
DEFAULT_SECRET: Final = "demo-secret"  # noqa: S105 - a published demo credential
DEFAULT_INTEGRATION_CODE: Final = "DEMOINTEGRATIONCODE"
DEFAULT_ZONE: Final = "zone1"
DEFAULT_ZONE_NAME: Final = "Simulator Zone 1"
DEFAULT_CI: Final = 123456

_METHODS: Final = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@dataclass
class Principal:
    user_name: str
    integration_code: str
    resource_id: int | None  # the API user's resource, if the tenant has one
    acting_resource_id: int | None  # who writes are stamped with (impersonation or the user)


@dataclass
class Call:
    sim: Simulator
    method: str
    body: bytes
    params: dict[str, str]
    api_base: str  # http://host/autotask/zone1/ATServicesRest/V1.0
    principal: Principal


type Handler = Callable[[Call], tuple[int, Any]]


def build_app(sim: Simulator) -> Starlette:
    async def serve(request: Request) -> Response:
        try:
            status, body = await _dispatch(sim, request)
        except AutotaskError as error:
            status, body = error.status, error.body
        except Exception as error:  # the service's catch-all answer, with the cause for us
            logger.exception("Autotask simulator failed on %s %s", request.method, request.url)
            status, body = (
                500,
                {
                    "errors": [
                        "An unexpected error has occurred. Please contact Autotask support. "
                        f"(simulator: {type(error).__name__}: {error})"
                    ]
                },
            )
        return Response(
            encode(body), status_code=status, media_type="application/json; charset=utf-8"
        )

    return Starlette(routes=[Route("/{path:path}", serve, methods=_METHODS)])


def seed(sim: Simulator, records_by_entity: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Insert explicit records by entity name (`Companies`, `Invoices`, …; any case).

    Records use the wire's field names; missing fields are null and ids are allocated when
    absent. `udfDefinitions` (`[{"entity": "Companies", "name": "Xero Contact ID"}]`)
    defines user-defined fields. Raises ValueError for an unknown entity or field.
    """
    system = records.state(sim)
    created: dict[str, int] = {}
    with sim.lock:
        for name, rows in records_by_entity.items():
            if name.lower() == "udfdefinitions":
                definitions = system.extra.setdefault("udf_definitions", {})
                for udf in rows:
                    entity = _known_entity(str(udf["entity"]))
                    definition = {k: v for k, v in udf.items() if k != "entity"}
                    definitions.setdefault(entity.name, []).append(definition)
                continue
            entity = _known_entity(name)
            for raw in rows:
                record = records.normalise_seed(entity, raw)
                if record["id"] is None:
                    record["id"] = records.allocate_id(system, entity.name)
                records.store(system, entity.name, record)
            created[entity.name] = created.get(entity.name, 0) + len(rows)
    return created


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, int]:
    """Generate a realistic MSP tenant (see `data.generate`); counts per entity."""
    with sim.lock:
        return data.generate(sim, invoices=invoices, seed=seed, api_user=DEFAULT_USERNAME)


def _known_entity(name: str) -> Entity:
    entity = entity_named(name)
    if entity is None:
        raise ValueError(f"the Autotask simulator has no entity {name!r}")
    return entity


# -- routing ---------------------------------------------------------------------------------


async def _dispatch(sim: Simulator, request: Request) -> tuple[int, Any]:
    segments = [part for part in request.path_params["path"].split("/") if part]
    lowered = [part.lower() for part in segments]
    method = request.method
    if lowered == ["atservicesrest", "v1.0", "zoneinformation"]:
        return _zone_information(sim, request)
    if lowered == ["atservicesrest", "versioninformation"]:
        return 200, {"apiVersions": ["1.0"]}
    if lowered[:1] == ["_admin"]:
        return await _admin(sim, request, lowered[1:])
    if len(lowered) >= 3 and lowered[1] == "atservicesrest":
        zone, rest = lowered[0], segments[2:]
        if [part.lower() for part in rest] == ["versioninformation"]:
            return 200, {"apiVersions": ["1.0"]}
        if rest and rest[0].lower() == "v1.0":
            api = rest[1:]
            if [part.lower() for part in api] == ["zoneinformation"]:
                return _zone_information(sim, request)
            endpoint, handler = _route(api, method, request)
            if zone != str(limits.settings(sim).get("zone", DEFAULT_ZONE)).lower():
                raise AutotaskError(
                    401, "This database is not served from this zone; look the zone up again."
                )
            return await _call_api(sim, request, endpoint, handler, segments[:3])
    raise no_route(str(request.url))


async def _admin(sim: Simulator, request: Request, action: list[str]) -> tuple[int, Any]:
    """Simulator-only stand-ins for UI work: invoice processing and voiding (see billing.py)."""
    if action not in (["processinvoices"], ["voidinvoice"]):
        raise no_route(str(request.url))
    _allow(request.method, "POST")
    raw = await request.body()
    body = decode(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise AutotaskError(400, "Send a JSON object.")
    with sim.lock:
        if action == ["voidinvoice"]:
            billing.void_invoice(sim, int(body["id"]), resource_id=body.get("resourceID"))
            return 200, {"itemId": int(body["id"])}
        day = body.get("invoiceDate")
        ids = billing.process_invoices(
            sim,
            invoice_date=date.fromisoformat(str(day)[:10]) if day else None,
            company_ids=body.get("companyIDs"),
        )
        return 200, {"invoiceIds": ids}


def _route(api: list[str], method: str, request: Request) -> tuple[str, Handler]:
    """The endpoint name (for thread limiting) and its handler; 404/405 as ASP.NET answers."""
    lowered = [part.lower() for part in api]
    url = str(request.url)
    if lowered == ["thresholdinformation"]:
        _allow(method, "GET")
        return "ThresholdInformation", _threshold_information
    if not api:
        raise no_route(url)
    if len(api) >= 3 and api[1].isdigit():
        child = child_route(api[0], api[2])
        if child is not None:
            return child.name, _child_route(child, int(api[1]), api[3:], method, url)
    entity = entity_named(api[0])
    if entity is not None:
        return entity.name, _entity_route(entity, api[1:], lowered[1:], method, request)
    raise no_route(url)


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise method_not_allowed(method)


def _entity_route(
    entity: Entity, rest: list[str], lowered: list[str], method: str, request: Request
) -> Handler:
    url = str(request.url)
    if not rest:
        allowed = []
        if entity.parent is None and entity.can_create:
            allowed.append("POST")
        if entity.parent is None and entity.can_update:
            allowed += ["PATCH", "PUT"]
        _allow(method, *allowed)
        if method == "POST":
            return lambda call: _create(call, entity, None)
        return lambda call: _update(call, entity, None, replace=method == "PUT")
    if lowered == ["query"]:
        _allow(method, "GET", "POST")
        return lambda call: _query(call, entity)
    if lowered == ["query", "count"]:
        _allow(method, "GET", "POST")
        return lambda call: _query(call, entity, count_only=True)
    if lowered in (["query", "next"], ["query", "previous"]):
        # A POST-origin query's page links carry no search: they must be POSTed with the body.
        if method == "GET" and "search" not in request.query_params:
            raise method_not_allowed("GET")
        _allow(method, "GET", "POST")
        return lambda call: _query(call, entity, paged=True)
    if lowered and lowered[0] == "entityinformation":
        return _information_route(entity, lowered[1:], method, url)
    if len(rest) == 1 and rest[0].lstrip("-").isdigit():
        _allow(method, "GET")
        record_id = int(rest[0])
        return lambda call: _get_one(call, entity, record_id)
    raise no_route(url)


def _child_route(entity: Entity, parent_id: int, rest: list[str], method: str, url: str) -> Handler:
    lowered = [part.lower() for part in rest]
    if not rest:
        allowed = ["GET"]
        if entity.can_create:
            allowed.append("POST")
        if entity.can_update:
            allowed += ["PATCH", "PUT"]
        _allow(method, *allowed)
        if method == "GET":
            return lambda call: _children(call, entity, parent_id)
        if method == "POST":
            return lambda call: _create(call, entity, parent_id)
        return lambda call: _update(call, entity, parent_id, replace=method == "PUT")
    if lowered[0] == "entityinformation":
        return _information_route(entity, lowered[1:], method, url)
    if len(rest) == 1 and rest[0].isdigit():
        record_id = int(rest[0])
        _allow(method, "GET", *(["DELETE"] if entity.can_delete else []))
        if method == "DELETE":
            return lambda call: _delete(call, entity, parent_id, record_id)
        return lambda call: _get_one(call, entity, record_id, parent_id=parent_id)
    raise no_route(url)


def _information_route(entity: Entity, rest: list[str], method: str, url: str) -> Handler:
    _allow(method, "GET")
    if rest == []:
        return lambda call: _entity_information(entity)
    if rest == ["fields"]:
        return lambda call: (200, {"fields": [_describe(call.sim, f) for f in entity.fields]})
    if rest == ["userdefinedfields"]:
        return lambda call: _udf_information(call, entity)
    raise no_route(url)


# -- authentication and limits ---------------------------------------------------------------


async def _call_api(
    sim: Simulator, request: Request, endpoint: str, handler: Handler, prefix: list[str]
) -> tuple[int, Any]:
    with sim.lock:
        principal = _authenticate(sim, request)
        delay = limits.count_request(sim)
        slot = limits.take_thread(sim, principal.integration_code, endpoint)
    try:
        delay += float(limits.settings(sim).get("latency_seconds", 0) or 0)
        if delay > 0:
            await asyncio.sleep(delay)
        body = await request.body()
        root = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        call = Call(
            sim=sim,
            method=request.method,
            body=body,
            params=dict(request.query_params),
            api_base=f"{root}{request.scope.get('root_path', '')}/{'/'.join(prefix)}",
            principal=principal,
        )
        with sim.lock:
            return handler(call)
    finally:
        with sim.lock:
            limits.release_thread(sim, slot)


def _api_users(sim: Simulator) -> dict[str, str]:
    extra: dict[str, str] = records.state(sim).extra.get("api_users", {})
    users = {DEFAULT_USERNAME.lower(): DEFAULT_SECRET}
    users.update({name.lower(): secret for name, secret in extra.items()})
    return users


def _authenticate(sim: Simulator, request: Request) -> Principal:
    headers = request.headers
    user, secret = headers.get("username"), headers.get("secret")
    code = headers.get("apiintegrationcode")
    missing = [
        name
        for name, value in (("UserName", user), ("Secret", secret), ("ApiIntegrationCode", code))
        if not value
    ]
    if missing:
        raise AutotaskError(401, f"Missing authentication header(s): {', '.join(missing)}.")
    assert user is not None and secret is not None and code is not None
    users = _api_users(sim)
    if user.lower() not in users:
        raise AutotaskError(500, f"The user name '{user}' does not belong to an API user.")
    if users[user.lower()] != secret:
        raise AutotaskError(401, "User authentication failed: the Secret is not valid.")
    codes = {DEFAULT_INTEGRATION_CODE} | {
        str(c).upper() for c in records.state(sim).extra.get("integration_codes", ())
    }
    if code.upper() not in codes:
        raise AutotaskError(500, "IntegrationCode is invalid.")
    resources = records.state(sim).collection("Resources")
    own = next(
        (
            rid
            for rid, resource in resources.items()
            if str(resource.get("userName") or "").lower() == user.lower()
        ),
        None,
    )
    acting = own
    impersonate = headers.get("impersonationresourceid")
    if impersonate:
        if not impersonate.strip().isdigit() or int(impersonate) not in resources:
            raise AutotaskError(
                500, f"ImpersonationResourceId {impersonate} does not match an active resource."
            )
        acting = int(impersonate)
    return Principal(
        user_name=user, integration_code=code, resource_id=own, acting_resource_id=acting
    )


def _zone_information(sim: Simulator, request: Request) -> tuple[int, Any]:
    if request.method != "GET":
        raise method_not_allowed(request.method)
    user = request.query_params.get("user", "")
    if user.lower() not in _api_users(sim):
        raise AutotaskError(500, "Zone information could not be determined")
    settings = limits.settings(sim)
    zone = settings.get("zone", DEFAULT_ZONE)
    root = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    base = f"{root}{request.scope.get('root_path', '')}/{zone}"
    return 200, {
        "zoneName": settings.get("zone_name", DEFAULT_ZONE_NAME),
        "url": f"{base}/ATServicesRest/",
        "webUrl": f"{base}/web/",
        "ci": int(settings.get("ci", DEFAULT_CI)),
    }


def _threshold_information(call: Call) -> tuple[int, Any]:
    return 200, {
        "externalRequestThreshold": limits.requests_per_hour(call.sim),
        "requestThresholdTimeframe": 60,
        "currentTimeframeRequestCount": limits.requests_this_hour(call.sim),
    }


# -- reads -----------------------------------------------------------------------------------


def _query_body(call: Call) -> tuple[Any, str | None]:
    """The QueryModel and, for GET-origin queries, the `search` text to carry into page links."""
    search = call.params.get("search")
    if call.method == "POST" and call.body.strip():
        return decode(call.body), None
    if search is None:
        raise AutotaskError(500, "A query needs a filter: send it as the body or as search=.")
    return decode(search), search


def _query(
    call: Call, entity: Entity, *, count_only: bool = False, paged: bool = False
) -> tuple[int, Any]:
    body, search = _query_body(call)
    query = filters.parse_query(entity, body, udf_names=records.udf_names(call.sim, entity.name))
    rows = records.state(call.sim).collection(entity.name)
    if count_only:
        return 200, {"queryCount": filters.count(rows, query.matches)}
    page_size, after = query.max_records, -1
    before: list[int] = []
    if paged:
        page_size, before, after = _read_paging(call.params.get("paging"))
    page, more = filters.select_page(rows, query.matches, after=after, size=page_size)
    base = f"{call.api_base}/{entity.name}/query"

    def link(kind: str, previous_ids: list[int], next_id: int) -> str:
        token = {"pageSize": page_size, "previousIds": previous_ids, "nextIds": [next_id]}
        url = f"{base}/{kind}?paging={quote(json.dumps(token, separators=(',', ':')), safe='')}"
        if search is not None:
            url += f"&search={quote(search, safe='')}"
        return url

    next_url = link("next", [*before, after], int(page[-1]["id"])) if more and page else None
    prev_url = link("previous", before[:-1], before[-1]) if before else None
    return 200, {
        "items": [filters.project(record, query.include_fields) for record in page],
        "pageDetails": {
            "count": len(page),
            "requestCount": page_size,
            "prevPageUrl": prev_url,
            "nextPageUrl": next_url,
        },
    }


def _read_paging(text: str | None) -> tuple[int, list[int], int]:
    """A `paging` token: page size, the cursors of the pages before, this page's cursor."""
    bad = AutotaskError(500, "The paging parameter is not valid.")
    if not text:
        raise bad
    try:
        token = json.loads(text)
    except ValueError:
        raise bad from None
    if not isinstance(token, dict):
        raise bad
    keys = {str(key).lower(): value for key, value in token.items()}
    size, before, cursor = keys.get("pagesize"), keys.get("previousids"), keys.get("nextids")
    if (
        not isinstance(size, int)
        or not 1 <= size <= filters.MAX_RECORDS
        or not isinstance(before, list)
        or not isinstance(cursor, list)
        or len(cursor) != 1
        or not all(isinstance(value, int) for value in [*before, *cursor])
    ):
        raise bad
    return size, list(before), int(cursor[0])


def _get_one(
    call: Call, entity: Entity, record_id: int, *, parent_id: int | None = None
) -> tuple[int, Any]:
    record = records.state(call.sim).collection(entity.name).get(record_id)
    if (
        record is not None
        and parent_id is not None
        and entity.parent is not None
        and record.get(entity.parent.parent_field) != parent_id
    ):
        record = None
    if record is None:
        return 404, {"item": None}
    return 200, {"item": filters.project(record, None)}


def _children(call: Call, entity: Entity, parent_id: int) -> tuple[int, Any]:
    assert entity.parent is not None
    parent_field = entity.parent.parent_field
    rows = records.state(call.sim).collection(entity.name)
    page, _more = filters.select_page(
        rows,
        lambda record: record.get(parent_field) == parent_id,
        after=-1,
        size=filters.MAX_RECORDS,
    )
    return 200, {
        "items": [filters.project(record, None) for record in page],
        "pageDetails": {
            "count": len(page),
            "requestCount": filters.MAX_RECORDS,
            "prevPageUrl": None,
            "nextPageUrl": None,
        },
    }


def _entity_information(entity: Entity) -> tuple[int, Any]:
    def access(allowed: bool) -> str:
        return "All" if allowed else "None"

    return 200, {
        "info": {
            "name": entity.name,
            "canCreate": entity.can_create,
            "canDelete": entity.can_delete,
            "canQuery": True,
            "canUpdate": entity.can_update,
            "userAccessForCreate": access(entity.can_create),
            "userAccessForDelete": access(entity.can_delete),
            "userAccessForQuery": "All",
            "userAccessForUpdate": access(entity.can_update),
            "hasUserDefinedFields": entity.has_user_defined_fields,
            "supportsWebhookCallouts": entity.name in ("Companies", "Contacts"),
        }
    }


def _describe(sim: Simulator, field: Field) -> dict[str, Any]:
    picklist: list[dict[str, Any]] | None = None
    if field.picklist:
        picklist = [
            _picklist_value(value, label, order)
            for order, (value, label) in enumerate(field.picklist, start=1)
        ]
    elif field.picklist_entity:
        rows = records.state(sim).collection(field.picklist_entity)
        picklist = [
            _picklist_value(
                row_id,
                str(rows[row_id].get("name") or row_id),
                order,
                active=rows[row_id].get("isActive") is not False,
            )
            for order, row_id in enumerate(sorted(rows), start=1)
        ]
    return {
        "name": field.name,
        "dataType": field.data_type,
        "length": field.length,
        "isRequired": field.required,
        "isReadOnly": field.read_only,
        "isQueryable": field.queryable,
        "isReference": bool(field.reference),
        "referenceEntityType": field.reference,
        "isPickList": field.is_picklist,
        "picklistValues": picklist,
        "picklistParentValueField": "",
        "isSupportedWebhookField": False,
    }


def _picklist_value(value: int, label: str, order: int, *, active: bool = True) -> dict[str, Any]:
    return {
        "value": str(value),
        "label": label,
        "isDefaultValue": False,
        "sortOrder": order,
        "parentValue": "",
        "isActive": active,
        "isSystem": False,
    }


def _udf_information(call: Call, entity: Entity) -> tuple[int, Any]:
    fields = []
    for definition in records.udf_definitions(call.sim, entity.name):
        fields.append(
            {
                "name": definition["name"],
                "dataType": definition.get("dataType", "string"),
                "length": int(definition.get("length", 100)),
                "isRequired": bool(definition.get("isRequired", False)),
                "isReadOnly": False,
                "isQueryable": True,
                "isReference": False,
                "referenceEntityType": "",
                "isPickList": False,
                "picklistValues": None,
                "picklistParentValueField": "",
                "isSupportedWebhookField": False,
            }
        )
    return 200, {"fields": fields}


# -- writes ----------------------------------------------------------------------------------


def _writer(call: Call, entity: Entity) -> records.Writer:
    principal = call.principal
    impersonating = principal.acting_resource_id != principal.resource_id
    return records.Writer(
        call.sim,
        entity,
        actor_id=principal.acting_resource_id,
        impersonator_id=principal.resource_id if impersonating else None,
    )


def _create(call: Call, entity: Entity, parent_id: int | None) -> tuple[int, Any]:
    item_id = _writer(call, entity).create(decode(call.body or b"null"), parent_id=parent_id)
    return 200, {"itemId": item_id}


def _update(call: Call, entity: Entity, parent_id: int | None, *, replace: bool) -> tuple[int, Any]:
    item_id = _writer(call, entity).update(
        decode(call.body or b"null"), replace=replace, parent_id=parent_id
    )
    return 200, {"itemId": item_id}


def _delete(call: Call, entity: Entity, parent_id: int, record_id: int) -> tuple[int, Any]:
    return 200, {"itemId": _writer(call, entity).delete(record_id, parent_id=parent_id)}


__all__ = ["ENTITIES", "build_app", "generate", "seed"]
