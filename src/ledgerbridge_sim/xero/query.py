"""Reading lists the way Xero does: `where`, `order`, `page`/`pageSize` and `If-Modified-Since`.

`where` takes the subset of Xero's (Dynamic LINQ) filter language integrations use:

    Status=="AUTHORISED" AND Type=="ACCREC"
    Contact.ContactID==Guid("9b9ba9e5-e907-4b4e-8210-54d82b0aa479")
    Date>=DateTime(2026,01,01) && AmountDue>0
    Name.Contains("Dental") OR Name.StartsWith("North") OR Name.ToLower()=="acme"
    IsCustomer==true AND NOT (ContactStatus=="ARCHIVED")

Operators `== != > < >= <=`, `AND`/`&&`, `OR`/`||`, `NOT`/`!`, parentheses; values are strings,
numbers, `true`/`false`/`null`, `Guid("…")` (any case) and `DateTime(y,m,d[,h,m,s])`. Strings
compare exactly, GUIDs without regard to case. A malformed expression is a 400
`QueryParseException`, as with Xero.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Final

from ledgerbridge_sim.xero.wire import is_guid, query_parse_exception

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000

type Predicate = Callable[[dict[str, Any]], bool]
type Operand = Callable[[dict[str, Any]], Any]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|>=|<=|&&|\|\||[<>!().,])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_COMPARISONS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


@dataclass
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise query_parse_exception(f"Syntax error ('{text[position:].strip()[:20]}')")
        kind = match.lastgroup or "op"
        found.append(_Token(kind, match.group(kind)))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise query_parse_exception("Expression expected")
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise query_parse_exception(f"'{text}' expected")

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.text.upper() in words and token.kind in ("name", "op"):
            self.at += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.or_expression()
        if self.peek() is not None:
            raise query_parse_exception(f"Syntax error ('{self.peek().text}')")  # type: ignore[union-attr]
        return predicate

    def or_expression(self) -> Predicate:
        parts = [self.and_expression()]
        while self.keyword("OR", "||"):
            parts.append(self.and_expression())
        return parts[0] if len(parts) == 1 else lambda row: any(p(row) for p in parts)

    def and_expression(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("AND", "&&"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else lambda row: all(p(row) for p in parts)

    def unary(self) -> Predicate:
        if self.keyword("NOT", "!"):
            inner = self.unary()
            return lambda row: not inner(row)
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self.or_expression()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        left = self.operand()
        token = self.peek()
        if token is None or token.text not in _COMPARISONS:
            return lambda row: left(row) is True
        self.take()
        right = self.operand()
        compare = _COMPARISONS[token.text]
        return lambda row: _compare(compare, left(row), right(row))

    def operand(self) -> Operand:
        token = self.take()
        if token.kind == "string":
            value = _unquote(token.text)
            return lambda row: value
        if token.kind == "number":
            number = Decimal(token.text)
            return lambda row: number
        if token.kind != "name":
            raise query_parse_exception(f"Syntax error ('{token.text}')")
        word = token.text
        if word.lower() in ("true", "false"):
            flag = word.lower() == "true"
            return lambda row: flag
        if word.lower() == "null":
            return lambda row: None
        if self.peek() is not None and self.peek().text == "(":  # type: ignore[union-attr]
            return self.function(word)
        return self.path([word])

    def function(self, name: str) -> Operand:
        arguments = self.arguments()
        if name.lower() == "guid":
            if len(arguments) != 1 or not is_guid(arguments[0]):
                raise query_parse_exception("Guid() needs one GUID in quotes")
            guid = str(arguments[0]).lower()
            return lambda row: guid
        if name.lower() in ("datetime", "datetimeoffset"):
            try:
                parts = [int(part) for part in arguments]
                year, month, day, *clock = parts
                hour, minute, second = (*clock, 0, 0, 0)[:3]
                moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                raise query_parse_exception(f"{name}() needs a valid date") from None
            return lambda row: moment
        raise query_parse_exception(f"No applicable method '{name}' exists")

    def arguments(self) -> list[Any]:
        self.expect("(")
        values: list[Any] = []
        while self.peek() is not None and self.peek().text != ")":  # type: ignore[union-attr]
            token = self.take()
            if token.kind == "string":
                values.append(_unquote(token.text))
            elif token.kind == "number":
                values.append(Decimal(token.text))
            else:
                raise query_parse_exception(f"Syntax error ('{token.text}')")
            if self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
        self.expect(")")
        return values

    def path(self, names: list[str]) -> Operand:
        operand: Operand = _field(list(names))
        while self.peek() is not None and self.peek().text == ".":  # type: ignore[union-attr]
            self.take()
            member = self.take()
            if member.kind != "name":
                raise query_parse_exception("Identifier expected")
            if self.peek() is not None and self.peek().text == "(":  # type: ignore[union-attr]
                operand = _method(operand, member.text, self.arguments())
            else:
                names.append(member.text)
                operand = _field(list(names))
        return operand


def _field(names: list[str]) -> Operand:
    def read(row: dict[str, Any]) -> Any:
        value: Any = row
        for name in names:
            if not isinstance(value, dict):
                return None
            value = value.get(name)
        return value

    return read


def _method(target: Operand, name: str, arguments: list[Any]) -> Operand:
    lowered = name.lower()
    if lowered in ("tolower", "toupper") and not arguments:

        def change_case(row: dict[str, Any]) -> Any:
            value = target(row)
            if not isinstance(value, str):
                return value
            return value.lower() if lowered == "tolower" else value.upper()

        return change_case
    tests: dict[str, Callable[[str, str], bool]] = {
        "contains": lambda value, part: part in value,
        "startswith": lambda value, part: value.startswith(part),
        "endswith": lambda value, part: value.endswith(part),
    }
    if lowered in tests and len(arguments) == 1 and isinstance(arguments[0], str):
        test, part = tests[lowered], arguments[0]

        def check(row: dict[str, Any]) -> Any:
            value = target(row)
            return isinstance(value, str) and test(value, part)

        return check
    raise query_parse_exception(f"No applicable method '{name}' exists")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str) and is_guid(value):
        return value.lower()
    return value


def _compare(compare: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    left, right = _comparable(left), _comparable(right)
    if left is None or right is None:
        return (
            compare(left, right) if compare in (_COMPARISONS["=="], _COMPARISONS["!="]) else False
        )
    if type(left) is not type(right) and not (isinstance(left, str) and isinstance(right, str)):
        # Different kinds of value are never equal (and never ordered).
        return compare is _COMPARISONS["!="]
    try:
        return compare(left, right)
    except TypeError:
        return False


def where(text: str | None) -> Predicate | None:
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def ordered(rows: list[dict[str, Any]], order: str | None) -> list[dict[str, Any]]:
    """`order=UpdatedDateUTC DESC, InvoiceNumber` (stable; records lacking the field first)."""
    if not order or not order.strip():
        return rows
    keys: list[tuple[list[str], bool]] = []
    for part in order.split(","):
        words = part.split()
        if not words or len(words) > 2 or not re.fullmatch(r"[A-Za-z_][\w.]*", words[0]):
            raise query_parse_exception(f"Syntax error in order ('{part.strip()}')")
        if len(words) == 2 and words[1].upper() not in ("ASC", "DESC"):
            raise query_parse_exception(f"Syntax error in order ('{part.strip()}')")
        keys.append((words[0].split("."), len(words) == 2 and words[1].upper() == "DESC"))
    result = list(rows)
    for names, descending in reversed(keys):
        read = _field(names)

        def sort_key(row: dict[str, Any], read: Operand = read) -> tuple[int, Any]:
            value = _comparable(read(row))
            if value is None:
                return (0, "")
            if isinstance(value, str):
                return (1, value.lower())
            return (1, value)

        try:
            result.sort(key=sort_key, reverse=descending)
        except TypeError:
            raise query_parse_exception(f"Cannot order by {'.'.join(names)}") from None
    return result


def page_of(
    rows: list[dict[str, Any]], page: int, page_size: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    count = len(rows)
    start = (page - 1) * page_size
    pagination = {
        "page": page,
        "pageSize": page_size,
        "pageCount": (count + page_size - 1) // page_size,
        "itemCount": count,
    }
    return rows[start : start + page_size], pagination


def positive_int(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise query_parse_exception(f"{name} must be a positive whole number")
    return int(text)
