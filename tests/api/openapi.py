"""Check API responses against the published OpenAPI document, so contract and code cannot drift.

Usage in any API test::

    response = client.get("/api/v1/health")
    assert_matches_openapi(response)

The operation is found from the request's method and path (templated paths such as
`/api/v1/companies/{company_id}` match), the schema from the response's status code and content
type. The checker understands the JSON Schema that pydantic/django-ninja emit; it is stricter than
JSON Schema in one way on purpose: an object that declares `properties` may not carry keys it does
not declare (unless `additionalProperties` says otherwise), because an undocumented field in a
response is drift too. A keyword it does not understand fails loudly rather than being skipped.
"""

import json
import re
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.test import Client

OPENAPI_URL = "/api/v1/openapi.json"

type Schema = dict[str, Any]

# Keywords that describe rather than constrain; safe to ignore when validating.
_ANNOTATIONS = {
    "title",
    "description",
    "default",
    "examples",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "discriminator",
    "$comment",
}
_HANDLED = {
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "anyOf",
    "oneOf",
    "allOf",
    "enum",
    "const",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
}


def openapi_document(client: Client | None = None) -> Schema:
    """The document as the API publishes it (not as the code builds it internally)."""
    response = (client or Client()).get(OPENAPI_URL)
    assert response.status_code == 200, f"{OPENAPI_URL} answered {response.status_code}"
    document: Schema = json.loads(response.content)
    return document


def find_operation(document: Schema, method: str, path: str) -> tuple[str, Schema]:
    """The path template and operation object that serve `method path`."""
    for template, operations in document["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method.upper()} {path} is not in the OpenAPI document")


def response_schema(
    document: Schema, method: str, path: str, status: int, media: str
) -> Schema | None:
    """The schema the document promises for this answer; None when it declares no body."""
    template, operation = find_operation(document, method, path)
    responses = operation.get("responses", {})
    declared = (
        responses.get(str(status))
        or responses.get(f"{str(status)[0]}XX")
        or responses.get("default")
    )
    if declared is None:
        raise AssertionError(
            f"{method.upper()} {template} answered {status}, which the document does not declare "
            f"(declared: {', '.join(sorted(responses))})"
        )
    content = declared.get("content", {})
    if not content:
        return None
    if media not in content:
        raise AssertionError(
            f"{method.upper()} {template} {status} answered {media!r}; the document declares "
            f"{', '.join(sorted(content)) or 'no body'}"
        )
    schema: Schema = content[media].get("schema", {})
    return schema


def assert_matches_openapi(response: Any, document: Schema | None = None) -> None:
    """Fail with every mismatch if `response` (from the test client) breaks the document."""
    document = document if document is not None else openapi_document()
    method = response.request["REQUEST_METHOD"]
    path = response.request["PATH_INFO"]
    media = response.get("Content-Type", "").split(";")[0].strip()
    schema = response_schema(document, method, path, response.status_code, media)
    if schema is None:
        assert not response.content, f"{method} {path}: a body where the document declares none"
        return
    body = json.loads(response.content) if media.endswith("json") else response.content.decode()
    errors = validate(body, schema, document)
    assert not errors, f"{method} {path} {response.status_code} breaks the OpenAPI document:\n" + (
        "\n".join(errors)
    )


def validate(value: Any, schema: Schema, document: Schema, where: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, as `location: problem` lines (empty when it fits)."""
    unknown = set(schema) - _HANDLED - _ANNOTATIONS
    if unknown:
        raise NotImplementedError(
            f"{where}: tests/api/openapi.py does not check {sorted(unknown)}; teach it"
        )
    if "$ref" in schema:
        return validate(value, _resolve(document, schema["$ref"]), document, where)

    errors: list[str] = []
    if "anyOf" in schema or "oneOf" in schema:
        keyword = "anyOf" if "anyOf" in schema else "oneOf"
        results = [validate(value, option, document, where) for option in schema[keyword]]
        fits = sum(1 for result in results if not result)
        if fits == 0:
            details = "; ".join(" | ".join(result) for result in results)
            errors.append(f"{where}: fits none of {keyword} ({details})")
        elif keyword == "oneOf" and fits > 1:
            errors.append(f"{where}: fits {fits} of oneOf, must fit exactly one")
    for option in schema.get("allOf", []):
        errors += validate(value, option, document, where)
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in types):
            return [*errors, f"{where}: {value!r} is not of type {' or '.join(types)}"]

    if isinstance(value, dict):
        errors += _validate_object(value, schema, document, where)
    elif isinstance(value, list):
        errors += _validate_array(value, schema, document, where)
    elif isinstance(value, str):
        errors += _validate_string(value, schema, where)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        errors += _validate_number(value, schema, where)
    return errors


def _resolve(document: Schema, ref: str) -> Schema:
    if not ref.startswith("#/"):
        raise NotImplementedError(f"only local $refs are supported, not {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    resolved: Schema = node
    return resolved


def _is_type(value: Any, name: str) -> bool:
    match name:
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "null":
            return value is None
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
    raise NotImplementedError(f"unknown JSON Schema type {name!r}")


def _validate_object(
    value: dict[str, Any], schema: Schema, document: Schema, where: str
) -> list[str]:
    errors = [
        f"{where}: missing required property {name!r}"
        for name in schema.get("required", [])
        if name not in value
    ]
    properties: Schema = schema.get("properties", {})
    extra = schema.get("additionalProperties", not properties)
    for key, item in value.items():
        if key in properties:
            errors += validate(item, properties[key], document, f"{where}.{key}")
        elif extra is False:
            errors.append(f"{where}: property {key!r} is not in the document")
        elif isinstance(extra, dict):
            errors += validate(item, extra, document, f"{where}.{key}")
    return errors


def _validate_array(value: list[Any], schema: Schema, document: Schema, where: str) -> list[str]:
    errors: list[str] = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{where}: {len(value)} items, fewer than {schema['minItems']}")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{where}: {len(value)} items, more than {schema['maxItems']}")
    prefix = schema.get("prefixItems", [])
    for index, item in enumerate(value):
        item_schema = prefix[index] if index < len(prefix) else schema.get("items")
        if item_schema is not None:
            errors += validate(item, item_schema, document, f"{where}[{index}]")
    return errors


def _validate_string(value: str, schema: Schema, where: str) -> list[str]:
    errors: list[str] = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{where}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{where}: longer than {schema['maxLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
    fmt = schema.get("format")
    parsers = {"date-time": datetime.fromisoformat, "date": date.fromisoformat, "uuid": UUID}
    if fmt in parsers:
        try:
            parsed = parsers[fmt](value)
        except ValueError:
            errors.append(f"{where}: {value!r} is not a {fmt}")
        else:
            if fmt == "date-time" and isinstance(parsed, datetime) and parsed.tzinfo is None:
                errors.append(f"{where}: {value!r} has no time zone")
    return errors


def _validate_number(value: float, schema: Schema, where: str) -> list[str]:
    checks = [
        ("minimum", lambda bound: value >= bound),
        ("maximum", lambda bound: value <= bound),
        ("exclusiveMinimum", lambda bound: value > bound),
        ("exclusiveMaximum", lambda bound: value < bound),
    ]
    return [
        f"{where}: {value!r} breaks {keyword} {schema[keyword]!r}"
        for keyword, holds in checks
        if keyword in schema and not holds(schema[keyword])
    ]
