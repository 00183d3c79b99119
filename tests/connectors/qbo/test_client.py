"""QboClient against documented answers: headers, queries, paging, token refresh, writes."""

from urllib.parse import parse_qs

import httpx
import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.qbo.client import QboClient, quote, quote_list, request_id, select
from tests.connectors.qbo.conftest import (
    REALM,
    Clocks,
    FakeQbo,
    StaticTokens,
    fault_body,
    fault_response,
    raw_fixture,
)


def params(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}


# -- queries -------------------------------------------------------------------------------


def test_quotes_in_names_are_escaped() -> None:
    assert quote("O'Brien's IT") == "'O\\'Brien\\'s IT'"
    assert quote_list(["A'1", "B"]) == "('A\\'1', 'B')"
    assert (
        select("Customer", f"DisplayName = {quote("Bob's")}", order_by="Id")
        == "SELECT * FROM Customer WHERE DisplayName = 'Bob\\'s' ORDERBY Id"
    )


def test_a_name_with_a_quote_is_found(client: QboClient, fake: FakeQbo) -> None:
    fake.add("Customer", DisplayName="O'Brien's IT")
    found = client.query_page(select("Customer", f"DisplayName = {quote("O'Brien's IT")}"))
    assert [row["DisplayName"] for row in found] == ["O'Brien's IT"]


def test_queries_page_by_startposition_until_a_short_page(client: QboClient, fake: FakeQbo) -> None:
    for n in range(5):
        fake.add("Class", Name=f"Class {n}")
    names = [row["Name"] for row in client.query(select("Class"), page_size=2)]
    assert names == [f"Class {n}" for n in range(5)]
    assert fake.queries() == [
        "SELECT * FROM Class STARTPOSITION 1 MAXRESULTS 2",
        "SELECT * FROM Class STARTPOSITION 3 MAXRESULTS 2",
        "SELECT * FROM Class STARTPOSITION 5 MAXRESULTS 2",
    ]


def test_queries_stream_one_page_at_a_time(client: QboClient, fake: FakeQbo) -> None:
    for n in range(4):
        fake.add("Class", Name=f"Class {n}")
    rows = client.query(select("Class"), page_size=2)
    assert fake.requests == []
    next(rows)
    assert len(fake.requests) == 1


def test_page_size_is_capped_at_1000(client: QboClient, fake: FakeQbo) -> None:
    list(client.query(select("Term"), page_size=5000))
    assert fake.queries() == ["SELECT * FROM Term STARTPOSITION 1 MAXRESULTS 1000"]


# -- headers and auth ----------------------------------------------------------------------


def test_every_call_carries_token_json_and_minorversion(client: QboClient, fake: FakeQbo) -> None:
    client.query_page(select("Term"))
    (request,) = fake.requests
    assert request.headers["Authorization"] == "Bearer access-1"
    assert request.headers["Accept"] == "application/json"
    assert params(request)["minorversion"] == "75"
    assert request.url.path == f"/qbo/v3/company/{REALM}/query"


def test_a_401_refreshes_the_token_once_and_repeats(
    client: QboClient, fake: FakeQbo, tokens: StaticTokens
) -> None:
    fake.script[("GET", "query")] = [fault_response(fault_body("token_expired"), 401)]
    fake.add("Term", Name="Net 30")
    assert [row["Name"] for row in client.query_page(select("Term"))] == ["Net 30"]
    assert tokens.rejected == ["access-1"]
    assert [r.headers["Authorization"] for r in fake.requests] == [
        "Bearer access-1",
        "Bearer access-2",
    ]


def test_a_second_401_is_an_auth_error_saying_the_token_expired(
    client: QboClient, fake: FakeQbo, tokens: StaticTokens
) -> None:
    fake.script[("GET", "query")] = [
        fault_response(fault_body("token_expired"), 401),
        fault_response(fault_body("token_expired"), 401),
    ]
    with pytest.raises(ConnectorError) as raised:
        client.query_page(select("Term"))
    assert raised.value.kind == ErrorKind.AUTH
    assert "expired" in raised.value.message
    assert tokens.rejected == ["access-1"]  # refreshed once, not in a loop
    assert len(fake.requests) == 2


def test_a_dead_connection_surfaces_the_refresh_failure(fake: FakeQbo, clocks: Clocks) -> None:
    fake.script[("GET", "query")] = [fault_response(fault_body("token_expired"), 401)]
    client = QboClient(
        api_url="http://127.0.0.1:8900/qbo/v3",
        realm_id=REALM,
        tokens=StaticTokens("old"),
        transport=httpx.MockTransport(fake.handler),
        sleep=clocks.sleep,
    )
    with pytest.raises(ConnectorError, match="reconnecting") as raised:
        client.query_page(select("Term"))
    assert raised.value.kind == ErrorKind.AUTH


def test_the_token_never_reaches_an_error(client: QboClient, fake: FakeQbo) -> None:
    fake.script[("GET", "query")] = [fault_response(fault_body("query_parse"))]
    with pytest.raises(ConnectorError) as raised:
        client.query_page("SELECT * FROM Term WHERE A = 1 OR B = 2")
    assert raised.value.kind == ErrorKind.VALIDATION
    assert "access-1" not in f"{raised.value.message} {raised.value.vendor_detail}"


def test_realm_not_authorised_is_a_permission_error(client: QboClient, fake: FakeQbo) -> None:
    fake.script[("GET", "query")] = [fault_response(fault_body("authorization"), 403)]
    with pytest.raises(ConnectorError) as raised:
        client.query_page(select("Term"))
    assert raised.value.kind == ErrorKind.PERMISSION
    assert REALM in raised.value.message


# -- throttling ----------------------------------------------------------------------------


def test_a_429_waits_the_minute_intuit_asks_for_then_retries(
    client: QboClient, fake: FakeQbo, clocks: Clocks
) -> None:
    fake.script[("GET", "query")] = [fault_response(fault_body("throttled"), 429)]
    client.query_page(select("Term"))
    assert clocks.slept == [60.0]
    assert len(fake.requests) == 2


def test_a_429_that_persists_is_rate_limited(client: QboClient, fake: FakeQbo) -> None:
    fake.script[("GET", "query")] = [fault_response(fault_body("throttled"), 429)] * 3
    with pytest.raises(ConnectorError) as raised:
        client.query_page(select("Term"))
    assert raised.value.kind == ErrorKind.RATE_LIMITED
    assert raised.value.retry_at is not None


# -- writes --------------------------------------------------------------------------------


def test_writes_carry_a_requestid_fixed_by_the_key(client: QboClient, fake: FakeQbo) -> None:
    client.create("Customer", {"DisplayName": "Acme"}, request_key="customer:174:Acme")
    client.create("Customer", {"DisplayName": "Bravo"}, request_key="customer:175:Bravo")
    first, second = (params(r)["requestid"] for r in fake.requests)
    assert first == request_id(REALM, "customer:174:Acme")
    assert first != second
    assert len(first) <= 36
    assert request_id(REALM, "customer:174:Acme") == first  # same key, same id, every time


def test_a_write_whose_answer_was_lost_is_resent_with_the_same_requestid(
    client: QboClient, fake: FakeQbo
) -> None:
    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("connection closed", request=request)

    fake.script[("POST", "customer")] = [dropped]
    created = client.create("Customer", {"DisplayName": "Acme"}, request_key="customer:174")
    assert created["DisplayName"] == "Acme"
    ids = [params(r)["requestid"] for r in fake.requests]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_a_write_that_never_gets_an_answer_is_uncertain(client: QboClient, fake: FakeQbo) -> None:
    fake.script[("POST", "batch")] = [
        fault_response(fault_body("system_fault"), 500) for _ in range(3)
    ]
    with pytest.raises(ConnectorError) as raised:
        client.batch([{"bId": "1", "operation": "create", "Invoice": {}}], request_key="b")
    assert raised.value.kind == ErrorKind.UNCERTAIN


def test_a_refused_write_is_validation_with_the_fault_hint(
    client: QboClient, fake: FakeQbo
) -> None:
    fake.add("Vendor", DisplayName="Acme")
    with pytest.raises(ConnectorError) as raised:
        client.create("Customer", {"DisplayName": "Acme"}, request_key="customer:174")
    assert raised.value.kind == ErrorKind.VALIDATION
    assert "unique across customers" in raised.value.hint
    assert len(fake.requests) == 1  # a refusal is not retried


def test_a_batch_takes_at_most_30(client: QboClient) -> None:
    with pytest.raises(ValueError, match="30"):
        client.batch([{"bId": str(n)} for n in range(31)], request_key="b")


def test_company_info_and_preferences_are_read(client: QboClient, fake: FakeQbo) -> None:
    fake.fixed[("GET", f"companyinfo/{REALM}")] = raw_fixture("documents.json", "company_info")
    fake.fixed[("GET", "preferences")] = raw_fixture("documents.json", "preferences")
    assert client.company_info()["CompanyName"] == "Demo MSP LLC"
    assert client.preferences()["AccountingInfoPrefs"]["BookCloseDate"] == "2026-09-30"
