"""QuickBooks' query language, as far as the documentation describes it.

    SELECT * | COUNT(*) | Field, … FROM Entity
        [WHERE cond AND cond …] [ORDERBY Field [ASC|DESC], …]
        [STARTPOSITION n] [MAXRESULTS m]

Conditions are `Field op value` with `=, <, >, <=, >=`, `Field IN (v, …)` and `Field LIKE 'a%'`
(`%` is the only wildcard). Keywords, entity and field names are case-insensitive; fields may be
dotted (`MetaData.LastUpdatedTime`) and a reference field compares by its `value`
(`CustomerRef = '58'`). Strings are single-quoted with `\\'` for a quote; dates and datetimes
are strings compared as moments. String comparisons ignore case.

Anything outside that — `OR`, `!=`, joins, `GROUP BY`, parentheses around conditions — is the
parser's Fault 4000 ("Error parsing query"). An unknown entity is 4001 ("Invalid query").
`STARTPOSITION` is 1-based; `MAXRESULTS` defaults to 100 and larger values are cut to 1,000,
as QBO does. Name-list entities answer only active records unless the query names `Active`.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ledgerbridge_sim.qbo import faults
from ledgerbridge_sim.qbo.store import Realm, public

DEFAULT_MAX_RESULTS: Final = 100
MAX_RESULTS_CAP: Final = 1000
NAME_LISTS: Final = frozenset(
    {
        "Customer",
        "Vendor",
        "Employee",
        "Item",
        "Account",
        "Class",
        "Department",
        "Term",
        "TaxCode",
        "TaxRate",
    }
)

_TOKEN: Final = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),*;])
    """,
    re.VERBOSE,
)
_KEYWORDS: Final = frozenset(
    {
        "select",
        "from",
        "where",
        "and",
        "or",
        "in",
        "like",
        "orderby",
        "asc",
        "desc",
        "startposition",
        "maxresults",
        "count",
        "true",
        "false",
        "join",
        "group",
        "by",
        "not",
    }
)

type Literal = str | Decimal | bool


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, word, keyword, op, punct, end
    text: str
    column: int


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    operator: str  # = < > <= >= in like
    values: tuple[Literal, ...]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None  # None: SELECT *
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)  # (path, descending)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise faults.query_parser(
                f'Lexical error at line 1, column {position + 1}.  Encountered: "{text[position]}"'
            )
        kind = match.lastgroup or ""
        if kind != "space":
            value = match.group()
            if kind == "word" and value.lower() in _KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, value, position + 1))
        position = match.end()
    tokens.append(Token("end", "<EOF>", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, entities: dict[str, str]) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.entities = entities  # lower-case name → canonical

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def unexpected(self, *expected: str) -> faults.QboError:
        token = self.peek()
        shown = token.text if token.kind != "end" else "<EOF>"
        return faults.query_parser(
            f'Encountered " {shown} " at line 1, column {token.column}.\n'
            f"Was expecting one of: {', '.join(expected)}"
        )

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token.kind == "keyword" and token.text.lower() in words:
            self.index += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.unexpected(f'"{word}"')

    def expect_punct(self, char: str) -> None:
        token = self.peek()
        if token.kind != "punct" or token.text != char:
            raise self.unexpected(f'"{char}"')
        self.index += 1

    def parse(self) -> Query:
        self.expect_keyword("select")
        count, fields = False, None
        token = self.peek()
        if token.kind == "punct" and token.text == "*":
            self.take()
        elif self.keyword("count"):
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            count = True
        elif token.kind == "word":
            fields = [self.take().text]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                if self.peek().kind != "word":
                    raise self.unexpected("<ID>")
                fields.append(self.take().text)
        else:
            raise self.unexpected('"*"', '"count"', "<ID>")
        self.expect_keyword("from")
        name = self.take()
        if name.kind != "word" or "." in name.text:
            self.index -= 1
            raise self.unexpected("<ID>")
        entity = self.entities.get(name.text.lower())
        if entity is None:
            raise faults.query_validation(f"value {name.text} is not a valid entity")
        query = Query(entity=entity, count=count, fields=fields)
        if self.keyword("where"):
            query.conditions.append(self.condition())
            while self.keyword("and"):
                query.conditions.append(self.condition())
        if self.keyword("orderby"):
            query.order.append(self.order_term())
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                query.order.append(self.order_term())
        if self.keyword("startposition"):
            query.start_position = max(1, self.integer())
        if self.keyword("maxresults"):
            query.max_results = min(MAX_RESULTS_CAP, max(0, self.integer()))
        if self.peek().kind == "punct" and self.peek().text == ";":
            self.take()
        if self.peek().kind != "end":
            raise self.unexpected('"and"', '"orderby"', '"startposition"', '"maxresults"', "<EOF>")
        return query

    def integer(self) -> int:
        token = self.peek()
        if token.kind != "number" or not token.text.lstrip("-").isdigit():
            raise self.unexpected("<INTEGER>")
        self.take()
        return int(token.text)

    def order_term(self) -> tuple[tuple[str, ...], bool]:
        token = self.peek()
        if token.kind != "word":
            raise self.unexpected("<ID>")
        self.take()
        descending = False
        if self.keyword("desc"):
            descending = True
        else:
            self.keyword("asc")
        return tuple(token.text.split(".")), descending

    def condition(self) -> Condition:
        token = self.peek()
        if token.kind != "word":
            raise self.unexpected("<ID>")
        self.take()
        path = tuple(token.text.split("."))
        if self.keyword("in"):
            self.expect_punct("(")
            values = [self.literal()]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                values.append(self.literal())
            self.expect_punct(")")
            return Condition(path, "in", tuple(values))
        if self.keyword("like"):
            pattern = self.literal()
            if not isinstance(pattern, str):
                raise self.unexpected("<STRING>")
            return Condition(path, "like", (pattern,))
        operator = self.peek()
        if operator.kind != "op" or operator.text in ("!=", "<>"):
            raise self.unexpected('"="', '"<"', '">"', '"<="', '">="', '"in"', '"like"')
        self.take()
        return Condition(path, operator.text, (self.literal(),))

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            return Decimal(token.text)
        if token.kind == "keyword" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        self.index -= 1
        raise self.unexpected("<STRING>", "<NUMBER>", '"true"', '"false"')


def parse(text: str, entities: dict[str, str]) -> Query:
    return _Parser(text, entities).parse()


# -- evaluation -------------------------------------------------------------------------------


def value_at(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a dotted path, field names matched without regard to case."""
    current: Any = record
    for part in path:
        if not isinstance(current, dict):
            return None
        if part in current:
            current = current[part]
            continue
        lowered = part.lower()
        current = next((v for k, v in current.items() if k.lower() == lowered), None)
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    return current


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _as_moment(value: Any) -> datetime | date | None:
    if not isinstance(value, str) or not re.match(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _compare(left: Any, right: Literal) -> int | None:
    """-1/0/1 comparing a record's value with a literal; None when they cannot be compared."""
    if left is None:
        return None
    if isinstance(right, bool) or isinstance(left, bool):
        if isinstance(left, str):
            left = left.lower() == "true"
        if isinstance(right, str):
            right = right.lower() == "true"
        return 0 if left == right else (1 if left else -1)
    numbers = _as_number(left), _as_number(right)
    if numbers[0] is not None and numbers[1] is not None:
        return (numbers[0] > numbers[1]) - (numbers[0] < numbers[1])
    moments = _as_moment(left), _as_moment(right)
    if moments[0] is not None and moments[1] is not None:
        a, b = moments
        if isinstance(a, datetime) != isinstance(b, datetime):
            a = a.date() if isinstance(a, datetime) else a
            b = b.date() if isinstance(b, datetime) else b
        if (
            isinstance(a, datetime)
            and isinstance(b, datetime)
            and (a.tzinfo is None) != (b.tzinfo is None)
        ):
            a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
        return (a > b) - (a < b)  # type: ignore[operator]
    text_left, text_right = str(left).casefold(), str(right).casefold()
    return (text_left > text_right) - (text_left < text_right)


def _matcher(condition: Condition) -> Callable[[dict[str, Any]], bool]:
    path, operator, values = condition.path, condition.operator, condition.values
    if operator == "like":
        pattern = str(values[0])
        regex = re.compile(
            "".join(".*" if part == "%" else re.escape(part) for part in re.split("(%)", pattern)),
            re.IGNORECASE | re.DOTALL,
        )
        return lambda record: (
            (value := value_at(record, path)) is not None
            and regex.fullmatch(str(value)) is not None
        )
    tests: dict[str, Callable[[int], bool]] = {
        "=": lambda c: c == 0,
        "in": lambda c: c == 0,
        "<": lambda c: c < 0,
        ">": lambda c: c > 0,
        "<=": lambda c: c <= 0,
        ">=": lambda c: c >= 0,
    }
    test = tests[operator]

    def matches(record: dict[str, Any]) -> bool:
        value = value_at(record, path)
        if path[-1].lower() == "active" and value is None:
            value = True
        for literal in values:
            outcome = _compare(value, literal)
            if outcome is not None and test(outcome):
                return True
        return False

    return matches


def _sort_key(value: Any) -> tuple[int, Any]:
    number = _as_number(value)
    if number is not None:
        return (0, number)
    moment = _as_moment(value)
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return (1, moment.timestamp())
    if value is None:
        return (3, "")
    return (2, str(value).casefold())


def run(realm: Realm, query: Query) -> dict[str, Any]:
    """The `QueryResponse` object for a parsed query."""
    conditions = list(query.conditions)
    if query.entity in NAME_LISTS and not any(c.path[-1].lower() == "active" for c in conditions):
        conditions.append(Condition(("Active",), "=", (True,)))
    matchers = [_matcher(condition) for condition in conditions]
    rows = [record for record in realm.rows(query.entity) if all(m(record) for m in matchers)]
    if query.count:
        return {"totalCount": len(rows)}
    rows.sort(key=lambda record: int(record["Id"]))
    for path, descending in reversed(query.order):
        present = [r for r in rows if value_at(r, path) is not None]
        absent = [r for r in rows if value_at(r, path) is None]
        present.sort(key=lambda record: _sort_key(value_at(record, path)), reverse=descending)
        rows = present + absent
    start = query.start_position - 1
    page = rows[start : start + query.max_results]
    if not page:
        return {}
    answers = [public(record) for record in page]
    if query.fields is not None:
        wanted = {name.split(".")[0].lower() for name in query.fields} | {"id"}
        answers = [
            {k: v for k, v in answer.items() if k.lower() in wanted}
            | {"domain": "QBO", "sparse": True}
            for answer in answers
        ]
    return {query.entity: answers, "startPosition": query.start_position, "maxResults": len(page)}
