"""Autotask REST query filters, typed: build them here, never as hand-written dicts.

The service takes a JSON body (`QueryModel`)::

    {"MaxRecords": 500, "IncludeFields": ["id", ...],
     "filter": [{"op": "and", "items": [{"op": "eq", "field": "isVoided", "value": false}, ...]},
                {"op": "in", "field": "companyID", "value": [174, 250]}]}

Top-level conditions are ANDed; `and`/`or` groups nest. Operators: `eq noteq gt gte lt lte
beginsWith endsWith contains` (one value), `exist notExist` (no value), `in notIn` (a list).
A filter is mandatory, so "every row" is spelt `id gte 0` (`every_row()`).

Values travel as JSON strings, integers or booleans — the three kinds the Swagger's `ValueItem`
holds. Decimals go as their exact text (a float would lose cents), dates and datetimes as
ISO-8601 in UTC. None is refused: the service rejects null values (booleans especially); ask
with `not_exist(field)` instead.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, Literal

type FilterValue = str | int | bool | Decimal | date | datetime
type Scalar = str | int | bool
type JsonValue = Scalar | tuple[Scalar, ...]

type ValueOp = Literal[
    "eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains"
]
type ExistenceOp = Literal["exist", "notExist"]
type ListOp = Literal["in", "notIn"]
type GroupOp = Literal["and", "or"]

VALUE_OPS: Final = frozenset(
    {"eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains"}
)
EXISTENCE_OPS: Final = frozenset({"exist", "notExist"})
LIST_OPS: Final = frozenset({"in", "notIn"})
GROUP_OPS: Final = frozenset({"and", "or"})

MAX_RECORDS: Final = 500
# The service refuses a query with more: "Queries are limited to 500 or fewer 'OR' conditions".
MAX_OR_CONDITIONS: Final = 500


class FilterError(ValueError):
    """A filter the service would refuse; raised while building it, before any call."""


@dataclass(frozen=True)
class Condition:
    """One test on one field: `op` with `value` (a tuple for in/notIn, None for exist/notExist)."""

    op: str
    field: str
    value: JsonValue | None = None
    udf: bool = False

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"op": self.op, "field": self.field}
        if self.value is not None:
            body["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        if self.udf:
            body["udf"] = True
        return body


@dataclass(frozen=True)
class Group:
    """`and` or `or` over nested conditions and groups."""

    op: GroupOp
    items: tuple["Filter", ...]

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "items": [item.to_json() for item in self.items]}


type Filter = Condition | Group


def _field(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise FilterError("A filter needs a field name")
    return name.strip()


def encode_value(value: FilterValue) -> Scalar:
    """A Python value as the service reads it in a filter."""
    # bool before int: True is an int in Python but must stay a JSON boolean.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise FilterError(f"{value} cannot be compared in an Autotask filter")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise FilterError("Datetimes in Autotask filters must be timezone-aware")
        moment = value.astimezone(UTC)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if moment.microsecond:
            text += f".{moment.microsecond // 1000:03d}"
        return text + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if value is None:
        raise FilterError("Autotask rejects null filter values; use not_exist(field) instead")
    if isinstance(value, float):
        raise FilterError("Pass Decimal, not float, to an Autotask filter (floats lose cents)")
    raise FilterError(f"Autotask filters cannot hold a {type(value).__name__}")


def condition(op: str, field: str, value: Any = None, *, udf: bool = False) -> Condition:
    """A condition for any operator, checked; the named helpers below read better."""
    if op in VALUE_OPS:
        return Condition(op, _field(field), encode_value(value), udf)
    if op in EXISTENCE_OPS:
        if value is not None:
            raise FilterError(f"'{op}' takes no value")
        return Condition(op, _field(field), None, udf)
    if op in LIST_OPS:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise FilterError(f"'{op}' needs a list of values")
        values = tuple(encode_value(item) for item in value)
        if not values:
            raise FilterError(f"'{op}' needs at least one value")
        return Condition(op, _field(field), values, udf)
    raise FilterError(f"Unknown Autotask filter operator {op!r}")


def eq(field: str, value: FilterValue, *, udf: bool = False) -> Condition:
    return condition("eq", field, value, udf=udf)


def noteq(field: str, value: FilterValue, *, udf: bool = False) -> Condition:
    return condition("noteq", field, value, udf=udf)


def gt(field: str, value: FilterValue, *, udf: bool = False) -> Condition:
    return condition("gt", field, value, udf=udf)


def gte(field: str, value: FilterValue, *, udf: bool = False) -> Condition:
    return condition("gte", field, value, udf=udf)


def lt(field: str, value: FilterValue, *, udf: bool = False) -> Condition:
    return condition("lt", field, value, udf=udf)


def lte(field: str, value: FilterValue, *, udf: bool = False) -> Condition:
    return condition("lte", field, value, udf=udf)


def begins_with(field: str, value: str, *, udf: bool = False) -> Condition:
    return condition("beginsWith", field, value, udf=udf)


def ends_with(field: str, value: str, *, udf: bool = False) -> Condition:
    return condition("endsWith", field, value, udf=udf)


def contains(field: str, value: str, *, udf: bool = False) -> Condition:
    return condition("contains", field, value, udf=udf)


def exist(field: str, *, udf: bool = False) -> Condition:
    """The field has a value (is not null)."""
    return condition("exist", field, udf=udf)


def not_exist(field: str, *, udf: bool = False) -> Condition:
    """The field is null."""
    return condition("notExist", field, udf=udf)


def in_(field: str, values: Iterable[FilterValue], *, udf: bool = False) -> Condition:
    return condition("in", field, list(values), udf=udf)


def not_in(field: str, values: Iterable[FilterValue], *, udf: bool = False) -> Condition:
    return condition("notIn", field, list(values), udf=udf)


def _group(op: GroupOp, items: Sequence[Filter]) -> Group:
    if not items:
        raise FilterError(f"An '{op}' group needs at least one condition")
    for item in items:
        if not isinstance(item, Condition | Group):
            raise FilterError(f"'{op}' groups hold conditions and groups, not {item!r}")
    return Group(op, tuple(items))


def and_(*items: Filter) -> Group:
    return _group("and", items)


def or_(*items: Filter) -> Group:
    return _group("or", items)


def every_row() -> Condition:
    """The conventional "no filter" filter: the service insists on one."""
    return gte("id", 0)


def or_condition_count(filters: Iterable[Filter]) -> int:
    """How many conditions sit directly or indirectly inside `or` groups (the service caps it)."""
    total = 0
    for item in filters:
        if isinstance(item, Group):
            if item.op == "or":
                total += len(item.items)
            total += or_condition_count(item.items)
    return total


def query_body(
    filters: Sequence[Filter],
    *,
    max_records: int = MAX_RECORDS,
    include_fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The JSON body of `POST /{Entity}/query` (and of every following page)."""
    if not filters:
        raise FilterError("Autotask queries need a filter; use every_row() for all rows")
    if not 1 <= max_records <= MAX_RECORDS:
        raise FilterError(f"MaxRecords must be between 1 and {MAX_RECORDS}")
    if or_condition_count(filters) > MAX_OR_CONDITIONS:
        raise FilterError(
            f"Autotask allows at most {MAX_OR_CONDITIONS} 'or' conditions in one query; "
            "split it or use an 'in' list"
        )
    body: dict[str, Any] = {"MaxRecords": max_records}
    if include_fields:
        fields = [_field(name) for name in include_fields]
        # Paging past the first page relies on id, so it must be among the fields returned.
        if not any(name.lower() == "id" for name in fields):
            fields.insert(0, "id")
        body["IncludeFields"] = fields
    body["filter"] = [item.to_json() for item in filters]
    return body
