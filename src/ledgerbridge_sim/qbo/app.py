"""The QuickBooks Online Accounting API simulator, served under `/qbo/`.

A client talks to it as to `https://quickbooks.api.intuit.com`, with the simulator's base URL
in place of Intuit's: `{base}/qbo/v3/company/{realmId}/…` with `Authorization: Bearer <token>`
(from the OAuth routes, or `ledgerbridge_sim.oauth.issue_tokens(sim, "qbo", (realm_id,))` in
tests) and `Accept: application/json`. Without that Accept header the answer is XML, as QBO's is.

Endpoints (entity path segments lower-case, any case accepted):

- `POST {entity}` create; with `Id` + `SyncToken` an update (full, or `"sparse": true`);
  `?operation=delete` / `?operation=void` where the entity allows (Invoice, CreditMemo delete;
  Invoice, Payment void; Payment delete). `GET {entity}/{Id}` reads one.
- `GET preferences`, `POST preferences` (sections merge), `GET companyinfo/{realmId}`.
- `GET query?query=SELECT …` or `POST query` with the statement as `application/text` (see
  query.py for the grammar).
- `POST batch` with `{"BatchItemRequest": [{"bId", "operation", "<Entity>": {…}} | {"bId",
  "Query": "…"}]}`: at most 30 items, run in order, each answering its entity or its own Fault;
  an item cannot reference an object created earlier in the same batch, as in QBO.

Entities: Customer, Vendor, Employee, Item (Category parents), Account, TaxCode, TaxRate (read
only), Term, Class, Department, Preferences, CompanyInfo, Invoice, CreditMemo, Payment. Rules
and their Faults are listed in entities.py, arithmetic in sales.py, each realm's starting data
in company.py. `minorversion` is accepted (QBO answers anything below 75 as 75; nothing in this
simulator differs by minor version). `requestid` on a POST (≤ 50 characters, ≤ 36 on a batch)
replays the first answer for that realm and id without writing again. Every answer carries an
`intuit_tid` header and the envelope `time` in Pacific time.

Errors: 401 the lower-case `fault` body with `WWW-Authenticate`; a token that does not cover
the realm (or a realm not in `ledgerbridge_sim.organisations`) 403 ApplicationAuthorizationFailed
(3100); throttling 429 Fault 3001 (see limits.py for the limits and the knobs in
`sim.settings["qbo"]`: `requests_per_minute`, `requests_per_second`, `batches_per_minute`,
`throttling`).

Records are stored in `sim.system("qbo").collection(<Entity>)` keyed by int Id with a `realmId`
field (see store.py); `GET /_sim/state/qbo/Invoice` shows them. `seed` and `generate` below fill
realms for tests and demos.
"""

import logging
import random
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerbridge_sim import jsonio, oauth
from ledgerbridge_sim.qbo import company, entities, faults, limits, query
from ledgerbridge_sim.qbo.faults import QboError
from ledgerbridge_sim.qbo.store import SINGLETONS, Realm
from ledgerbridge_sim.state import Simulator

logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS: Final = 30
MAX_REQUEST_ID: Final = 50
MAX_BATCH_REQUEST_ID: Final = 36
MAX_BATCH_ID_WITH_REQUEST_ID: Final = 10
QUERY_ENTITIES: Final = {name.lower(): name for name in entities.ENTITIES}
# XML attributes (not elements) in QBO's schema, for answers to clients that did not ask for JSON.
XML_ATTRIBUTES: Final = frozenset(
    {
        "type",
        "code",
        "element",
        "domain",
        "sparse",
        "status",
        "bId",
        "startPosition",
        "maxResults",
        "totalCount",
        "name",
    }
)


def build_app(sim: Simulator) -> Starlette:
    async def serve(request: Request) -> Response:
        status, body, headers = await _answer(sim, request)
        headers["intuit_tid"] = f"1-{secrets.token_hex(4)}-{secrets.token_hex(8)}"
        if status == 401 or "json" in request.headers.get("accept", "").lower():
            payload, media_type = faults.encode(body), "application/json;charset=UTF-8"
        else:
            payload, media_type = _xml(body), "application/xml;charset=UTF-8"
        return Response(payload, status_code=status, headers=headers, media_type=media_type)

    return Starlette(
        routes=[Route("/v3/company/{realm_id}/{rest:path}", serve, methods=["GET", "POST"])]
    )


async def _answer(sim: Simulator, request: Request) -> tuple[int, Any, dict[str, str]]:
    grant = oauth.authenticate(sim, "qbo", request.headers.get("authorization"))
    if grant is None:
        return 401, faults.unauthorised_body(sim.clock.now()), dict(faults.UNAUTHORISED_HEADERS)
    realm_id = request.path_params["realm_id"]
    raw = await request.body()
    request_id: str | None = None  # set once the request is admitted; its answer is kept
    with sim.lock:
        try:
            if realm_id not in grant.organisation_ids:
                raise faults.forbidden()
            realm = company.realm_for(sim, realm_id)
            if realm is None:
                raise faults.forbidden()
            segments = [part for part in request.path_params["rest"].split("/") if part]
            is_batch = [part.lower() for part in segments] == ["batch"]
            limits.count_request(sim, realm_id, batch=is_batch)
            if request.method == "POST" and "requestid" in request.query_params:
                _check_request_id(request.query_params["requestid"], batch=is_batch)
                request_id = request.query_params["requestid"]
                replies = sim.system("qbo").extra.setdefault("replies", {})
                if (realm_id, request_id) in replies:
                    status, body = replies[(realm_id, request_id)]
                    return status, body, {}
            status, body = 200, _dispatch(realm, request, segments, raw)
        except QboError as fault:
            status, body = fault.status, {"Fault": fault.fault()}
        except Exception as error:  # QBO's SystemFault, with the cause for whoever reads the log
            logger.exception("QuickBooks simulator failed on %s %s", request.method, request.url)
            status, request_id = 500, None
            body = {
                "Fault": {
                    "Error": [
                        {
                            "Message": "An application error has occurred while processing your "
                            "request",
                            "Detail": f"System Failure Error: {type(error).__name__}",
                            "code": "10000",
                            "element": "",
                        }
                    ],
                    "type": "SystemFault",
                }
            }
        body["time"] = faults.time_text(sim.clock.now())
        if request_id is not None:
            replies = sim.system("qbo").extra.setdefault("replies", {})
            replies[(realm_id, request_id)] = (status, body)
        return status, body, {}


def _check_request_id(request_id: str, *, batch: bool) -> None:
    maximum = MAX_BATCH_REQUEST_ID if batch else MAX_REQUEST_ID
    if len(request_id) > maximum:
        raise faults.business_validation(
            f"You cannot enter more than {maximum} characters in the request_id field. "
            f"You tried entering {request_id[:10]}..., which is {len(request_id)} characters.",
            "requestid",
        )


def _dispatch(realm: Realm, request: Request, segments: list[str], raw: bytes) -> dict[str, Any]:
    lowered = [part.lower() for part in segments]
    method = request.method
    if lowered == ["query"]:
        if method == "GET":
            text = request.query_params.get("query", "")
        else:
            text = raw.decode("utf-8", errors="replace")
        return {"QueryResponse": run_query(realm, text)}
    if lowered == ["batch"] and method == "POST":
        has_request_id = request.query_params.get("requestid") is not None
        return {"BatchItemResponse": run_batch(realm, _json(raw), has_request_id=has_request_id)}
    if not lowered or lowered[0] not in entities.BY_PATH or len(lowered) > 2:
        raise faults.invalid_property(f"Unsupported operation: {method} /{'/'.join(segments)}")
    entity = entities.BY_PATH[lowered[0]]
    if method == "GET":
        if len(segments) == 1 and entity not in SINGLETONS:
            raise faults.invalid_property(
                f"Unsupported operation: GET /{segments[0]} without an Id"
            )
        return {entity: entities.read(realm, entity, segments[1] if len(segments) == 2 else None)}
    if len(segments) != 1:
        raise faults.invalid_property(f"Unsupported operation: POST /{'/'.join(segments)}")
    operation = request.query_params.get("operation", "create").lower()
    return {entity: entities.write(realm, entity, _json(raw), operation)}


def _json(raw: bytes) -> Any:
    try:
        return jsonio.loads(raw) if raw.strip() else None
    except ValueError:
        raise faults.invalid_property("The request body is not valid JSON") from None


def run_query(realm: Realm, text: str) -> dict[str, Any]:
    if not text.strip():
        raise faults.query_parser('Encountered "<EOF>" at line 1, column 1.')
    return query.run(realm, query.parse(text, QUERY_ENTITIES))


def run_batch(realm: Realm, body: Any, *, has_request_id: bool) -> list[dict[str, Any]]:
    """Each item runs on its own; later items cannot see what earlier ones created."""
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise faults.required_missing("BatchItemRequest")
    if len(items) > MAX_BATCH_ITEMS:
        raise faults.invalid_property(
            f"Too many items in the batch request: {len(items)} sent, at most "
            f"{MAX_BATCH_ITEMS} supported",
            "BatchItemRequest",
        )
    realm = Realm(realm.sim, realm.organisation, hiding=True)
    answers = []
    for item in items:
        batch_id = item.get("bId") if isinstance(item, dict) else None
        try:
            answers.append({"bId": batch_id, **_batch_item(realm, item, has_request_id)})
        except QboError as fault:
            answers.append({"bId": batch_id, "Fault": fault.fault()})
    return answers


def _batch_item(realm: Realm, item: Any, has_request_id: bool) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise faults.invalid_property("Each BatchItemRequest must be an object")
    batch_id = item.get("bId")
    if not batch_id:
        raise faults.required_missing("bId")
    if has_request_id and len(str(batch_id)) > MAX_BATCH_ID_WITH_REQUEST_ID:
        raise faults.string_length("bId", len(str(batch_id)), MAX_BATCH_ID_WITH_REQUEST_ID)
    if "Query" in item:
        return {"QueryResponse": run_query(realm, str(item["Query"]))}
    named = [key for key in item if key in entities.ENTITIES]
    if len(named) != 1:
        raise faults.required_missing("the entity of the batch item")
    operation = item.get("operation")
    if not operation:
        raise faults.required_missing("operation")
    entity = named[0]
    return {entity: entities.write(realm, entity, item[entity], str(operation).lower())}


# -- XML for clients that did not ask for JSON ----------------------------------------------


def _xml(body: dict[str, Any]) -> bytes:
    time = body.get("time", "")
    inner = "".join(_xml_element(k, v) for k, v in body.items() if k != "time")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time={quoteattr(str(time))}>'
        f"{inner}</IntuitResponse>"
    ).encode()


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(f"{value:f}" if isinstance(value, Decimal) else str(value))


def _xml_element(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_xml_element(name, item) for item in value)
    if not isinstance(value, dict):
        return "" if value is None else f"<{name}>{_xml_text(value)}</{name}>"
    attributes = "".join(
        f" {k}={quoteattr(_xml_text(v))}"
        for k, v in value.items()
        if k in XML_ATTRIBUTES and not isinstance(v, (dict, list)) and v is not None
    )
    text = _xml_text(value["value"]) if "value" in value else ""
    children = "".join(
        _xml_element(k, v) for k, v in value.items() if k not in XML_ATTRIBUTES and k != "value"
    )
    return f"<{name}{attributes}>{text}{children}</{name}>"


# -- seeding and generation ----------------------------------------------------------------

SEED_ORDER: Final = (
    "Preferences",
    "CompanyInfo",
    "TaxRate",
    "TaxCode",
    "Account",
    "Term",
    "Class",
    "Department",
    "Item",
    "Customer",
    "Vendor",
    "Employee",
    "Invoice",
    "CreditMemo",
    "Payment",
)


def seed(sim: Simulator, records: dict[str, Any]) -> dict[str, Any]:
    """Add records to a realm in QBO's JSON shape, through the same rules as the API.

    `{"realm": "<realmId>" (default: the first listed), "Customer": [...], "Invoice": [...]}`.
    A record may carry its `Id`; totals, balances and names are computed as on create.
    Preferences/CompanyInfo (an object or a one-item list) merge into the realm's own.
    Raises ValueError naming the record QBO would refuse.
    """
    unknown = set(records) - set(SEED_ORDER) - {"realm"}
    if unknown:
        raise ValueError(f"the QuickBooks simulator has no entity {sorted(unknown)}")
    with sim.lock:
        realm_id = str(records.get("realm") or company.first_realm_id(sim))
        realm = company.realm_for(sim, realm_id)
        if realm is None:
            raise ValueError(f"realm {realm_id} is not in the organisation registry")
        created: dict[str, int] = {}
        for entity in SEED_ORDER:
            rows = records.get(entity)
            if rows is None:
                continue
            rows = [rows] if isinstance(rows, dict) else rows
            for row in rows:
                _seed_one(realm, entity, jsonio.decimals_for_floats(row))
            created[entity] = len(rows)
        return {"realm": realm_id, **created}


def _seed_one(realm: Realm, entity: str, row: dict[str, Any]) -> None:
    try:
        if entity in SINGLETONS:
            current = realm.singleton(entity)
            entities.write(realm, entity, {**row, "SyncToken": current["SyncToken"]}, "update")
        elif entity in ("TaxRate", "TaxCode"):
            record = {k: v for k, v in row.items() if k not in entities.ALWAYS_READ_ONLY}
            realm.insert(entity, record, record_id=_seed_id(row))
        else:
            spec = entities.ENTITIES[entity]
            record = {
                k: v
                for k, v in row.items()
                if k not in entities.ALWAYS_READ_ONLY and k not in spec.computed
            }
            effect = spec.prepare(realm, record, None)
            stored = realm.insert(entity, record, record_id=_seed_id(row))
            if effect is not None:
                effect(stored)
    except QboError as fault:
        raise ValueError(f"{entity} {row.get('Id', '')}: {fault}") from None


def _seed_id(row: dict[str, Any]) -> int | None:
    value = row.get("Id")
    return int(value) if value not in (None, "") else None


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, Any]:
    """A realistic MSP company in the first realm: clients, catalogue, invoices, payments.

    About one customer per four invoices (at least five), invoices over the past year with one
    to four lines, two in five paid in full, one in ten part-paid, one in fifteen credited.
    """
    rng = random.Random(seed)
    with sim.lock:
        realm = company.realm_for(sim, company.first_realm_id(sim))
        assert realm is not None
        counts = {"Customer": 0, "Item": 0, "Invoice": 0, "Payment": 0, "CreditMemo": 0}
        income = realm.find_by_name("Account", "Services")
        category = realm.find_by_name("Item", "Managed Services")
        assert income is not None and category is not None
        catalogue = [
            ("Backup Per Server", Decimal("45")),
            ("Security Suite", Decimal("9.50")),
            ("Microsoft 365 Business", Decimal("22")),
            ("After-hours Support", Decimal("210")),
        ]
        tax_code = None
        if not realm.is_us_automated_tax():
            tax_code = realm.find_by_name(
                "TaxCode", company.STANDARD_TAX_CODE.get(realm.country, "")
            )
        for name, price in catalogue:
            if realm.find_by_name("Item", name) is None:
                new_item: dict[str, Any] = {
                    "Name": name,
                    "Type": "Service",
                    "UnitPrice": price,
                    "SubItem": True,
                    "ParentRef": {"value": category["Id"]},
                    "Taxable": True,
                    "IncomeAccountRef": {"value": income["Id"]},
                }
                if tax_code is not None:
                    new_item["SalesTaxCodeRef"] = {"value": tax_code["Id"]}
                entities.write(realm, "Item", new_item, "create")
                counts["Item"] += 1
        items = [
            r for r in realm.rows("Item") if r.get("Type") != "Category" and r.get("UnitPrice")
        ]
        states = list(company.AST_RATES) if realm.country == "US" else [None]
        customers = []
        prefixes = [
            "North",
            "Harbor",
            "Summit",
            "Maple",
            "Granite",
            "Riverside",
            "Pioneer",
            "Lakeside",
        ]
        trades = ["Dental", "Legal", "Logistics", "Clinic", "Accounting", "Architects", "Realty"]
        for index in range(max(5, invoices // 4)):
            name = f"{rng.choice(prefixes)} {rng.choice(trades)} {index + 1:04d}"
            address: dict[str, Any] = {
                "Line1": f"{rng.randint(1, 999)} Main Street",
                "City": "Springfield",
            }
            state = rng.choice(states)
            if state:
                address["CountrySubDivisionCode"] = state
            customer = entities.write(
                realm,
                "Customer",
                {
                    "DisplayName": name,
                    "CompanyName": name,
                    "BillAddr": address,
                    "PrimaryEmailAddr": {"Address": f"ap{index + 1}@client.example"},
                },
                "create",
            )
            customers.append(customer)
            counts["Customer"] += 1
        today = realm.today()
        for number in range(invoices):
            customer = rng.choice(customers)
            lines: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 4)):
                item = rng.choice(items)
                detail: dict[str, Any] = {
                    "ItemRef": {"value": item["Id"]},
                    "Qty": Decimal(rng.randint(1, 40)),
                    "UnitPrice": Decimal(item["UnitPrice"]),
                }
                if tax_code is not None:
                    detail["TaxCodeRef"] = {"value": tax_code["Id"]}
                else:
                    detail["TaxCodeRef"] = {"value": "TAX"}
                lines.append(
                    {
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": detail,
                        "Description": item["Name"],
                    }
                )
            txn_date = today - timedelta(days=rng.randint(0, 365))
            invoice = entities.write(
                realm,
                "Invoice",
                {
                    "CustomerRef": {"value": customer["Id"]},
                    "DocNumber": f"MSP-{number + 1:06d}",
                    "TxnDate": txn_date.isoformat(),
                    "Line": lines,
                },
                "create",
            )
            counts["Invoice"] += 1
            roll = rng.random()
            if roll < 0.5:
                amount = (
                    invoice["TotalAmt"]
                    if roll < 0.4
                    else (invoice["TotalAmt"] / 2).quantize(Decimal("0.01"))
                )
                entities.write(
                    realm,
                    "Payment",
                    {
                        "CustomerRef": {"value": customer["Id"]},
                        "TotalAmt": amount,
                        "TxnDate": min(
                            today, txn_date + timedelta(days=rng.randint(5, 40))
                        ).isoformat(),
                        "PaymentRefNum": f"EFT{rng.randint(10000, 99999)}",
                        "Line": [
                            {
                                "Amount": amount,
                                "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                            }
                        ],
                    },
                    "create",
                )
                counts["Payment"] += 1
            elif roll < 0.5 + 1 / 15:
                credit_line = dict(lines[0])
                credit_line["SalesItemLineDetail"] = {
                    **lines[0]["SalesItemLineDetail"],
                    "Qty": Decimal(1),
                }
                entities.write(
                    realm,
                    "CreditMemo",
                    {
                        "CustomerRef": {"value": customer["Id"]},
                        "TxnDate": txn_date.isoformat(),
                        "Line": [credit_line],
                    },
                    "create",
                )
                counts["CreditMemo"] += 1
        return {"realm": realm.id, **counts}
