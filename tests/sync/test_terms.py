from datetime import date

import pytest

from ledgerbridge.sync.terms import DueRule, TermsError, parse_xref

JAN_15 = date(2022, 1, 15)


@pytest.mark.parametrize(
    ("xref", "due"),
    [
        # The reference product's worked examples.
        ("M+1:D30", date(2022, 3, 2)),  # 30 days EOM: Feb has 28 days, so day 30 is 2 March
        ("M+1:D20", date(2022, 2, 20)),
        ("M0:D20", date(2022, 1, 20)),
        ("M+1:D-0", date(2022, 1, 31)),  # the last day of the invoice month
        # Plain net days.
        ("30", date(2022, 2, 14)),
        ("0", JAN_15),
        (" 7 ", date(2022, 1, 22)),
        # Further along and backwards from the 1st.
        ("M+2:D1", date(2022, 3, 1)),
        ("M+1:D-1", date(2022, 1, 30)),
        ("m+1:d15", date(2022, 2, 15)),
        ("M+12:D15", date(2023, 1, 15)),
    ],
)
def test_due_dates(xref: str, due: date) -> None:
    assert parse_xref(xref).due_on(JAN_15) == due


def test_leap_years_and_year_ends() -> None:
    rule = parse_xref("M+1:D30")
    assert rule.due_on(date(2024, 1, 31)) == date(2024, 3, 1)  # 29 Feb 2024 exists: 30 → 1 Mar
    assert parse_xref("M+1:D29").due_on(date(2024, 1, 2)) == date(2024, 2, 29)
    assert parse_xref("M+1:D-0").due_on(date(2024, 2, 10)) == date(2024, 2, 29)
    assert parse_xref("M+1:D5").due_on(date(2025, 12, 31)) == date(2026, 1, 5)


@pytest.mark.parametrize("xref", ["", "Net 30", "M1", "D20", "M-1:D20", "M+1:D", "30 days"])
def test_unreadable_cross_references_say_what_was_expected(xref: str) -> None:
    with pytest.raises(TermsError) as caught:
        parse_xref(xref)
    assert repr(xref) in str(caught.value)


def test_descriptions_read_for_people() -> None:
    assert parse_xref("14").describe() == "14 days after the invoice date"
    assert DueRule(months=1, day=20).describe() == "day 20 of next month"
