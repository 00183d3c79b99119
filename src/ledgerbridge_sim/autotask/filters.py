"""The query language of `{Entity}/query`: a QueryModel body read, checked and evaluated.

    {"MaxRecords": 500, "IncludeFields": ["id", "invoiceNumber"],
     "filter": [{"op": "and", "items": [{"op": "gte", "field": "invoiceDateTime",
                                          "value": "2024-01-01T00:00:00Z"},
                                         {"op": "notExist", "field": "webServiceDate"}]},
                {"op": "in", "field": "companyID", "value": [174, 250]}]}

Keys, operators and field names are matched without regard to case, as the service does.
Top-level conditions are ANDed. Comparisons with a field that has no value are false (the
service runs them as SQL, where NULL compares as unknown); only `notExist` matches a null. Text
compares without regard to case (the database's collation). Everything the service refuses is
refused here with its HTTP 500 `{"errors": [...]}` answer.
"""

from bisect import bisect_right
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ledgerbridge_sim.autotask.entities import Entity
from ledgerbridge_sim.autotask.wire import AutotaskError, format_moment, parse_moment

MAX_RECORDS: Final = 500
MAX_OR_CONDITIONS: Final = 500

type Record = Mapping[str, Any]
type Predicate = Callable[[Record], bool]

_VALUE_OPS: Final = {
    "eq": "eq",
    "noteq": "noteq",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "beginswith": "beginsWith",
    "endswith": "endsWith",
    "contains": "contains",
}
_TEXT_OPS: Final = frozenset({"beginsWith", "endsWith", "contains"})
_EXISTENCE_OPS: Final = {"exist": "exist", "notexist": "notExist"}
_LIST_OPS: Final = {"in": "in", "notin": "notIn"}
_GROUP_OPS: Final = frozenset({"and", "or"})


@dataclass(frozen=True)
class Query:
    max_records: int
    include_fields: tuple[str, ...] | None
    matches: Predicate


def invalid(message: str) -> AutotaskError:
    return AutotaskError(500, message)


def parse_query(entity: Entity, body: Any, *, udf_names: Collection[str] = ()) -> Query:
    """Read a QueryModel for `entity`; raises AutotaskError as the service would answer."""
    if not isinstance(body, dict):
        raise invalid("The query must be a JSON object with a filter.")
    keys = {str(key).lower(): value for key, value in body.items()}
    max_records = _max_records(keys.get("maxrecords"))
    include = _include_fields(entity, keys.get("includefields"))
    filters = keys.get("filter")
    if not isinstance(filters, list) or not filters:
        raise invalid("A query requires at least one filter condition.")
    reader = _FilterReader(entity, {name.lower(): name for name in udf_names})
    predicates = [reader.read(item, inside_or=False) for item in filters]
    if reader.or_conditions > MAX_OR_CONDITIONS:
        raise invalid(
            f"Queries are limited to {MAX_OR_CONDITIONS} or fewer 'OR' conditions; "
            f"this one has {reader.or_conditions}."
        )
    return Query(max_records=max_records, include_fields=include, matches=_all_of(predicates))


def _max_records(value: Any) -> int:
    if value is None:
        return MAX_RECORDS
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise invalid(f"MaxRecords must be a whole number, not {value!r}.")
    if value != int(value) or not 1 <= value <= MAX_RECORDS:
        raise invalid(f"MaxRecords must be between 1 and {MAX_RECORDS}; it was {value}.")
    return int(value)


def _include_fields(entity: Entity, value: Any) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise invalid("IncludeFields must be a list of field names.")
    # Paging follows ids, so the service always returns id.
    names = ["id"]
    for name in value:
        if name.lower() == "userdefinedfields":
            canonical = "userDefinedFields"
        else:
            field = entity.field(name)
            if field is None:
                raise invalid(f"Unable to find field '{name}' in the {entity.name} entity.")
            canonical = field.name
        if canonical not in names:
            names.append(canonical)
    return tuple(names)


class _FilterReader:
    def __init__(self, entity: Entity, udfs: Mapping[str, str]) -> None:
        self.entity = entity
        self.udfs = udfs
        self.or_conditions = 0

    def read(self, item: Any, *, inside_or: bool) -> Predicate:
        if not isinstance(item, dict):
            raise invalid(f"A filter condition must be an object, not {item!r}.")
        keys = {str(key).lower(): value for key, value in item.items()}
        raw_op = keys.get("op")
        if not isinstance(raw_op, str):
            raise invalid("Every filter condition needs an 'op'.")
        op = raw_op.lower()
        if op in _GROUP_OPS:
            items = keys.get("items")
            if not isinstance(items, list) or not items:
                raise invalid(f"The '{op}' condition needs a non-empty 'items' list.")
            nested = [self.read(child, inside_or=inside_or or op == "or") for child in items]
            return _any_of(nested) if op == "or" else _all_of(nested)
        if inside_or:
            self.or_conditions += 1
        name = keys.get("field")
        if not isinstance(name, str) or not name:
            raise invalid(f"The '{raw_op}' condition needs a 'field'.")
        if keys.get("udf") is True:
            return self._udf_condition(op, raw_op, name, keys)
        field = self.entity.field(name)
        if field is None:
            raise invalid(f"Unable to find field '{name}' in the {self.entity.name} entity.")
        if not field.queryable:
            raise invalid(f"The field '{field.name}' of {self.entity.name} cannot be queried.")
        return _condition(field.name, field.data_type, op, raw_op, keys)

    def _udf_condition(self, op: str, raw_op: str, name: str, keys: Mapping[str, Any]) -> Predicate:
        canonical = self.udfs.get(name.lower())
        if canonical is None:
            raise invalid(
                f"Unable to find user-defined field '{name}' in the {self.entity.name} entity."
            )
        folded = canonical.lower()

        def udf_value(record: Record) -> Any:
            for udf in record.get("userDefinedFields") or ():
                if str(udf.get("name", "")).lower() == folded:
                    value = udf.get("value")
                    return None if value in (None, "") else value
            return None

        return _condition(canonical, "string", op, raw_op, keys, read=udf_value)


def _condition(
    name: str,
    data_type: str,
    op: str,
    raw_op: str,
    keys: Mapping[str, Any],
    read: Callable[[Record], Any] | None = None,
) -> Predicate:
    def by_name(record: Record) -> Any:
        return record.get(name)

    get = read or by_name
    if op in _EXISTENCE_OPS:
        if _EXISTENCE_OPS[op] == "exist":
            return lambda record: get(record) is not None
        return lambda record: get(record) is None
    key = _comparable(data_type)
    if op in _LIST_OPS:
        values = keys.get("value")
        if not isinstance(values, list) or not values:
            raise invalid(f"The '{raw_op}' condition on '{name}' needs a non-empty list value.")
        wanted = frozenset(_filter_value(name, data_type, value) for value in values)
        if _LIST_OPS[op] == "in":
            return lambda record: (value := get(record)) is not None and key(value) in wanted
        return lambda record: (value := get(record)) is not None and key(value) not in wanted
    if op not in _VALUE_OPS:
        raise invalid(f"'{raw_op}' is not a valid filter operator.")
    canonical_op = _VALUE_OPS[op]
    if "value" not in keys or keys["value"] is None:
        raise invalid(f"The '{raw_op}' condition on '{name}' needs a value (null is not allowed).")
    if canonical_op in _TEXT_OPS and data_type != "string":
        raise invalid(f"'{raw_op}' can only be used on text fields; '{name}' is {data_type}.")
    wanted_value = _filter_value(name, data_type, keys["value"])
    compare = _COMPARISONS[canonical_op]
    return lambda record: (value := get(record)) is not None and compare(key(value), wanted_value)


_COMPARISONS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "eq": lambda a, b: a == b,
    "noteq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "beginsWith": lambda a, b: a.startswith(b),
    "endsWith": lambda a, b: a.endswith(b),
    "contains": lambda a, b: b in a,
}


def _comparable(data_type: str) -> Callable[[Any], Any]:
    if data_type == "string":
        return lambda value: str(value).casefold()
    return lambda value: value


def _filter_value(name: str, data_type: str, value: Any) -> Any:
    """A filter value converted to the field's type, as the service would bind it."""
    wrong = invalid(f"The value {value!r} is not valid for the {data_type} field '{name}'.")
    if data_type in ("integer", "long"):
        if isinstance(value, bool):
            raise wrong
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise wrong
    if data_type == "decimal":
        if isinstance(value, bool):
            raise wrong
        if isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                raise wrong from None
        else:
            raise wrong
        if not number.is_finite():
            raise wrong
        return number
    if data_type == "boolean":
        # The service wants real JSON booleans here.
        if isinstance(value, bool):
            return value
        raise wrong
    if data_type == "datetime":
        if not isinstance(value, str):
            raise wrong
        try:
            return format_moment(parse_moment(value))
        except ValueError:
            raise wrong from None
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value).casefold()
    raise wrong


def _all_of(predicates: Sequence[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda record: all(predicate(record) for predicate in predicates)


def _any_of(predicates: Sequence[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda record: any(predicate(record) for predicate in predicates)


def select_page(
    rows: Mapping[int, Record], matches: Predicate, *, after: int, size: int
) -> tuple[list[Record], bool]:
    """Up to `size` matching rows with id > `after` in id order, and whether more follow."""
    ids = sorted(rows)
    page: list[Record] = []
    for row_id in ids[bisect_right(ids, after) :]:
        record = rows[row_id]
        if matches(record):
            if len(page) == size:
                return page, True
            page.append(record)
    return page, False


def count(rows: Mapping[int, Record], matches: Predicate) -> int:
    return sum(1 for record in rows.values() if matches(record))


def project(record: Record, include: tuple[str, ...] | None) -> dict[str, Any]:
    """The record as the service sends it: every field, or only those asked for (plus id)."""
    projected = dict(record) if include is None else {name: record.get(name) for name in include}
    if "userDefinedFields" in projected:
        projected["userDefinedFields"] = [dict(udf) for udf in projected["userDefinedFields"] or ()]
    return projected
