"""ConnectWise query parameters (`conditions`, `childConditions`, `orderBy`, `fields`), typed.

Build conditions here, never by formatting strings: a customer called `Bob "the" Builder` or a
value with a backslash must not change the meaning of the query. The grammar the API reads::

    company/id = 250 and (status/name = "Closed" or dateEntered > [2024-01-01T00:00:00Z])

- strings in double quotes; a quote or backslash inside is escaped with a backslash
  (`"Bob \\"the\\" Builder"`), the escaping CW clients use
- numbers bare (Decimals as their exact digits), `true`/`false`, `null`
- date-times in square brackets, UTC, second precision, `Z`
- lists in parentheses after `in` / `not in`: `(1,42,43)`, `("A","B")`
- operators `= != < <= > >= contains like not contains not like in not in`; `like` takes `%`
- `and` / `or` with parentheses; this builder parenthesises every nested group, so precedence
  never depends on the reader.

Anything the API would refuse (an empty `in` list, `null` with `<`, a float, a naive datetime,
a field name with spaces) raises `ConditionError` while building, before any request.
"""

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, Literal

type Scalar = str | int | Decimal | bool | datetime | date
type Value = Scalar | None
type Operator = Literal[
    "=", "!=", "<", "<=", ">", ">=", "contains", "like", "not contains", "not like", "in", "not in"
]

COMPARISONS: Final = frozenset({"=", "!=", "<", "<=", ">", ">="})
TEXT_OPERATORS: Final = frozenset({"contains", "like", "not contains", "not like"})
LIST_OPERATORS: Final = frozenset({"in", "not in"})
OPERATORS: Final = COMPARISONS | TEXT_OPERATORS | LIST_OPERATORS

# Keep each URL well under the ~2,000 characters ConnectWise accepts (psa-apis §1.5).
MAX_CONDITION_LENGTH: Final = 1500

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")


class ConditionError(ValueError):
    """A condition ConnectWise would refuse; raised while building it."""


@dataclass(frozen=True)
class Comparison:
    field: str
    op: Operator
    value: Value | tuple[Scalar, ...]

    def __post_init__(self) -> None:
        _check_field(self.field)
        if self.op not in OPERATORS:
            raise ConditionError(f"{self.op!r} is not a ConnectWise operator")
        if self.op in LIST_OPERATORS:
            if not isinstance(self.value, tuple) or not self.value:
                raise ConditionError(f"{self.field} {self.op} needs at least one value")
            for item in self.value:
                if item is None:
                    raise ConditionError(f"{self.field} {self.op}: null cannot be in a list")
                _literal(item)  # refuses floats and the like early
        elif isinstance(self.value, tuple):
            raise ConditionError(f"{self.field} {self.op} takes one value, not a list")
        elif self.value is None and self.op not in ("=", "!="):
            raise ConditionError(f"{self.field} {self.op} null: only = and != compare with null")
        elif self.op in TEXT_OPERATORS and not isinstance(self.value, str):
            raise ConditionError(f"{self.field} {self.op} needs text")
        else:
            _literal(self.value)

    def render(self) -> str:
        if isinstance(self.value, tuple):
            rendered = "(" + ",".join(_literal(item) for item in self.value) + ")"
        else:
            rendered = _literal(self.value)
        return f"{self.field} {self.op} {rendered}"

    def __and__(self, other: "Condition") -> "Group":
        return all_of(self, other)

    def __or__(self, other: "Condition") -> "Group":
        return any_of(self, other)


@dataclass(frozen=True)
class Group:
    op: Literal["and", "or"]
    items: tuple["Condition", ...]

    def __post_init__(self) -> None:
        if self.op not in ("and", "or"):
            raise ConditionError(f"{self.op!r} is not and/or")
        if not self.items:
            raise ConditionError(f"an '{self.op}' group needs at least one condition")

    def render(self) -> str:
        if len(self.items) == 1:
            return self.items[0].render()
        parts = [
            f"({item.render()})" if isinstance(item, Group) else item.render()
            for item in self.items
        ]
        return f" {self.op} ".join(parts)

    def __and__(self, other: "Condition") -> "Group":
        return all_of(self, other)

    def __or__(self, other: "Condition") -> "Group":
        return any_of(self, other)


type Condition = Comparison | Group


@dataclass(frozen=True)
class Field:
    """A field to compare: `field("company/id").eq(250)`."""

    name: str

    def __post_init__(self) -> None:
        _check_field(self.name)

    def eq(self, value: Value) -> Comparison:
        return Comparison(self.name, "=", value)

    def ne(self, value: Value) -> Comparison:
        return Comparison(self.name, "!=", value)

    def lt(self, value: Scalar) -> Comparison:
        return Comparison(self.name, "<", value)

    def le(self, value: Scalar) -> Comparison:
        return Comparison(self.name, "<=", value)

    def gt(self, value: Scalar) -> Comparison:
        return Comparison(self.name, ">", value)

    def ge(self, value: Scalar) -> Comparison:
        return Comparison(self.name, ">=", value)

    def contains(self, text: str) -> Comparison:
        return Comparison(self.name, "contains", text)

    def not_contains(self, text: str) -> Comparison:
        return Comparison(self.name, "not contains", text)

    def like(self, pattern: str) -> Comparison:
        """`%` matches any run of characters."""
        return Comparison(self.name, "like", pattern)

    def not_like(self, pattern: str) -> Comparison:
        return Comparison(self.name, "not like", pattern)

    def is_in(self, values: Iterable[Scalar]) -> Comparison:
        return Comparison(self.name, "in", tuple(values))

    def not_in(self, values: Iterable[Scalar]) -> Comparison:
        return Comparison(self.name, "not in", tuple(values))

    def is_null(self) -> Comparison:
        return Comparison(self.name, "=", None)

    def is_not_null(self) -> Comparison:
        return Comparison(self.name, "!=", None)


def field(name: str) -> Field:
    return Field(name)


def all_of(*conditions: Condition | None) -> Group:
    """Every condition holds; None entries are left out (handy for optional filters)."""
    return Group("and", tuple(c for c in conditions if c is not None))


def any_of(*conditions: Condition | None) -> Group:
    return Group("or", tuple(c for c in conditions if c is not None))


def render(condition: Condition | None) -> str | None:
    """The `conditions` parameter text, or None for "no filter"."""
    return condition.render() if condition is not None else None


def in_chunks(
    name: str, values: Sequence[Scalar], *, max_length: int = MAX_CONDITION_LENGTH
) -> Iterator[Comparison]:
    """`name in (...)` split so no rendered condition exceeds `max_length` characters.

    A long list of ids in one URL is refused by the API; ask once per chunk instead.
    """
    _check_field(name)
    chunk: list[Scalar] = []
    length = len(name) + len(" in ()")
    for value in values:
        piece = len(_literal(value)) + 1
        if chunk and length + piece > max_length:
            yield Comparison(name, "in", tuple(chunk))
            chunk, length = [], len(name) + len(" in ()")
        chunk.append(value)
        length += piece
    if chunk:
        yield Comparison(name, "in", tuple(chunk))


def order_by(*terms: str | tuple[str, Literal["asc", "desc"]]) -> str:
    """`orderBy` text: `order_by("date", ("id", "desc"))` → `date asc, id desc`."""
    if not terms:
        raise ConditionError("orderBy needs at least one field")
    parts = []
    for term in terms:
        name, direction = (term, "asc") if isinstance(term, str) else term
        _check_field(name)
        if direction not in ("asc", "desc"):
            raise ConditionError(f"{direction!r} is not asc/desc")
        parts.append(f"{name} {direction}")
    return ", ".join(parts)


def fields(*names: str) -> str:
    """`fields` text: the comma list of (nested) fields to return."""
    if not names:
        raise ConditionError("fields needs at least one field")
    for name in names:
        _check_field(name)
    return ",".join(names)


def quote(text: str) -> str:
    """A string literal: double quotes, with `"` and `\\` escaped by a backslash."""
    if "\x00" in text:
        raise ConditionError("text with a NUL character cannot be sent to ConnectWise")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def datetime_literal(moment: datetime | date) -> str:
    """`[2024-01-31T00:00:00Z]`: UTC, whole seconds. A date means its midnight, UTC."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ConditionError(f"{moment!r} has no time zone; ConnectWise compares in UTC")
        moment = moment.astimezone(UTC)
    else:
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return f"[{moment:%Y-%m-%dT%H:%M:%SZ}]"


def _literal(value: object) -> str:
    # bool before int: True is an int in Python but `true` in the grammar.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ConditionError(f"{value} is not a number ConnectWise can compare")
        return format(value, "f")
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, datetime | date):
        return datetime_literal(value)
    raise ConditionError(
        f"{value!r} ({type(value).__name__}) cannot go in a condition; use str, int, Decimal, "
        "bool, date or an aware datetime"
    )


def _check_field(name: str) -> None:
    if not isinstance(name, str) or _FIELD.fullmatch(name) is None:
        raise ConditionError(f"{name!r} is not a field name (letters, digits, _ and / only)")
