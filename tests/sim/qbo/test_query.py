"""The query language: operators, paging, COUNT, ordering and the parser's Fault."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.qbo.conftest import QboApi, error_of, read


@pytest.fixture
def twelve_customers(us: QboApi, sim: Simulator) -> list[dict[str, object]]:
    """Customers "Q01".."Q12", one minute apart, with Notes holding their number's parity."""
    sim.clock.set(datetime(2026, 11, 2, 17, 0, tzinfo=UTC))
    made = []
    for number in range(1, 13):
        made.append(
            us.create(
                "Customer",
                {"DisplayName": f"Q{number:02d}", "Notes": "even" if number % 2 == 0 else "odd"},
            )
        )
        sim.clock.advance(timedelta(minutes=1))
    return made


def names(api: QboApi, statement: str) -> list[str]:
    return [row["DisplayName"] for row in api.rows(statement)]


@pytest.mark.usefixtures("twelve_customers")
def test_comparison_operators(us: QboApi) -> None:
    assert names(us, "select * from Customer where DisplayName = 'Q03'") == ["Q03"]
    assert names(us, "select * from Customer where DisplayName < 'Q03' and DisplayName > 'Q'") == [
        "Q01",
        "Q02",
    ]
    assert names(us, "SELECT * FROM Customer WHERE DisplayName >= 'Q11'") == ["Q11", "Q12"]
    assert names(us, "select * from customer where DisplayName <= 'Q02' and Notes = 'even'") == [
        "Q02"
    ]


@pytest.mark.usefixtures("twelve_customers")
def test_in_like_and_dates(us: QboApi) -> None:
    assert names(us, "select * from Customer where DisplayName in ('Q05', 'Q07', 'nobody')") == [
        "Q05",
        "Q07",
    ]
    assert names(us, "select * from Customer where DisplayName like 'Q1%'") == ["Q10", "Q11", "Q12"]
    assert names(us, "select * from Customer where DisplayName like '%2'") == ["Q02", "Q12"]
    later = names(
        us,
        "select * from Customer where MetaData.LastUpdatedTime > '2026-11-02T09:08:30-08:00'",
    )
    assert later == ["Q10", "Q11", "Q12"]
    # The same instant written in UTC selects the same rows.
    assert later == names(
        us, "select * from Customer where MetaData.LastUpdatedTime > '2026-11-02T17:08:30Z'"
    )


@pytest.mark.usefixtures("twelve_customers")
def test_orderby_startposition_and_maxresults_page_through(us: QboApi) -> None:
    statement = "select * from Customer where DisplayName like 'Q%' orderby DisplayName desc"
    first = read(us.query(f"{statement} startposition 1 maxresults 5"))["QueryResponse"]
    assert [c["DisplayName"] for c in first["Customer"]] == ["Q12", "Q11", "Q10", "Q09", "Q08"]
    assert (first["startPosition"], first["maxResults"]) == (1, 5)
    third = read(us.query(f"{statement} startposition 11 maxresults 5"))["QueryResponse"]
    assert [c["DisplayName"] for c in third["Customer"]] == ["Q02", "Q01"]
    assert third["maxResults"] == 2
    past_the_end = read(us.query(f"{statement} startposition 13 maxresults 5"))
    assert past_the_end["QueryResponse"] == {}


def test_maxresults_is_cut_to_one_thousand(us: QboApi) -> None:
    for number in range(3):
        us.create("Class", {"Name": f"Class {number}"})
    answer = read(us.query("select * from Class maxresults 5000"))["QueryResponse"]
    assert answer["maxResults"] == 4  # three made here plus the default class


@pytest.mark.usefixtures("twelve_customers")
def test_count(us: QboApi) -> None:
    odd = read(us.query("select count(*) from Customer where Notes = 'odd'"))
    assert odd["QueryResponse"] == {"totalCount": 6}
    everyone = read(us.query("select COUNT(*) from Customer"))["QueryResponse"]["totalCount"]
    assert everyone == 12 + 3  # plus the realm's three starting customers


def test_name_lists_answer_active_records_unless_asked(us: QboApi) -> None:
    made = us.create("Term", {"Name": "Net 7", "DueDays": 7})
    us.create("Term", {"Id": made["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert "Net 7" not in [t["Name"] for t in us.rows("select * from Term")]
    both = us.rows("select * from Term where Active in (true, false)")
    assert "Net 7" in [t["Name"] for t in both]
    assert [t["Name"] for t in us.rows("select * from Term where Active = false")] == ["Net 7"]


def test_reference_fields_compare_by_value_and_numbers_numerically(us: QboApi) -> None:
    customer = us.one("Customer", "DisplayName = 'Acme Dental'")
    item = us.one("Item", "Name = 'Labour'")
    for quantity in (1, 3, 10):
        us.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": quantity},
                    }
                ],
            },
        )
    mine = us.rows(f"select * from Invoice where CustomerRef = '{customer['Id']}'")  # noqa: S608
    assert len(mine) == 3
    large = us.rows("select * from Invoice where TotalAmt > '500' orderby TotalAmt")
    # Acme Dental is in California (7.25 %): 10 x 150 + tax; as text "1608.75" < "500".
    assert [row["TotalAmt"] for row in large] == [Decimal("1608.75")]


@pytest.mark.parametrize(
    "statement",
    [
        "select * from Customer where DisplayName = 'A' or DisplayName = 'B'",
        "select * from Customer, Invoice",
        "select * from Customer join Invoice",
        "select * from Customer where DisplayName != 'A'",
        "select * from Customer group by DisplayName",
        "select * from Customer where (DisplayName = 'A')",
        "select * form Customer",
        "select * from Customer where DisplayName = 'unterminated",
    ],
)
def test_unsupported_syntax_is_the_parser_fault(us: QboApi, statement: str) -> None:
    response = us.query(statement)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["Message"]) == ("4000", "Error parsing query")
    assert error["Detail"].startswith("QueryParserError:")


def test_an_unknown_entity_is_an_invalid_query(us: QboApi) -> None:
    error = error_of(us.query("select * from Widget"))
    assert (error["code"], error["Message"]) == ("4001", "Invalid query")


def test_query_by_post_with_application_text(us: QboApi) -> None:
    response = us.http.post(
        us.base + "query",
        content=b"select * from Term where Name = 'Net 30'",
        headers={**us.headers, "Content-Type": "application/text"},
    )
    assert [t["DueDays"] for t in read(response)["QueryResponse"]["Term"]] == [30]


def test_quotes_escape_with_a_backslash(us: QboApi) -> None:
    us.create("Customer", {"DisplayName": "O'Brien Plumbing"})
    assert names(us, r"select * from Customer where DisplayName = 'O\'Brien Plumbing'") == [
        "O'Brien Plumbing"
    ]
