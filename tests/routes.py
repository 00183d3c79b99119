"""Every page and API operation LedgerBridge serves, found by walking the URLconf and the API.

Shared by the permissions and isolation tests so that a page added anywhere is checked by both
without anyone listing it.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern, RoutePattern
from ninja.utils import normalize_path

from ledgerbridge.api.api import api
from ledgerbridge.core import clock

# JSON endpoints answer 401 instead of sending people to the sign-in page.
JSON_PREFIXES = ("/_allauth/", "/api/")


@dataclass(frozen=True)
class Page:
    name: str
    route: str
    callback: Callable[..., Any]
    params: dict[str, type]  # parameter name → converter class (str for regex groups)


def walk(
    patterns: list[URLPattern | URLResolver], route: str = "", namespaces: tuple[str, ...] = ()
) -> Iterator[Page]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from walk(pattern.url_patterns, route + str(pattern.pattern), inner)
        else:
            full = route + str(pattern.pattern)
            name = ":".join((*namespaces, pattern.name)) if pattern.name else f"route {full}"
            yield Page(name, full, pattern.callback, _params(full, pattern))


def _params(full_route: str, pattern: URLPattern) -> dict[str, type]:
    params: dict[str, type] = {}
    if isinstance(pattern.pattern, RoutePattern):
        params |= {name: type(conv) for name, conv in pattern.pattern.converters.items()}
    elif isinstance(pattern.pattern, RegexPattern):
        params |= dict.fromkeys(pattern.pattern.regex.groupindex, str)
    # Parameters of enclosing include()s.
    for name in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", full_route):
        key = name[0] or name[1]
        params.setdefault(key, str)
    return params


def every_page() -> list[Page]:
    """Every URL pattern except django-ninja's operations (those are checked as operations)."""
    operations = {operation.path for operation in api_operations()}
    return [
        page
        for page in walk(get_resolver().url_patterns)
        if "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", page.route) not in operations
    ]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the OpenAPI document: /api/v1/tokens/{token_id}/revoke
    view_func: Callable[..., Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def api_operations() -> list[Operation]:
    root = reverse(f"{api.urls_namespace}:api-root").lstrip("/")
    found = []
    for bound in api._get_bound_routers():
        for path, path_view in bound.path_operations.items():
            full = normalize_path(
                "/" + root + "/".join(part for part in (bound.prefix, path) if part)
            )
            full = re.sub(r"{[^}:]+:", "{", full)
            for operation in path_view.operations:
                for method in operation.methods:
                    found.append(Operation(method.upper(), full, operation.view_func))
    return found


def example_of(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """A smallest value that fits `schema`, so validation passes and the permission check runs."""
    if "$ref" in schema:
        node: Any = document
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        return example_of(node, document)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            options = [option for option in schema[keyword] if option.get("type") != "null"]
            return example_of(options[0], document)
    if "allOf" in schema:
        return example_of(schema["allOf"][0], document)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_of(properties[name], document) for name in schema.get("required", [])}
    if kind == "array":
        return [example_of(schema.get("items", {}), document)] * schema.get("minItems", 0)
    if kind == "string":
        formats = {
            "email": "permissions-test@northwind.example",
            "date-time": clock.now().isoformat(),
            "date": clock.now().date().isoformat(),
            "uuid": str(UUID(int=1)),
        }
        return formats.get(schema.get("format", ""), "p" * max(1, schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    raise AssertionError(f"no example for {schema}")


def describe(response: Any) -> str:
    location = response.get("Location")
    return f"{response.status_code}" + (f" → {location}" if location else "")


def isolated[T](run: Callable[[], T]) -> T:
    """Run one visit in a savepoint that is rolled back, so visits cannot affect each other."""
    with transaction.atomic():
        result = run()
        transaction.set_rollback(True)
    return result
