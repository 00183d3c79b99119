"""The condition grammar: each operator, precedence, quoting, escaping, dates, bad input."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge_sim.connectwise import conditions as cq
from ledgerbridge_sim.connectwise.conditions import ConditionError
from ledgerbridge_sim.state import Simulator

from .conftest import CwApi

EXAMPLES = json.loads((Path(__file__).parent / "fixtures" / "conditions_examples.json").read_text())

RECORDS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Acme Co",
        "total": Decimal("214.00"),
        "closedFlag": False,
        "date": "2024-01-31T00:00:00Z",
        "company": {"id": 250, "name": "Acme Co"},
        "billingTerms": {"id": 1, "name": "Net 30"},
        "_info": {"lastUpdated": "2024-05-02T08:00:00Z"},
    },
    {
        "id": 2,
        "name": 'O\'Brien & Sons "Quality" Plumbing',
        "total": Decimal("-53.50"),
        "closedFlag": True,
        "date": "2024-02-05T00:00:00Z",
        "company": {"id": 251, "name": "O'Brien"},
        "billingTerms": {"id": 2, "name": "Net 15"},
        "_info": {"lastUpdated": "2024-04-01T08:00:00Z"},
    },
    {
        "id": 3,
        "name": "Smith, Jones & Partners (Tax) LLP",
        "total": Decimal("1000"),
        "closedFlag": True,
        "date": "2024-03-01T12:30:00Z",
        "company": {"id": 252, "name": "Smith"},
        "billingTerms": None,
        "path": "C:\\temp",
        "_info": {"lastUpdated": "2024-06-01T08:00:00Z"},
    },
]


def matching(text: str, records: list[dict[str, Any]] = RECORDS) -> list[int]:
    predicate = cq.compile_conditions(text)
    return [record["id"] for record in records if predicate(record)]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("id = 2", [2]),
        ("id != 2", [1, 3]),
        ("total < 0", [2]),
        ("total <= 214", [1, 2]),
        ("total > 214", [3]),
        ("total >= 214.00", [1, 3]),
        ('name contains "co"', [1]),
        ('name not contains "co"', [2, 3]),
        ('name like "Acme%"', [1]),
        ('name like "*Plumbing"', [2]),
        ('name like "%Jones%"', [3]),
        ('name not like "A%"', [2, 3]),
        ("id in (1,3)", [1, 3]),
        ("id not in (1, 3)", [2]),
        ('billingTerms/name in ("Net 30", "net 15")', [1, 2]),
        ("closedFlag = true", [2, 3]),
        ("closedFlag = false", [1]),
        ("billingTerms = null", [3]),
        ("billingTerms != null", [1, 2]),
        ("company/id = 251", [2]),
        ('billingTerms/name = "Net 15"', [2]),
    ],
)
def test_each_operator(text: str, ids: list[int]) -> None:
    assert matching(text) == ids


def test_string_comparisons_ignore_case_like_sql_server() -> None:
    assert matching('name = "ACME CO"') == [1]
    assert matching('company/name < "b"') == [1]


def test_word_operators_and_keywords_ignore_case() -> None:
    assert matching('id = 1 OR name LIKE "Smith%"') == [1, 3]
    assert matching("closedFlag = TRUE And id NOT IN (3)") == [2]


def test_and_binds_tighter_than_or() -> None:
    # id = 1 or (id = 2 and closedFlag = false): record 2 is closed, so only 1 matches.
    assert matching("id = 1 or id = 2 and closedFlag = false") == [1]
    assert matching("(id = 1 or id = 2) and closedFlag = false") == [1]
    assert matching("closedFlag = false and id = 2 or id = 3") == [3]
    assert matching("closedFlag = false and (id = 2 or id = 3)") == []


def test_nested_parentheses() -> None:
    assert matching("((id = 1) or ((id = 3 and (total > 999))))") == [1, 3]


def test_a_missing_field_is_null_and_compares_false() -> None:
    assert matching('billingTerms/name != "Net 30"') == [2]  # record 3 has no terms: NULL
    assert matching('billingTerms/name not like "Net%"') == []


def test_quoted_strings_escape_quotes_by_backslash_or_doubling() -> None:
    assert matching('name = "O\'Brien & Sons \\"Quality\\" Plumbing"') == [2]
    assert matching('name = "O\'Brien & Sons ""Quality"" Plumbing"') == [2]
    assert matching('path = "C:\\\\temp"') == [3]


def test_strings_may_hold_the_grammars_own_symbols() -> None:
    assert matching('name = "Smith, Jones & Partners (Tax) LLP"') == [3]
    assert matching('name contains " and " or name contains ") or ("') == []
    assert matching('name like "%(Tax)%"') == [3]


def test_like_wildcards_match_literally_otherwise() -> None:
    assert matching('name like "Acme.Co"') == []
    assert matching('name like "Acme Co"') == [1]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("date > [2024-01-31T00:00:00Z]", [2, 3]),
        ("date >= [2024-01-31T00:00:00Z]", [1, 2, 3]),
        ("date < [2024-02-05]", [1]),
        ("date = [2024-03-01T12:30:00Z]", [3]),
        ("date <= [2024-03-01T07:30:00-05:00]", [1, 2, 3]),
        ("lastUpdated > [2024-05-01T10:00:00Z]", [1, 3]),
        ("_info/lastUpdated < [2024-05-01T10:00:00Z]", [2]),
    ],
)
def test_dates_in_square_brackets(text: str, ids: list[int]) -> None:
    fields = cq.FieldSet(["id", "date", "_info"], "test")
    predicate = cq.compile_conditions(text, fields)
    assert [record["id"] for record in RECORDS if predicate(record)] == ids


def test_numbers_compare_as_decimals() -> None:
    assert matching("total = 214") == [1]
    assert matching("total = -53.5") == [2]
    assert matching("total > -53.51 and total < -53.49") == [2]


def test_child_values_in_arrays_fan_out() -> None:
    contact = {
        "id": 9,
        "communicationItems": [
            {"value": "jdoe@acme.example", "communicationType": "Email"},
            {"value": "5550100", "communicationType": "Phone"},
        ],
    }
    text = 'communicationItems/value like "jdoe@%" AND communicationItems/communicationType="Email"'
    assert matching(text, [contact]) == [9]
    assert matching('communicationItems/value = "nobody"', [contact]) == []


def test_custom_field_conditions_need_one_entry_to_match_all() -> None:
    records = [
        {"id": 1, "customFields": [{"caption": "Customer Ref", "value": "REF-1"}]},
        {"id": 2, "customFields": [{"caption": "Customer Ref", "value": None}]},
        {"id": 3, "customFields": [{"caption": "Other", "value": "x"}]},
    ]
    predicate = cq.compile_custom_field_conditions('caption="Customer Ref" AND value != null')
    assert [record["id"] for record in records if predicate(record)] == [1]


@pytest.mark.parametrize("text", EXAMPLES["valid"])
def test_documented_examples_parse(text: str) -> None:
    cq.parse(text)


@pytest.mark.parametrize("text", EXAMPLES["invalid"])
def test_malformed_input_is_refused(text: str) -> None:
    with pytest.raises(ConditionError):
        cq.parse(text)


def test_error_messages_say_where() -> None:
    with pytest.raises(ConditionError, match="position 11"):
        cq.parse('name = "x" id = 2')
    with pytest.raises(ConditionError, match="double quotes"):
        cq.parse("name = Acme")


def test_unknown_fields_are_refused_for_a_known_resource() -> None:
    fields = cq.FieldSet(["id", "name", "company"], "companies")
    cq.compile_conditions('NAME = "x" and company/whatever = 1', fields)
    with pytest.raises(ConditionError, match="unknown field 'nmae'"):
        cq.compile_conditions('nmae = "x"', fields)


def test_order_by_sorts_nested_fields_both_ways_with_nulls_first_ascending() -> None:
    by_terms = cq.parse_order_by("billingTerms/name desc, id asc", None)
    assert [r["id"] for r in cq.order_records(RECORDS, by_terms)] == [1, 2, 3]
    by_terms = cq.parse_order_by("billingTerms/name", None)
    assert [r["id"] for r in cq.order_records(RECORDS, by_terms)] == [3, 2, 1]
    by_total = cq.parse_order_by("closedFlag desc, total desc", None)
    assert [r["id"] for r in cq.order_records(RECORDS, by_total)] == [3, 2, 1]
    with pytest.raises(ConditionError):
        cq.parse_order_by("name sideways", None)


def test_fields_project_nested_values() -> None:
    projection = cq.parse_fields("id, company/name, billingTerms", None)
    assert cq.project(RECORDS[0], projection) == {
        "id": 1,
        "company": {"name": "Acme Co"},
        "billingTerms": {"id": 1, "name": "Net 30"},
    }
    assert cq.project({"id": 5, "lines": [{"a": 1, "b": 2}]}, cq.parse_fields("lines/a", None)) == {
        "lines": [{"a": 1}]
    }


# --- through HTTP: the vendor error shape --------------------------------------------------------


@pytest.fixture
def acme(sim: Simulator) -> None:
    from ledgerbridge_sim.connectwise.app import generate

    generate(sim, invoices=40, seed=3)


@pytest.mark.parametrize(
    ("parameter", "text"),
    [
        ("conditions", 'name = "unterminated'),
        ("conditions", "name = Acme"),
        ("conditions", "nosuchfield = 1"),
        ("childConditions", "communicationItems/value like"),
        ("customFieldConditions", "caption = "),
        ("orderBy", "name upwards"),
        ("orderBy", "nosuchfield asc"),
    ],
)
def test_bad_queries_answer_400_in_the_vendor_shape(
    cw: CwApi, acme: None, parameter: str, text: str
) -> None:
    response = cw.get("company/companies", **{parameter: text})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "errors"}
    assert body["code"] == "InvalidObject"
    assert body["errors"][0]["field"] == parameter
    assert body["errors"][0]["message"]


@pytest.mark.parametrize("path", ["company/companies", "company/companies/count"])
def test_a_malformed_condition_is_refused_even_when_nothing_would_match(
    cw: CwApi, path: str
) -> None:
    # No companies are seeded: a lazy filter would never parse the text and answer 200.
    response = cw.get(path, conditions='name = "unterminated')
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "conditions"


def test_conditions_filter_lists_and_counts_alike(cw: CwApi, acme: None) -> None:
    text = 'type = "CreditMemo" or (type = "Agreement" and total > 100)'
    rows = cw.get("finance/invoices", conditions=text, pageSize=1000).json()
    assert rows and all(
        row["type"] == "CreditMemo" or (row["type"] == "Agreement" and row["total"] > 100)
        for row in rows
    )
    count = cw.get("finance/invoices/count", conditions=text).json()
    assert count == {"count": len(rows)}


def test_quoted_names_with_symbols_find_their_company(cw: CwApi, acme: None) -> None:
    rows = cw.get(
        "company/companies", conditions='name = "O\\"Brien" or name like "O\'Brien & Sons ""%"'
    ).json()
    assert [row["name"] for row in rows] == ['O\'Brien & Sons "Quality" Plumbing']


def test_order_by_and_fields_over_http(cw: CwApi, acme: None) -> None:
    rows = cw.get(
        "finance/invoices", orderBy="total desc", fields="id,total,company/name", pageSize=5
    ).json()
    totals = [row["total"] for row in rows]
    assert totals == sorted(totals, reverse=True)
    assert set(rows[0]) == {"id", "total", "company"}
    assert set(rows[0]["company"]) == {"name"}


def test_child_and_custom_field_conditions_over_http(cw: CwApi, acme: None) -> None:
    contacts = cw.get(
        "company/contacts", childConditions='communicationItems/communicationType = "Email"'
    ).json()
    assert contacts
    with_ref = cw.get(
        "company/companies/count", customFieldConditions='caption="Customer Ref" AND value != null'
    ).json()["count"]
    everyone = cw.get("company/companies/count", conditions="isVendorFlag = false").json()["count"]
    assert 0 < with_ref < everyone


def test_field_names_ignore_case(cw: CwApi, acme: None) -> None:
    response = cw.get("finance/invoices", conditions="COMPANY/ID > 0", orderby="ID desc")
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()]
    assert ids == sorted(ids, reverse=True)
