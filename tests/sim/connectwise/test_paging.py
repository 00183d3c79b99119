"""Paging boundaries: 0, 1, size - 1, size and size + 1 records, navigable and forward-only."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from ledgerbridge_sim.connectwise.app import seed
from ledgerbridge_sim.state import Simulator

from .conftest import CwApi, links

SIZES = [0, 1, 24, 25, 26]  # around the default page size of 25


def add_companies(sim: Simulator, count: int) -> None:
    seed(
        sim,
        {
            "companies": [
                {"id": 100 + n, "identifier": f"Co{n}", "name": f"Company {n:03d}"}
                for n in range(count)
            ]
        },
    )


def walk_navigable(cw: CwApi, first_url: str, **params: object) -> tuple[list[int], int]:
    """Follow rel="next" links to the end; (ids seen, requests made)."""
    response = cw.get(first_url, **params)
    seen, calls = [row["id"] for row in response.json()], 1
    while "next" in links(response):
        response = cw.request("GET", links(response)["next"])
        seen += [row["id"] for row in response.json()]
        calls += 1
    return seen, calls


@pytest.mark.parametrize("count", SIZES)
def test_default_page_size_boundaries(cw: CwApi, sim: Simulator, count: int) -> None:
    add_companies(sim, count)
    response = cw.get("company/companies")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == list(range(100, 100 + min(count, 25)))
    rels = links(response)
    if count <= 25:
        assert rels == {}  # one page: no Link at all
    else:
        assert set(rels) == {"next", "last"}
        assert rels["next"].endswith("pageSize=25&page=2")
        assert rels["last"].endswith("pageSize=25&page=2")
        second = cw.request("GET", rels["next"])
        assert [row["id"] for row in second.json()] == [125]
        assert set(links(second)) == {"first", "prev"}
        assert links(second)["first"].endswith("page=1")


@pytest.mark.parametrize("count", [0, 1, 9, 10, 11])
def test_walking_next_links_sees_every_record_once(cw: CwApi, sim: Simulator, count: int) -> None:
    add_companies(sim, count)
    seen, calls = walk_navigable(cw, "company/companies", pageSize=10)
    assert seen == list(range(100, 100 + count))
    assert calls == max(1, -(-count // 10))


@pytest.mark.parametrize("count", [0, 1, 9, 10, 11])
def test_stopping_at_a_short_page_also_works(cw: CwApi, sim: Simulator, count: int) -> None:
    # django-connectwise ignores Link and stops when a page is shorter than pageSize.
    add_companies(sim, count)
    seen, page = [], 1
    while True:
        rows = cw.get("company/companies", pageSize=10, page=page).json()
        seen += [row["id"] for row in rows]
        if len(rows) < 10:
            break
        page += 1
    assert seen == list(range(100, 100 + count))


def test_links_keep_the_query_and_put_page_last(cw: CwApi, sim: Simulator) -> None:
    add_companies(sim, 30)
    response = cw.get(
        "company/companies",
        conditions='name like "Company%"',
        orderBy="name desc",
        pageSize=7,
        page=2,
    )
    rels = links(response)
    assert set(rels) == {"first", "prev", "next", "last"}
    for rel, page in (("first", "1"), ("prev", "1"), ("next", "3"), ("last", "5")):
        query = parse_qsl(urlsplit(rels[rel]).query)
        assert query[-1] == ("page", page)
        assert ("conditions", 'name like "Company%"') in query
        assert ("orderBy", "name desc") in query
        assert ("pageSize", "7") in query
    assert rels["next"].startswith("http://sim.test/connectwise/v4_6_release/apis/3.0/")


def test_a_page_past_the_end_is_empty(cw: CwApi, sim: Simulator) -> None:
    add_companies(sim, 3)
    response = cw.get("company/companies", page=9)
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(("size", "status"), [(1000, 200), (1, 200), (1001, 400), (0, 400)])
def test_page_size_limits(cw: CwApi, sim: Simulator, size: int, status: int) -> None:
    add_companies(sim, 2)
    response = cw.get("company/companies", pageSize=size)
    assert response.status_code == status
    if status == 400:
        assert response.json()["code"] == "InvalidObject"
        assert "pageSize" in response.json()["message"]


def test_non_numeric_page_is_refused(cw: CwApi, sim: Simulator) -> None:
    response = cw.get("company/companies", page="two")
    assert response.status_code == 400
    assert set(response.json()) >= {"code", "message"}


@pytest.mark.parametrize("count", [0, 1, 9, 10, 11])
def test_forward_only_follows_page_id(cw: CwApi, sim: Simulator, count: int) -> None:
    add_companies(sim, count)
    forward = {"pagination-type": "forward-only"}
    response = cw.request("GET", "company/companies", params={"pageSize": 10}, headers=forward)
    seen, calls = [row["id"] for row in response.json()], 1
    while "next" in links(response):
        rels = links(response)
        assert set(rels) == {"next"}
        query = dict(parse_qsl(urlsplit(rels["next"]).query))
        assert query["pageId"] == str(seen[-1])
        assert "page" not in query
        response = cw.request("GET", rels["next"], headers=forward)
        seen += [row["id"] for row in response.json()]
        calls += 1
    assert "link" not in response.headers
    assert seen == list(range(100, 100 + count))
    assert calls == max(1, -(-count // 10))


def test_forward_only_does_not_skip_rows_added_between_pages(cw: CwApi, sim: Simulator) -> None:
    add_companies(sim, 12)
    forward = {"pagination-type": "forward-only"}
    first = cw.request("GET", "company/companies", params={"pageSize": 5}, headers=forward)
    seed(sim, {"companies": [{"id": 50, "identifier": "Early", "name": "Inserted before"}]})
    second = cw.request("GET", links(first)["next"], headers=forward)
    assert [row["id"] for row in second.json()] == [105, 106, 107, 108, 109]


def test_page_id_is_also_a_plain_parameter(cw: CwApi, sim: Simulator) -> None:
    add_companies(sim, 5)
    rows = cw.get("company/companies", pageId=102).json()
    assert [row["id"] for row in rows] == [103, 104]


def test_count_honours_conditions(cw: CwApi, sim: Simulator) -> None:
    add_companies(sim, 26)
    assert cw.get("company/companies/count").json() == {"count": 26}
    assert cw.get("company/companies/count", conditions="id >= 120").json() == {"count": 6}
