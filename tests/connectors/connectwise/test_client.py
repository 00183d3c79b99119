"""The ConnectWise client against a scripted API built from the documented behaviour."""

import base64
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.connectwise.client import (
    SEP,
    ConnectWiseClient,
    api_site,
    permission_for,
)
from tests.connectors.connectwise.conftest import API, SITE_PATH, FakeConnectWise, Sleeps, payload

type MakeClient = Callable[..., ConnectWiseClient]


def query(request: httpx.Request) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(request.url.query.decode()).items()}


# Discovery, headers and codebase moves


def test_discovers_the_codebase_then_sends_keys_client_id_and_versioned_accept(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.json("GET", "system/info", payload("system_info.json"))
    info = make_client(api_version="2025.16").system_info()
    assert info["cloudRegion"] == "NA"
    login, call = fake.requests
    assert login.url == "http://127.0.0.1:8900/connectwise/login/companyinfo/acmemsp"
    assert "authorization" not in login.headers and "clientid" not in login.headers
    assert call.url.path == f"{SITE_PATH}{API}system/info"
    expected = base64.b64encode(b"acmemsp+PUBKEY1234:PRIVKEY5678").decode()
    assert call.headers["authorization"] == f"Basic {expected}"
    assert call.headers["clientid"] == "7f0d3c1e-9d0a-4c55-8a41-2c1b0f5e9a77"
    assert call.headers["accept"] == "application/vnd.connectwise.com+json; version=2025.16"


def test_a_known_codebase_skips_discovery(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.json("GET", "system/info", {"version": "x"})
    make_client(codebase="v2024_1").system_info()
    assert [r.url.path for r in fake.requests] == [f"{SITE_PATH}{API}system/info"]


def test_unknown_company_says_so(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.on("GET", "login/companyinfo/acmemsp", httpx.Response(200, content=b"null"))
    with pytest.raises(ConnectorError) as caught:
        make_client().system_info()
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.message == "ConnectWise does not know the company 'acmemsp'."


def test_a_404_rereads_companyinfo_and_follows_a_moved_codebase(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    moved = {**payload("companyinfo.json"), "Codebase": "v2024_2/"}
    fake.on(
        "GET",
        "login/companyinfo/acmemsp",
        httpx.Response(200, json=payload("companyinfo.json")),
        httpx.Response(200, json=moved),
    )
    fake.on("GET", "system/info", httpx.Response(404), httpx.Response(200, json={"version": "v"}))
    client = make_client()
    assert client.system_info() == {"version": "v"}
    assert client.codebase == "v2024_2/"
    assert fake.requests[-1].url.path == f"{SITE_PATH}/v2024_2/apis/3.0/system/info"


def test_a_404_at_the_same_codebase_is_not_found(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.json("GET", "finance/invoices/9", {"code": "NotFound", "message": "x"}, status=404)
    with pytest.raises(ConnectorError) as caught:
        make_client().get_invoice(9)
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert len(fake.sent("GET", "companyinfo/acmemsp")) == 2


@pytest.mark.parametrize(
    ("typed", "scheme", "host", "path"),
    [
        # Cloud web-UI names map to their API hosts (psa-apis.md 1.1); only the mapping is
        # checked here, nothing connects to them.
        ("na.myconnectwise.net", "https", "api-na.myconnectwise.net", ""),
        ("eu.myconnectwise.net/", "https", "api-eu.myconnectwise.net", ""),
        ("api-au.myconnectwise.net", "https", "api-au.myconnectwise.net", ""),
        ("https://cw.example-msp.com", "https", "cw.example-msp.com", ""),
        ("http://127.0.0.1:8900/connectwise", "http", "127.0.0.1", "/connectwise"),
    ],
)
def test_site_addresses_become_api_roots(typed: str, scheme: str, host: str, path: str) -> None:
    root = urlsplit(api_site(typed))
    assert (root.scheme, root.hostname, root.path) == (scheme, host, path)


# Paging


def _companies(first: int, count: int) -> list[dict[str, object]]:
    return [
        {"id": n, "identifier": f"C{n}", "name": f"Company {n}"}
        for n in range(first, first + count)
    ]


def test_navigable_pages_follow_the_link_header_lazily(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    base = f"http://127.0.0.1:8900/connectwise{API}company/companies?pageSize=2"
    fake.on(
        "GET",
        "company/companies",
        httpx.Response(200, json=_companies(1, 2), headers={
            "Link": f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'}),
        httpx.Response(200, json=_companies(3, 2), headers={
            "Link": f'<{base}&page=1>; rel="first", <{base}&page=1>; rel="prev", '
                    f'<{base}&page=3>; rel="next", <{base}&page=3>; rel="last"'}),
        httpx.Response(200, json=_companies(5, 1), headers={
            "Link": f'<{base}&page=1>; rel="first", <{base}&page=2>; rel="prev"'}),
    )  # fmt: skip
    records = make_client(page_size=2).iter_companies()
    assert fake.requests == []  # nothing asked until iterated
    assert [row["id"] for row in records] == [1, 2, 3, 4, 5]
    pages = [query(r) for r in fake.sent("GET", "company/companies")]
    assert [p["page"] for p in pages] == ["1", "2", "3"]
    assert all(p["pageSize"] == "2" and p["orderBy"] == "id asc" for p in pages)


def test_without_a_link_header_a_short_page_ends_the_list(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.on(
        "GET",
        "company/companies",
        httpx.Response(200, json=_companies(1, 2)),
        httpx.Response(200, json=_companies(3, 2)),
        httpx.Response(200, json=[]),
    )
    assert [row["id"] for row in make_client(page_size=2).iter_companies()] == [1, 2, 3, 4]
    assert len(fake.sent("GET", "company/companies")) == 3


def page(ids: list[int], link: str = "") -> httpx.Response:
    return httpx.Response(
        200, json=[{"id": n} for n in ids], headers={"Link": link} if link else {}
    )


def test_forward_only_pages_carry_the_page_id_cursor(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    link = f"http://127.0.0.1:8900/connectwise{API}finance/accounting/unpostedinvoices?pageSize=2"
    fake.on(
        "GET",
        "finance/accounting/unpostedinvoices",
        page([10, 12], f'<{link}&pageId=12>; rel="next"'),
        page([15, 20], f'<{link}&pageId=20>; rel="next"'),
        page([21]),
    )
    rows = list(make_client(page_size=2).iter_unposted_invoices())
    assert [row["id"] for row in rows] == [10, 12, 15, 20, 21]
    sent = fake.sent("GET", "finance/accounting/unpostedinvoices")
    assert [query(r).get("pageId") for r in sent] == [None, "12", "20"]
    assert all(r.headers["pagination-type"] == "forward-only" for r in sent)


def test_an_endpoint_ignoring_forward_only_is_caught_not_looped(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    link = f"https://x{API}finance/accounting/unpostedinvoices?pageSize=2"
    fake.on(
        "GET",
        "finance/accounting/unpostedinvoices",
        page([1, 2], f'<{link}&pageId=2>; rel="next"'),
        page([1, 2]),
    )
    with pytest.raises(ConnectorError) as caught:
        list(make_client(page_size=2).iter_unposted_invoices())
    assert "does not page" in caught.value.message


def test_conditions_are_sent_rendered(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.json("GET", "finance/accounting/batches", [])
    assert make_client().find_batch('20240131 "INV"') is None
    sent = query(fake.sent("GET", "finance/accounting/batches")[0])
    assert sent["conditions"] == 'batchIdentifier = "20240131 \\"INV\\""'


def test_count(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.json("GET", "finance/invoices/count", {"count": 42})
    assert make_client().count("finance/invoices", "balance > 0") == 42


# Errors in ConnectWise's words


def test_wrong_keys(fake: FakeConnectWise, make_client: MakeClient) -> None:
    fake.json("GET", "system/info", payload("errors.json")["unauthorized"], status=401)
    with pytest.raises(ConnectorError) as caught:
        make_client().system_info()
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.message == (
        "ConnectWise rejected the API keys for company 'acmemsp'. Check the public and "
        "private key of the API member."
    )
    assert "UserNotAuthenticated" in caught.value.vendor_detail
    assert "PRIVKEY5678" not in caught.value.vendor_detail


def test_rejected_client_id(fake: FakeConnectWise, make_client: MakeClient) -> None:
    refusal = {"code": "Unauthorized", "message": "The clientId 'nope' is not registered."}
    fake.json("GET", "system/info", refusal, status=401)
    with pytest.raises(ConnectorError) as caught:
        make_client(client_id="nope").system_info()
    assert caught.value.message == "ConnectWise does not accept the clientId 'nope'."
    assert "developer.connectwise.com" in caught.value.hint


@pytest.mark.parametrize(
    ("method", "path", "named"),
    [
        ("GET", "finance/accounting/unpostedinvoices", "Finance/Accounting Interface/Inquire"),
        ("POST", "finance/accounting/batches", "Finance/Accounting Interface/Add"),
        ("POST", "finance/invoices/1201/payments", "Finance/Invoicing/Add"),
        ("GET", "company/companies", "Companies/Company Maintenance/Inquire"),
        ("GET", "finance/taxCodes", "System/Table Setup/Inquire"),
    ],
)
def test_a_refusal_names_the_missing_permission(
    fake: FakeConnectWise, make_client: MakeClient, method: str, path: str, named: str
) -> None:
    security = {"code": "Security", "message": "You do not have security permission."}
    named = named.replace("/", f" {SEP} ")  # as ConnectWise's menus read
    fake.json(method, path, security, status=403)
    with pytest.raises(ConnectorError) as caught:
        make_client().request(method, path, json={} if method == "POST" else None)
    assert caught.value.kind is ErrorKind.PERMISSION
    assert f"lacks the permission {named}" in caught.value.message
    assert named in caught.value.hint
    found = permission_for(method, path)
    assert found is not None and str(found[0]) == named


def test_invalid_object_lists_what_was_wrong(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.json(
        "POST",
        "finance/invoices/1201/payments",
        payload("errors.json")["invalid_object"],
        status=400,
    )
    with pytest.raises(ConnectorError) as caught:
        make_client().create_invoice_payment(1201, {"amount": 1})
    error = caught.value
    assert error.kind is ErrorKind.VALIDATION
    assert error.message == (
        "ConnectWise refused POST /finance/invoices/1201/payments: company object is invalid: "
        "The company identifier is already in use."
    )
    assert "ObjectExists identifier" in error.vendor_detail


def test_a_timeout_500_on_a_read_is_retried(
    fake: FakeConnectWise, make_client: MakeClient, sleeps: Sleeps
) -> None:
    timeout = payload("errors.json")["timeout"]
    fake.on(
        "GET",
        "finance/invoices/1201",
        httpx.Response(500, json=timeout),
        httpx.Response(200, json=payload("invoice_1201.json")),
    )
    assert make_client().get_invoice(1201)["invoiceNumber"] == "1201"
    assert len(sleeps) == 1


def test_the_export_is_side_effect_free_so_it_is_retried(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.on(
        "POST",
        "finance/accounting/export",
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json=payload("gl_export_1201.json")),
    )
    export = make_client().export_accounting({"batchIdentifier": "preview"})
    assert export["transactions"][0]["glEntryIds"] == "88231,88232"


def test_a_batch_identifier_over_50_characters_is_refused_before_sending(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    with pytest.raises(ConnectorError) as caught:
        make_client().create_batch_resolving_uncertainty("X" * 51, [1])
    assert caught.value.kind is ErrorKind.VALIDATION
    assert fake.requests == []


# Accounting batches: never twice


BATCH = payload("accounting_batch.json")


def test_batch_already_there_is_not_sent_again(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.json("GET", "finance/accounting/batches", [BATCH])
    outcome = make_client().create_batch_resolving_uncertainty("20240131-INV", [88231])
    assert (outcome.outcome, outcome.batch["id"]) == ("already_existed", 77)
    assert fake.sent("POST", "finance/accounting/batches") == []


def test_batch_created_and_then_found_by_its_identifier(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.on(
        "GET",
        "finance/accounting/batches",
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[BATCH]),
    )
    fake.json("POST", "finance/accounting/batches", payload("gl_export_1201.json"), status=201)
    outcome = make_client().create_batch_resolving_uncertainty(
        "20240131-INV", [88231, 88232], gl_interface_identifier="psa-acct-sync"
    )
    assert (outcome.outcome, outcome.batch["id"]) == ("created", 77)
    (post,) = fake.sent("POST", "finance/accounting/batches")
    assert post.content == (
        b'{"batchIdentifier":"20240131-INV","exportInvoicesFlag":true,"exportExpensesFlag":false,'
        b'"exportProductsFlag":false,"summarizeExpenses":false,"processedRecordIds":[88231,88232],'
        b'"glInterfaceIdentifier":"psa-acct-sync"}'
    )


def test_a_dropped_batch_post_is_resolved_by_lookup(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.on(
        "GET",
        "finance/accounting/batches",
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[BATCH]),
    )
    fake.on(
        "POST", "finance/accounting/batches", httpx.RemoteProtocolError("peer closed connection")
    )
    outcome = make_client().create_batch_resolving_uncertainty("20240131-INV", [88231])
    assert outcome.outcome == "created"
    assert len(fake.sent("POST", "finance/accounting/batches")) == 1


def test_a_dropped_batch_post_that_did_not_land_is_transient(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.json("GET", "finance/accounting/batches", [])
    fake.on("POST", "finance/accounting/batches", httpx.Response(502))
    with pytest.raises(ConnectorError) as caught:
        make_client().create_batch_resolving_uncertainty("20240131-INV", [88231])
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "did not save accounting batch '20240131-INV'" in caught.value.message
    assert len(fake.sent("POST", "finance/accounting/batches")) == 1


def test_an_identifier_taken_meanwhile_is_found(
    fake: FakeConnectWise, make_client: MakeClient
) -> None:
    fake.on(
        "GET",
        "finance/accounting/batches",
        httpx.Response(200, json=[]),
        httpx.Response(200, json=[BATCH]),
    )
    fake.json(
        "POST", "finance/accounting/batches", payload("errors.json")["batch_exists"], status=400
    )
    outcome = make_client().create_batch_resolving_uncertainty("20240131-INV", [88231])
    assert outcome.outcome == "already_existed"
