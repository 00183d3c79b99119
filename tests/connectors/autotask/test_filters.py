"""The Autotask filter builder emits exactly the JSON the REST query endpoint documents."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ledgerbridge.connectors.autotask import filters as f


@pytest.mark.parametrize(
    ("build", "op"),
    [
        (f.eq, "eq"),
        (f.noteq, "noteq"),
        (f.gt, "gt"),
        (f.gte, "gte"),
        (f.lt, "lt"),
        (f.lte, "lte"),
        (f.begins_with, "beginsWith"),
        (f.ends_with, "endsWith"),
        (f.contains, "contains"),
    ],
)
def test_every_value_operator(build: object, op: str) -> None:
    assert build("companyName", "Riverside").to_json() == {  # type: ignore[operator]
        "op": op,
        "field": "companyName",
        "value": "Riverside",
    }


def test_existence_operators_carry_no_value() -> None:
    assert f.exist("webServiceDate").to_json() == {"op": "exist", "field": "webServiceDate"}
    assert f.not_exist("webServiceDate").to_json() == {"op": "notExist", "field": "webServiceDate"}
    with pytest.raises(f.FilterError, match="takes no value"):
        f.condition("exist", "paidDate", "2024-01-01")


def test_list_operators_take_arrays() -> None:
    assert f.in_("companyID", [174, 250]).to_json() == {
        "op": "in",
        "field": "companyID",
        "value": [174, 250],
    }
    assert f.not_in("invoiceNumber", ("A", "B")).to_json() == {
        "op": "notIn",
        "field": "invoiceNumber",
        "value": ["A", "B"],
    }
    with pytest.raises(f.FilterError, match="at least one"):
        f.in_("companyID", [])
    with pytest.raises(f.FilterError, match="list"):
        f.condition("in", "companyID", "174")


def test_value_types() -> None:
    assert f.eq("isVoided", False).to_json()["value"] is False
    assert f.eq("id", 7).to_json()["value"] == 7
    assert f.eq("invoiceTotal", Decimal("1082.50")).to_json()["value"] == "1082.50"
    assert f.eq("invoiceTotal", Decimal("1E+3")).to_json()["value"] == "1000"
    assert f.gte("invoiceDateTime", date(2024, 1, 1)).to_json()["value"] == "2024-01-01"
    assert (
        f.lt(
            "invoiceDateTime", datetime(2024, 1, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5)))
        ).to_json()["value"]
        == "2024-02-01T00:00:00Z"
    )
    assert (
        f.gt("lastActivityDate", datetime(2024, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)).to_json()[
            "value"
        ]
        == "2024-01-01T00:00:00.250Z"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "not_exist"),
        (1.5, "Decimal"),
        (datetime(2024, 1, 1), "timezone-aware"),
        (Decimal("NaN"), "cannot be compared"),
        (object(), "cannot hold"),
    ],
)
def test_refused_values(value: object, message: str) -> None:
    with pytest.raises(f.FilterError, match=message):
        f.eq("field", value)  # type: ignore[arg-type]


def test_udf_flag_and_field_names() -> None:
    assert f.eq("Xero Contact", "RDG", udf=True).to_json() == {
        "op": "eq",
        "field": "Xero Contact",
        "value": "RDG",
        "udf": True,
    }
    with pytest.raises(f.FilterError, match="field name"):
        f.eq("  ", 1)
    with pytest.raises(f.FilterError, match="Unknown"):
        f.condition("ne", "id", 1)


def test_nested_groups_match_the_documented_example() -> None:
    body = f.query_body(
        [
            f.and_(
                f.gte("invoiceDateTime", "2024-01-01T00:00:00Z"),
                f.eq("isVoided", False),
                f.not_exist("webServiceDate"),
            ),
            f.in_("companyID", [174, 250]),
        ],
        include_fields=["id", "invoiceNumber", "companyID", "invoiceTotal", "paidDate"],
    )
    assert body == {
        "MaxRecords": 500,
        "IncludeFields": ["id", "invoiceNumber", "companyID", "invoiceTotal", "paidDate"],
        "filter": [
            {
                "op": "and",
                "items": [
                    {"op": "gte", "field": "invoiceDateTime", "value": "2024-01-01T00:00:00Z"},
                    {"op": "eq", "field": "isVoided", "value": False},
                    {"op": "notExist", "field": "webServiceDate"},
                ],
            },
            {"op": "in", "field": "companyID", "value": [174, 250]},
        ],
    }
    json.dumps(body)  # plain JSON all the way down


def test_or_inside_and_inside_or() -> None:
    nested = f.or_(
        f.and_(f.eq("companyID", 1), f.or_(f.contains("itemName", "M365"), f.exist("ticketID"))),
        f.lt("id", 10),
    )
    assert nested.to_json() == {
        "op": "or",
        "items": [
            {
                "op": "and",
                "items": [
                    {"op": "eq", "field": "companyID", "value": 1},
                    {
                        "op": "or",
                        "items": [
                            {"op": "contains", "field": "itemName", "value": "M365"},
                            {"op": "exist", "field": "ticketID"},
                        ],
                    },
                ],
            },
            {"op": "lt", "field": "id", "value": 10},
        ],
    }
    assert f.or_condition_count([nested]) == 4
    with pytest.raises(f.FilterError, match="at least one"):
        f.and_()
    with pytest.raises(f.FilterError, match="conditions and groups"):
        f.or_({"op": "eq"})  # type: ignore[arg-type]


def test_query_body_rules() -> None:
    assert f.query_body([f.every_row()]) == {
        "MaxRecords": 500,
        "filter": [{"op": "gte", "field": "id", "value": 0}],
    }
    # Paging relies on id, so it is added when IncludeFields leaves it out.
    assert f.query_body([f.every_row()], include_fields=["name"], max_records=1)[
        "IncludeFields"
    ] == ["id", "name"]
    with pytest.raises(f.FilterError, match="need a filter"):
        f.query_body([])
    for bad in (0, 501):
        with pytest.raises(f.FilterError, match="MaxRecords"):
            f.query_body([f.every_row()], max_records=bad)
    too_many = f.or_(*(f.eq("id", n) for n in range(501)))
    with pytest.raises(f.FilterError, match="500 'or' conditions"):
        f.query_body([too_many])
    assert f.query_body([f.or_(*(f.eq("id", n) for n in range(500)))])["MaxRecords"] == 500


def test_conditions_are_hashable_values() -> None:
    assert f.in_("id", [1, 2]) == f.in_("id", (1, 2))
    assert len({f.in_("id", [1, 2]), f.in_("id", [1, 2])}) == 1
