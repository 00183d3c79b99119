import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ledgerbridge_sim.autotask import app as autotask
from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import EVERY_ROW, AutotaskApi

SIZE = 5


def seed_categories(sim: Simulator, count: int) -> list[int]:
    autotask.seed(
        sim, {"TaxCategories": [{"name": f"Category {n}", "isActive": True} for n in range(count)]}
    )
    return sorted(sim.system("autotask").collection("TaxCategories"))


def walk(api: AutotaskApi, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of a POST query, following nextPageUrl by POSTing the same body."""
    pages = [api.query("TaxCategories", body).json()]
    while (next_url := pages[-1]["pageDetails"]["nextPageUrl"]) is not None:
        response = api.post(next_url, json=body)
        assert response.status_code == 200, response.text
        pages.append(response.json())
    return pages


@pytest.mark.parametrize("count", [0, 1, SIZE - 1, SIZE, SIZE + 1, 2 * SIZE, 2 * SIZE + 1])
def test_page_boundaries(api: AutotaskApi, sim: Simulator, count: int) -> None:
    expected = seed_categories(sim, count)
    pages = walk(api, {"MaxRecords": SIZE, "filter": EVERY_ROW})
    assert [item["id"] for page in pages for item in page["items"]] == expected
    assert len(pages) == max(1, -(-count // SIZE))
    for page in pages:
        details = page["pageDetails"]
        assert details["count"] == len(page["items"])
        assert details["requestCount"] == SIZE
    assert pages[0]["pageDetails"]["prevPageUrl"] is None
    assert all(page["pageDetails"]["prevPageUrl"] for page in pages[1:])


def test_default_page_size_is_500(api: AutotaskApi, sim: Simulator) -> None:
    expected = seed_categories(sim, 501)
    pages = walk(api, {"filter": EVERY_ROW})
    assert [page["pageDetails"]["count"] for page in pages] == [500, 1]
    assert [item["id"] for page in pages for item in page["items"]] == expected


def test_the_next_page_url_of_a_post_query_refuses_get(api: AutotaskApi, sim: Simulator) -> None:
    seed_categories(sim, SIZE + 1)
    first = api.query("TaxCategories", {"MaxRecords": SIZE, "filter": EVERY_ROW}).json()
    next_url = first["pageDetails"]["nextPageUrl"]
    assert "/TaxCategories/query/next?paging=" in next_url
    token = json.loads(parse_qs(urlsplit(next_url).query)["paging"][0])
    assert token == {"pageSize": SIZE, "previousIds": [-1], "nextIds": [first["items"][-1]["id"]]}
    response = api.get(next_url)
    assert response.status_code == 405
    assert response.json() == {
        "Message": "The requested resource does not support http method 'GET'."
    }


def test_the_next_page_uses_the_body_it_is_posted_with(api: AutotaskApi, sim: Simulator) -> None:
    seed_categories(sim, 8)
    body = {"MaxRecords": 3, "filter": [{"op": "gte", "field": "id", "value": 2}]}
    first = api.query("TaxCategories", body).json()
    second = api.post(first["pageDetails"]["nextPageUrl"], json=body).json()
    assert [item["id"] for item in second["items"]] == [5, 6, 7]
    narrower = {"filter": [{"op": "in", "field": "id", "value": [1, 7, 8]}]}
    third = api.post(first["pageDetails"]["nextPageUrl"], json=narrower).json()
    assert [item["id"] for item in third["items"]] == [7, 8]


def test_a_get_query_carries_its_search_into_the_page_links(
    api: AutotaskApi, sim: Simulator
) -> None:
    expected = seed_categories(sim, 7)
    search = json.dumps({"MaxRecords": 3, "filter": EVERY_ROW})
    page = api.get("TaxCategories/query", params={"search": search}).json()
    ids = [item["id"] for item in page["items"]]
    while page["pageDetails"]["nextPageUrl"]:
        assert "&search=" in page["pageDetails"]["nextPageUrl"]
        response = api.get(page["pageDetails"]["nextPageUrl"])
        assert response.status_code == 200
        page = response.json()
        ids += [item["id"] for item in page["items"]]
    assert ids == expected


def test_previous_page_url_goes_back(api: AutotaskApi, sim: Simulator) -> None:
    seed_categories(sim, 7)
    body = {"MaxRecords": 3, "filter": EVERY_ROW}
    pages = walk(api, body)
    back = api.post(pages[2]["pageDetails"]["prevPageUrl"], json=body).json()
    assert back["items"] == pages[1]["items"]
    first = api.post(back["pageDetails"]["prevPageUrl"], json=body).json()
    assert first["items"] == pages[0]["items"]
    assert first["pageDetails"]["prevPageUrl"] is None


def test_rows_added_between_pages_are_neither_duplicated_nor_skipped(
    api: AutotaskApi, sim: Simulator
) -> None:
    seed_categories(sim, 6)
    body = {"MaxRecords": 4, "filter": EVERY_ROW}
    first = api.query("TaxCategories", body).json()
    autotask.seed(sim, {"TaxCategories": [{"name": "Added mid-walk", "isActive": True}]})
    second = api.post(first["pageDetails"]["nextPageUrl"], json=body).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == [1, 2, 3, 4, 5, 6, 7]


def test_a_tampered_paging_token_is_refused(api: AutotaskApi, sim: Simulator) -> None:
    seed_categories(sim, 2)
    response = api.post("TaxCategories/query/next?paging=%7Bnot-json", json={"filter": EVERY_ROW})
    assert response.status_code == 500
    assert response.json()["errors"]
