"""ConnectWise's query language: `conditions`, `childConditions`, `customFieldConditions`,
`orderBy` and `fields`, parsed by recursive descent and compiled to Python predicates.

Grammar (word operators and keywords are case-insensitive)::

    expression := term (OR term)*
    term       := factor (AND factor)*                  -- AND binds tighter than OR, as in SQL
    factor     := "(" expression ")" | comparison
    comparison := path operator value
    path       := name ("/" name)*                      -- company/id, billingTerms/name
    operator   := = | != | < | <= | > | >= | contains | like | in
                | not contains | not like | not in
    value      := "string" | [date-time] | number | true | false | null
                | "(" literal ("," literal)* ")"        -- only after in / not in

Strings take `\\"` or a doubled `""` for a quote and `\\\\` for a backslash. `like` takes `%` (and
`*`, which some tools document) as the wildcard. Matching follows the SQL Server behind the real
API: string comparisons ignore case, and a comparison with a missing (null) field is false except
`= null` and `!= null`.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

type Record = Mapping[str, Any]
type Predicate = Callable[[Record], bool]

# `lastUpdated` and friends live in `_info` but are queryable by their bare names.
INFO_FIELDS = {
    "lastupdated": "lastUpdated",
    "dateentered": "dateEntered",
    "enteredby": "enteredBy",
    "updatedby": "updatedBy",
}

_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
_WORD_OPERATORS = ("contains", "like", "in")


class ConditionError(ValueError):
    """Input the API would refuse; `parameter` names the query parameter at fault."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.detail = message


# --- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "(" ")" "," "op" "word" "string" "date" "number" "end"
    text: str
    position: int
    value: Any = None


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?![A-Za-z_])")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def canonical_date(moment: datetime) -> str:
    """The API's one date-time format: UTC, second precision, `Z`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str) -> datetime | None:
    text = text.strip()
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tokenize(text: str, parameter: str) -> list[Token]:
    tokens: list[Token] = []
    i, length = 0, len(text)
    while i < length:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            tokens.append(Token(char, char, i))
            i += 1
        elif char in "=!<>":
            operator = text[i : i + 2] if text[i : i + 2] in ("!=", "<=", ">=") else char
            if operator == "!":
                raise ConditionError(parameter, f"'!' must be followed by '=' at position {i}")
            tokens.append(Token("op", operator, i))
            i += len(operator)
        elif char == '"':
            value, end = _read_string(text, i, parameter)
            tokens.append(Token("string", text[i:end], i, value))
            i = end
        elif char == "'":
            raise ConditionError(parameter, f"strings take double quotes, at position {i}")
        elif char == "[":
            end = text.find("]", i)
            if end < 0:
                raise ConditionError(parameter, f"date at position {i} has no closing ']'")
            moment = parse_date(text[i + 1 : end])
            if moment is None:
                raise ConditionError(
                    parameter, f"[{text[i + 1 : end]}] at position {i} is not a date-time"
                )
            tokens.append(Token("date", text[i : end + 1], i, canonical_date(moment)))
            i = end + 1
        elif (number := _NUMBER.match(text, i)) is not None:
            tokens.append(Token("number", number.group(), i, Decimal(number.group())))
            i = number.end()
        elif (word := _WORD.match(text, i)) is not None:
            tokens.append(Token("word", word.group(), i))
            i = word.end()
        else:
            raise ConditionError(parameter, f"unexpected character {char!r} at position {i}")
    tokens.append(Token("end", "", length))
    return tokens


def _read_string(text: str, start: int, parameter: str) -> tuple[str, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif char == '"':
            if text[i + 1 : i + 2] == '"':  # a doubled quote inside a string
                chars.append('"')
                i += 2
            else:
                return "".join(chars), i + 1
        else:
            chars.append(char)
            i += 1
    raise ConditionError(parameter, f"string starting at position {start} is not closed")


# --- syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    path: tuple[str, ...]
    operator: str  # "=", "!=", "<", "<=", ">", ">=", "contains", "like", "in", "not …"
    value: Any  # Literal, or a tuple of Literals for in / not in


@dataclass(frozen=True)
class Literal:
    kind: str  # "string" "date" "number" "bool" "null"
    value: Any


@dataclass(frozen=True)
class BoolOp:
    operator: str  # "and" | "or"
    left: "Node"
    right: "Node"


type Node = Comparison | BoolOp


class _Parser:
    def __init__(self, text: str, parameter: str) -> None:
        self.parameter = parameter
        self.tokens = tokenize(text, parameter)
        self.index = 0

    def fail(self, message: str, token: Token | None = None) -> ConditionError:
        token = token or self.peek()
        where = "at the end" if token.kind == "end" else f"at position {token.position}"
        return ConditionError(self.parameter, f"{message} {where}")

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.fail("expected a condition")
        node = self.expression()
        if self.peek().kind != "end":
            raise self.fail(f"unexpected {self.peek().text!r}; expected 'and', 'or' or ')'")
        return node

    def expression(self) -> Node:
        node = self.term()
        while self.is_word("or"):
            self.take()
            node = BoolOp("or", node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.is_word("and"):
            self.take()
            node = BoolOp("and", node, self.factor())
        return node

    def factor(self) -> Node:
        if self.peek().kind == "(":
            self.take()
            node = self.expression()
            if self.peek().kind != ")":
                raise self.fail("expected ')'")
            self.take()
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        token = self.peek()
        if token.kind != "word" or token.text.lower() in ("and", "or", "not"):
            raise self.fail("expected a field name")
        self.take()
        path = tuple(token.text.split("/"))
        operator = self.operator()
        if operator in ("in", "not in"):
            return Comparison(path, operator, self.value_list())
        value = self.literal()
        if value.kind == "null" and operator not in ("=", "!="):
            raise self.fail(f"null can only follow = or !=, not {operator!r}")
        if operator.endswith(("like", "contains")) and value.kind != "string":
            raise self.fail(f"{operator!r} needs a quoted string")
        return Comparison(path, operator, value)

    def operator(self) -> str:
        token = self.peek()
        if token.kind == "op":
            self.take()
            return token.text
        if token.kind == "word" and token.text.lower() in _WORD_OPERATORS:
            self.take()
            return token.text.lower()
        if self.is_word("not"):
            self.take()
            if not self.is_word(*_WORD_OPERATORS):
                raise self.fail("expected contains, like or in after 'not'")
            return "not " + self.take().text.lower()
        raise self.fail("expected an operator (= != < <= > >= contains like in not)")

    def value_list(self) -> tuple[Literal, ...]:
        if self.peek().kind != "(":
            raise self.fail("expected '(' to open the list after 'in'")
        self.take()
        items = [self.literal()]
        while self.peek().kind == ",":
            self.take()
            items.append(self.literal())
        if self.peek().kind != ")":
            raise self.fail("expected ',' or ')' in the list")
        self.take()
        if any(item.kind == "null" for item in items):
            raise self.fail("null cannot be in a list")
        return tuple(items)

    def literal(self) -> Literal:
        token = self.take()
        if token.kind in ("string", "date", "number"):
            return Literal(token.kind, token.value)
        if token.kind == "word":
            word = token.text.lower()
            if word in ("true", "false"):
                return Literal("bool", word == "true")
            if word == "null":
                return Literal("null", None)
            raise self.fail(f"{token.text!r} is not a value; strings need double quotes", token)
        raise self.fail("expected a value", token)


def parse(text: str, parameter: str = "conditions") -> Node:
    return _Parser(text, parameter).parse()


# --- field paths ---------------------------------------------------------------------------------


class FieldSet:
    """A resource's top-level fields: case-insensitive lookup, unknown-field errors."""

    def __init__(self, names: Iterable[str], resource: str = "") -> None:
        self.resource = resource
        self.by_lower = {name.lower(): name for name in names}

    def add(self, names: Iterable[str]) -> None:
        for name in names:
            self.by_lower.setdefault(name.lower(), name)

    def resolve(self, path: Sequence[str], parameter: str) -> tuple[str, ...]:
        head = path[0]
        canonical = self.by_lower.get(head.lower())
        if canonical is None and head.lower() in INFO_FIELDS and len(path) == 1:
            return ("_info", INFO_FIELDS[head.lower()])
        if canonical is None:
            raise ConditionError(
                parameter, f"unknown field '{'/'.join(path)}' for {self.resource or 'this list'}"
            )
        return (canonical, *path[1:])


_MISSING = object()


def _child(item: Mapping[str, Any], key: str) -> Any:
    value = item.get(key, _MISSING)
    if value is _MISSING:  # nested names are matched without regard to case, like the API
        lowered = key.lower()
        for name, candidate in item.items():
            if name.lower() == lowered:
                return candidate
        return None
    return value


def values_at(record: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
    """Every value at `path`; arrays along the way fan out (a child matches if any member does)."""
    current: list[Any] = [record]
    for key in path:
        following: list[Any] = []
        for item in current:
            value = _child(item, key) if isinstance(item, Mapping) else None
            if isinstance(value, list):
                following.extend(value)
            else:
                following.append(value)
        current = following
    return current or [None]


# --- compiling to predicates ---------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _comparable(literal: Literal, value: Any) -> tuple[Any, Any] | None:
    """(record side, literal side) in one comparable type, or None if they cannot compare."""
    if value is None:
        return None
    if literal.kind == "string":
        if isinstance(value, str):
            return value.lower(), literal.value.lower()
        if isinstance(value, bool):
            return str(value).lower(), literal.value.lower()
        if isinstance(value, (int, Decimal)):
            number = _number(literal.value)
            return (Decimal(value), number) if number is not None else None
        return None
    if literal.kind == "number":
        number = _number(value)
        return (number, literal.value) if number is not None else None
    if literal.kind == "date":
        if not isinstance(value, str):
            return None
        if len(value) == 20 and value[10] == "T" and value[19] == "Z":
            return value, literal.value
        moment = parse_date(value)
        return (canonical_date(moment), literal.value) if moment else None
    if literal.kind == "bool":
        return (value, literal.value) if isinstance(value, bool) else None
    return None


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _like_pattern(text: str) -> re.Pattern[str]:
    parts = (".*" if char in "%*" else re.escape(char) for char in text)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else str(value)


def _value_test(comparison: Comparison) -> Callable[[Any], bool]:
    operator, literal = comparison.operator, comparison.value
    if isinstance(literal, tuple):
        members = literal

        def is_member(value: Any) -> bool:
            for member in members:
                pair = _comparable(member, value)
                if pair is not None and pair[0] == pair[1]:
                    return True
            return False

        if operator == "in":
            return is_member
        return lambda value: value is not None and not is_member(value)
    assert isinstance(literal, Literal)
    if literal.kind == "null":
        if operator == "=":
            return lambda value: value is None
        return lambda value: value is not None
    if operator.endswith("contains"):
        needle = literal.value.lower()
        negate = operator.startswith("not")

        def contains(value: Any) -> bool:
            text = _as_text(value)
            return text is not None and (needle in text.lower()) != negate

        return contains
    if operator.endswith("like"):
        pattern = _like_pattern(literal.value)
        negate = operator.startswith("not")

        def like(value: Any) -> bool:
            text = _as_text(value)
            return text is not None and (pattern.fullmatch(text) is not None) != negate

        return like
    check = _ORDERING[operator]

    def compare(value: Any) -> bool:
        pair = _comparable(literal, value)
        return pair is not None and check(pair[0], pair[1])

    return compare


def _compile(node: Node, fields: FieldSet | None, parameter: str) -> Predicate:
    if isinstance(node, BoolOp):
        left = _compile(node.left, fields, parameter)
        right = _compile(node.right, fields, parameter)
        if node.operator == "and":
            return lambda record: left(record) and right(record)
        return lambda record: left(record) or right(record)
    path = fields.resolve(node.path, parameter) if fields is not None else node.path
    test = _value_test(node)
    if len(path) == 1:
        key = path[0]

        def single(record: Record) -> bool:
            value = record.get(key, _MISSING)
            if value is _MISSING:
                return any(test(item) for item in values_at(record, path))
            if isinstance(value, list):
                return any(test(item) for item in value) if value else test(None)
            return test(value)

        return single
    return lambda record: any(test(value) for value in values_at(record, path))


@lru_cache(maxsize=256)
def _cached_predicate(text: str, fields: FieldSet | None, parameter: str) -> Predicate:
    return _compile(parse(text, parameter), fields, parameter)


def compile_conditions(
    text: str, fields: FieldSet | None = None, parameter: str = "conditions"
) -> Predicate:
    """A predicate over records; raises ConditionError for input the API would refuse."""
    return _cached_predicate(text, fields, parameter)


def compile_custom_field_conditions(text: str) -> Predicate:
    """`customFieldConditions`: true when one entry of `customFields[]` satisfies the whole text."""
    inner = compile_conditions(text, CUSTOM_FIELD_FIELDS, "customFieldConditions")

    def matches(record: Record) -> bool:
        entries = record.get("customFields") or []
        return any(inner(entry) for entry in entries if isinstance(entry, Mapping))

    return matches


CUSTOM_FIELD_FIELDS = FieldSet(
    ("id", "caption", "type", "entryMethod", "numberOfDecimals", "value", "connectWiseId"),
    "customFields",
)


# --- orderBy ------------------------------------------------------------------------------------

_ORDER_TERM = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)(?:\s+(asc|desc))?\s*$", re.IGNORECASE
)


def parse_order_by(text: str, fields: FieldSet | None) -> list[tuple[tuple[str, ...], bool]]:
    """`name asc, company/name desc` → [(path, descending)]."""
    terms: list[tuple[tuple[str, ...], bool]] = []
    for part in text.split(","):
        match = _ORDER_TERM.match(part)
        if match is None:
            raise ConditionError("orderBy", f"{part.strip()!r} is not 'field [asc|desc]'")
        path = tuple(match.group(1).split("/"))
        if fields is not None:
            path = fields.resolve(path, "orderBy")
        terms.append((path, (match.group(2) or "asc").lower() == "desc"))
    return terms


def _sort_key(path: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
    def key(record: Mapping[str, Any]) -> tuple[int, Any]:
        value = values_at(record, path)[0]
        if value is None or isinstance(value, (dict, list)):
            return (0, 0)  # nulls first ascending and last descending, as SQL Server sorts
        if isinstance(value, str):
            return (1, value.lower())
        if isinstance(value, bool):
            return (1, int(value))
        return (1, value)

    return key


def order_records[R: Mapping[str, Any]](
    records: Sequence[R], terms: list[tuple[tuple[str, ...], bool]]
) -> list[R]:
    """Stable multi-key sort; ties keep id order (the API's default order)."""
    ordered = sorted(records, key=lambda record: record.get("id") or 0)
    for path, descending in reversed(terms):
        key = _sort_key(path)
        try:
            ordered.sort(key=key, reverse=descending)
        except TypeError:  # mixed types in one column compare as text
            ordered.sort(key=lambda record: str(key(record)), reverse=descending)
    return ordered


# --- fields -------------------------------------------------------------------------------------

type Projection = dict[str, "Projection | None"]


def parse_fields(text: str, fields: FieldSet | None) -> Projection:
    """`id,name,company/name` → {"id": None, "name": None, "company": {"name": None}}."""
    projection: Projection = {}
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        if _WORD.fullmatch(name) is None:
            raise ConditionError("fields", f"{name!r} is not a field name")
        path = name.split("/")
        if fields is not None:
            canonical = fields.by_lower.get(path[0].lower())
            if canonical is not None:
                path[0] = canonical
        node = projection
        for key in path[:-1]:
            child = node.get(key, _MISSING)
            if child is None:  # the whole parent is already selected
                break
            if child is _MISSING:
                child = node[key] = {}
            assert isinstance(child, dict)
            node = child
        else:
            node[path[-1]] = None
    return projection


def project(record: Mapping[str, Any], projection: Projection) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, inner in projection.items():
        value = record.get(key, _MISSING)
        if value is _MISSING:
            value = _child(record, key)
            if value is None:
                continue
            key = next(name for name in record if name.lower() == key.lower())
        if inner is None:
            result[key] = value
        elif isinstance(value, Mapping):
            result[key] = project(value, inner)
        elif isinstance(value, list):
            result[key] = [project(item, inner) for item in value if isinstance(item, Mapping)]
    return result
