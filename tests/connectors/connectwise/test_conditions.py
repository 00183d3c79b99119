"""The ConnectWise condition builder: every operator, precedence, quoting, escaping, bad input.

The rendered text is also read back by the simulator's parser (a separate implementation of the
documented grammar), so the builder and the grammar are checked against each other.
"""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.connectwise import conditions as cq
from ledgerbridge.connectors.connectwise.conditions import ConditionError, field
from ledgerbridge_sim.connectwise import conditions as grammar

RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "Acme Co", "balance": Decimal("10.50"), "closedFlag": False,
     "company": {"id": 250}, "date": "2024-01-31T00:00:00Z", "note": None},
    {"id": 2, "name": 'Bob "the" Builder', "balance": Decimal("0"), "closedFlag": True,
     "company": {"id": 251}, "date": "2024-02-15T10:30:00Z", "note": "paid"},
    {"id": 3, "name": "C:\\share\\Fred", "balance": Decimal("-5"), "closedFlag": True,
     "company": {"id": 250}, "date": "2024-03-01T00:00:00Z", "note": "100% done"},
]  # fmt: skip


def matching(condition: cq.Condition) -> list[int]:
    """Ids of RECORDS the simulator's parser selects with the rendered condition."""
    predicate = grammar.compile_conditions(condition.render(), None, "conditions")
    return [row["id"] for row in RECORDS if predicate(row)]


@pytest.mark.parametrize(
    ("condition", "text", "ids"),
    [
        (field("company/id").eq(250), "company/id = 250", [1, 3]),
        (field("company/id").ne(250), "company/id != 250", [2]),
        (field("balance").lt(Decimal("0")), "balance < 0", [3]),
        (field("balance").le(Decimal("0")), "balance <= 0", [2, 3]),
        (field("balance").gt(Decimal("10.49")), "balance > 10.49", [1]),
        (field("balance").ge(Decimal("10.50")), "balance >= 10.50", [1]),
        (field("name").contains("Co"), 'name contains "Co"', [1]),
        (field("name").not_contains("Co"), 'name not contains "Co"', [2, 3]),
        (field("name").like("Bob%"), 'name like "Bob%"', [2]),
        (field("name").not_like("Bob%"), 'name not like "Bob%"', [1, 3]),
        (field("id").is_in([1, 3]), "id in (1,3)", [1, 3]),
        (field("id").not_in([1, 3]), "id not in (1,3)", [2]),
        (field("name").is_in(["Acme Co", "x"]), 'name in ("Acme Co","x")', [1]),
        (field("closedFlag").eq(True), "closedFlag = true", [2, 3]),
        (field("closedFlag").eq(False), "closedFlag = false", [1]),
        (field("note").is_null(), "note = null", [1]),
        (field("note").is_not_null(), "note != null", [2, 3]),
        (
            field("date").ge(datetime(2024, 2, 1, tzinfo=UTC)),
            "date >= [2024-02-01T00:00:00Z]",
            [2, 3],
        ),
        (field("date").lt(date(2024, 2, 1)), "date < [2024-02-01T00:00:00Z]", [1]),
    ],
)
def test_each_operator_renders_and_selects_what_it_says(
    condition: cq.Comparison, text: str, ids: list[int]
) -> None:
    assert condition.render() == text
    assert matching(condition) == ids


def test_quotes_and_backslashes_are_escaped() -> None:
    condition = field("name").eq('Bob "the" Builder')
    assert condition.render() == r'name = "Bob \"the\" Builder"'
    assert matching(condition) == [2]
    path = field("name").eq("C:\\share\\Fred")
    assert path.render() == r'name = "C:\\share\\Fred"'
    assert matching(path) == [3]


def test_text_that_looks_like_grammar_stays_text() -> None:
    sneaky = field("name").eq('x" or id > 0 or name = "y')
    assert matching(sneaky) == []
    assert matching(field("note").like("100%")) == [3]


def test_and_binds_as_written_because_groups_are_parenthesised() -> None:
    # a or (b and c), and (a or b) and c, must not read alike.
    a, b, c = field("id").eq(1), field("id").eq(2), field("closedFlag").eq(False)
    either = cq.any_of(a, cq.all_of(b, c))
    assert either.render() == "id = 1 or (id = 2 and closedFlag = false)"
    assert matching(either) == [1]
    both = cq.all_of(cq.any_of(a, b), c)
    assert both.render() == "(id = 1 or id = 2) and closedFlag = false"
    assert matching(both) == [1]
    operators = (a | b) & c
    assert operators == both
    nested = cq.all_of(cq.any_of(a, cq.all_of(b, cq.any_of(c, field("note").is_null()))))
    assert nested.render() == "id = 1 or (id = 2 and (closedFlag = false or note = null))"


def test_optional_filters_drop_out_and_a_single_item_needs_no_parentheses() -> None:
    condition = cq.all_of(None, cq.any_of(field("id").eq(1)), None)
    assert condition.render() == "id = 1"
    assert cq.render(None) is None


def test_datetimes_go_to_utc_whole_seconds() -> None:
    eastern = timezone(timedelta(hours=-5))
    moment = datetime(2024, 1, 31, 19, 0, 0, 999_999, tzinfo=eastern)
    assert field("lastUpdated").gt(moment).render() == "lastUpdated > [2024-02-01T00:00:00Z]"


def test_decimals_keep_their_digits() -> None:
    assert field("quantity").eq(Decimal("0.3548387")).render() == "quantity = 0.3548387"
    assert field("amount").eq(Decimal("1E+2")).render() == "amount = 100"


@pytest.mark.parametrize(
    "build",
    [
        lambda: field("name with space").eq("x"),
        lambda: field("name;drop").eq("x"),
        lambda: field("/id").eq(1),
        lambda: field("").eq(1),
        lambda: field("id").is_in([]),
        lambda: field("id").is_in([1, None]),  # type: ignore[list-item]
        lambda: field("id").lt(None),  # type: ignore[arg-type]
        lambda: field("amount").eq(1.5),  # type: ignore[arg-type]
        lambda: field("amount").eq(Decimal("NaN")),
        lambda: field("date").gt(datetime(2024, 1, 1)),  # naive: which zone?
        lambda: field("name").like(5),  # type: ignore[arg-type]
        lambda: field("name").eq("nul\x00"),
        lambda: cq.all_of(),
        lambda: cq.any_of(None),
        lambda: cq.Comparison("id", "~", 1),  # type: ignore[arg-type]
        lambda: cq.Comparison("id", "=", (1, 2)),
        lambda: cq.order_by(("id", "up")),  # type: ignore[arg-type]
        lambda: cq.fields("id", "company name"),
    ],
)
def test_bad_input_is_refused_while_building(build: Any) -> None:
    with pytest.raises(ConditionError):
        build()


def test_long_in_lists_are_split_to_keep_urls_short() -> None:
    ids = list(range(100_000, 100_600))
    chunks = list(cq.in_chunks("id", ids, max_length=200))
    assert all(len(chunk.render()) <= 200 for chunk in chunks)
    assert [value for chunk in chunks for value in chunk.value] == ids  # type: ignore[union-attr]
    assert list(cq.in_chunks("id", [])) == []


def test_order_by_and_fields() -> None:
    assert cq.order_by("date", ("id", "desc")) == "date asc, id desc"
    assert cq.fields("id", "name", "company/name") == "id,name,company/name"
    order = grammar.parse_order_by(cq.order_by(("company/id", "desc"), "id"), None)
    assert order == [(("company", "id"), True), (("id",), False)]
