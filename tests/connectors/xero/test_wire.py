"""Reading Xero's payload conventions: MS dates, exact money, envelopes, error bodies."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledgerbridge.connectors.xero import wire

from .conftest import fixture


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Date(1234567890000+0000)/", datetime(2009, 2, 13, 23, 31, 30, tzinfo=UTC)),
        ("/Date(1552431874205)/", datetime(2019, 3, 12, 23, 4, 34, 205000, tzinfo=UTC)),
        ("/Date(-86400000+0000)/", datetime(1969, 12, 31, tzinfo=UTC)),
        ("2018-11-02T16:36:32Z", datetime(2018, 11, 2, 16, 36, 32, tzinfo=UTC)),
        ("2018-11-02 16:36:32+00:00", datetime(2018, 11, 2, 16, 36, 32, tzinfo=UTC)),
        ("", None),
        ("not a date", None),
        (None, None),
    ],
)
def test_timestamps(value: object, expected: datetime | None) -> None:
    assert wire.parse_datetime(value) == expected


def test_dates_are_the_organisations_calendar_day() -> None:
    assert wire.parse_date("/Date(1539993600000+0000)/") == date(2018, 10, 20)
    # The instant is UTC; an offset after it says which day the organisation saw.
    assert wire.parse_date("/Date(1552820400000+1300)/") == date(2019, 3, 18)
    assert wire.parse_date("/Date(1552820400000+0000)/") == date(2019, 3, 17)
    assert wire.parse_date("2026-11-02") == date(2026, 11, 2)
    assert wire.parse_date("2018-12-30 00:00:00") == date(2018, 12, 30)


def test_money_stays_exact() -> None:
    invoice = fixture("invoices_put_per_element.json")["Invoices"][0]
    assert wire.money(invoice["Total"]) == Decimal("2541.00")
    assert str(wire.money(invoice["Total"])) == "2541.00"
    assert wire.money("50.00") == Decimal("50.00")  # the spec shows some amounts as strings
    assert wire.money(0.1) == Decimal("0.1")
    assert wire.money(None) is None
    assert wire.money("n/a") is None


def test_envelopes_and_error_bodies() -> None:
    assert [i["Code"] for i in wire.records(fixture("items.json"), "Items")] == [
        "MS-SEAT",
        "BKP-2TB",
    ]
    assert wire.records({"Status": "OK"}, "Items") == []
    with pytest.raises(wire.VendorDataError):
        wire.records({"Items": "nope"}, "Items")
    errors = fixture("errors.json")
    assert wire.error_messages(errors["validation"]["body"]) == ["Invoice # must be unique."]
    assert wire.error_messages(errors["forbidden"]["body"]) == ["AuthorizationUnsuccessful"]
    assert wire.error_messages(errors["not_found"]["text"]) == [
        "The resource you're looking for cannot be found"
    ]


def test_where_literals_escape_quotes() -> None:
    assert wire.quoted('Smith "Junior" & Co') == '"Smith \\"Junior\\" & Co"'
