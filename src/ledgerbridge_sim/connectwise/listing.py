"""Lists as the API serves them: filtered, ordered, paged (navigable or forward-only), projected.

Navigable pages (`page`, `pageSize`) answer with a `Link` header naming first/prev/next/last,
`page` kept last in each URL (pyconnectwise only reads links ending in `page=N>`). Forward-only
mode (`pagination-type: forward-only`) orders by id, reads `pageId` as "id greater than", and
links only `rel="next"`, carrying the last id of the page; the final page has no `Link` header.
"""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from ledgerbridge_sim.connectwise import conditions as cq
from ledgerbridge_sim.connectwise.errors import CwError
from ledgerbridge_sim.connectwise.http import Call, Reply
from ledgerbridge_sim.connectwise.schema import field_set

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
_PAGING_PARAMS = {"page", "pagesize", "pageid"}


def query_error(error: cq.ConditionError) -> CwError:
    # [U] the real text for a malformed expression is not documented; InvalidObject per §3.1.
    return CwError(
        400,
        "InvalidObject",
        f"The {error.parameter} parameter is invalid: {error.detail}",
        [
            {
                "code": "InvalidQuery",
                "message": error.detail,
                "resource": error.parameter,
                "field": error.parameter,
            }
        ],
    )


def _integer(call: Call, name: str, default: int | None) -> int | None:
    text = call.param(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise CwError(
            400,
            "InvalidObject",
            f"The value '{text}' is not valid for {name}.",
            [
                {
                    "code": "InvalidField",
                    "message": f"{name} must be a whole number",
                    "resource": name,
                    "field": name,
                }
            ],
        ) from None


def filtered(
    call: Call, records: Iterable[dict[str, Any]], collection: str
) -> list[dict[str, Any]]:
    """Apply conditions, childConditions and customFieldConditions."""
    fields = field_set(call.state, collection)
    rows = records if isinstance(records, list) else list(records)
    # Compile every expression before looking at a row, so a malformed one is refused even
    # when there is nothing to filter (the real API parses the query first).
    predicates = []
    try:
        for name in ("conditions", "childConditions"):
            text = call.param(name)
            if text and text.strip():
                predicates.append(cq.compile_conditions(text, fields, name))
        text = call.param("customFieldConditions")
        if text and text.strip():
            predicates.append(cq.compile_custom_field_conditions(text))
        for predicate in predicates:
            rows = [row for row in rows if predicate(row)]
    except cq.ConditionError as error:
        raise query_error(error) from None
    return rows


def count_reply(call: Call, records: Iterable[dict[str, Any]], collection: str) -> Reply:
    return Reply(200, {"count": len(filtered(call, records, collection))})


def one_reply(call: Call, record: dict[str, Any], collection: str) -> Reply:
    text = call.param("fields")
    if text and text.strip():
        try:
            record = cq.project(record, cq.parse_fields(text, field_set(call.state, collection)))
        except cq.ConditionError as error:
            raise query_error(error) from None
    return Reply(200, record)


def list_reply(call: Call, records: Iterable[dict[str, Any]], collection: str) -> Reply:
    fields = field_set(call.state, collection)
    page = _integer(call, "page", 1) or 1
    size = _integer(call, "pageSize", DEFAULT_PAGE_SIZE)
    page_id = _integer(call, "pageId", None)
    forward_only = call.headers.get("pagination-type", "").strip().lower() == "forward-only"
    if size is None or size < 1 or size > MAX_PAGE_SIZE:
        # [U] whether the API clamps or refuses is undocumented; refusing flushes out bad clients.
        raise CwError(
            400,
            "InvalidObject",
            f"pageSize must be between 1 and {MAX_PAGE_SIZE}.",
            [
                {
                    "code": "InvalidField",
                    "message": f"pageSize {size} is out of range",
                    "resource": "pageSize",
                    "field": "pageSize",
                }
            ],
        )
    if page < 1:
        raise CwError(
            400,
            "InvalidObject",
            "page must be 1 or more.",
            [
                {
                    "code": "InvalidField",
                    "message": f"page {page} is out of range",
                    "resource": "page",
                    "field": "page",
                }
            ],
        )
    rows = filtered(call, records, collection)
    if page_id is not None or forward_only:
        after = page_id or 0
        rows = [row for row in rows if (row.get("id") or 0) > after]
    try:
        order_text = call.param("orderBy")
        if forward_only or not (order_text and order_text.strip()):
            rows = cq.order_records(rows, [])
        else:
            rows = cq.order_records(rows, cq.parse_order_by(order_text, fields))
        fields_text = call.param("fields")
        projection = (
            cq.parse_fields(fields_text, fields) if fields_text and fields_text.strip() else None
        )
    except cq.ConditionError as error:
        raise query_error(error) from None

    headers: dict[str, str] = {}
    if forward_only:
        chunk = rows[:size]
        if len(rows) > size:
            headers["Link"] = f'<{_link(call, size, pageId=chunk[-1]["id"])}>; rel="next"'
    else:
        start = (page - 1) * size
        chunk = rows[start : start + size]
        last = max(1, -(-len(rows) // size))
        links = []
        if page > 1:
            links.append(f'<{_link(call, size, page=1)}>; rel="first"')
            links.append(f'<{_link(call, size, page=min(page - 1, last))}>; rel="prev"')
        if page < last:
            links.append(f'<{_link(call, size, page=page + 1)}>; rel="next"')
            links.append(f'<{_link(call, size, page=last)}>; rel="last"')
        if links:
            headers["Link"] = ", ".join(links)
    body = [cq.project(row, projection) for row in chunk] if projection else chunk
    return Reply(200, body, headers)


def _link(call: Call, size: int, **paging: int) -> str:
    kept = [(k, v) for k, v in call.query.multi_items() if k.lower() not in _PAGING_PARAMS]
    kept.append(("pageSize", str(size)))
    kept += [(name, str(value)) for name, value in paging.items()]
    return str(call.url.replace(query=urlencode(kept)))
