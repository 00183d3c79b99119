"""The batch endpoint: up to 30 independent items, each with its own answer or Fault."""

from typing import Any

from tests.sim.qbo.conftest import QboApi, error_of, read, sales_line


def _invoice(api: QboApi, doc_number: str) -> dict[str, Any]:
    customer = api.one("Customer", "DisplayName = 'Birch Legal'")["Id"]
    item = api.one("Item", "Name = 'Per Seat'")["Id"]
    return {
        "CustomerRef": {"value": customer},
        "DocNumber": doc_number,
        "Line": [sales_line(item, 3, "55")],
    }


def test_thirty_items_run_independently_with_their_own_faults(us: QboApi) -> None:
    items: list[dict[str, Any]] = []
    for number in range(1, 29):
        doc_number = f"B-{number:03d}"
        if number % 7 == 0:
            doc_number = "B-001"  # taken by the first item: this one fails alone
        items.append(
            {"bId": f"i{number}", "operation": "create", "Invoice": _invoice(us, doc_number)}
        )
    items.append({"bId": "q", "Query": "select * from Term where Name = 'Net 15'"})
    items.append({"bId": "bad", "operation": "create", "Invoice": {"Line": []}})
    response = us.post("batch", {"BatchItemRequest": items}, minorversion=75)
    assert response.status_code == 200
    answers = read(response)["BatchItemResponse"]
    assert [answer["bId"] for answer in answers] == [item["bId"] for item in items]
    failed = {a["bId"]: a["Fault"]["Error"][0]["code"] for a in answers if "Fault" in a}
    assert failed == {"i7": "6140", "i14": "6140", "i21": "6140", "i28": "6140", "bad": "2020"}
    assert answers[0]["Invoice"]["TotalAmt"] > 0
    assert answers[28]["QueryResponse"]["Term"][0]["DueDays"] == 15
    assert read(us.query("select count(*) from Invoice"))["QueryResponse"]["totalCount"] == 24


def test_more_than_thirty_items_are_refused_whole(us: QboApi) -> None:
    items = [
        {"bId": str(n), "operation": "create", "Invoice": _invoice(us, f"X-{n}")} for n in range(31)
    ]
    response = us.post("batch", {"BatchItemRequest": items})
    assert response.status_code == 400
    assert error_of(response)["element"] == "BatchItemRequest"
    assert "at most 30" in error_of(response)["Detail"]
    assert us.rows("select * from Invoice") == []


def test_items_cannot_see_what_earlier_items_created(us: QboApi) -> None:
    items = [
        {
            "bId": "c",
            "operation": "create",
            "Customer": {"DisplayName": "Kilo Kitchens", "Id": None},
        },
    ]
    answers = read(us.post("batch", {"BatchItemRequest": items}))["BatchItemResponse"]
    new_id = answers[0]["Customer"]["Id"]
    chained = [
        {"bId": "c2", "operation": "create", "Customer": {"DisplayName": "Lima Law"}},
        {
            "bId": "inv",
            "operation": "create",
            "Invoice": {**_invoice(us, "L-1"), "CustomerRef": {"value": str(int(new_id) + 1)}},
        },
    ]
    answers = read(us.post("batch", {"BatchItemRequest": chained}))["BatchItemResponse"]
    assert answers[0]["Customer"]["Id"] == str(int(new_id) + 1)
    assert answers[1]["Fault"]["Error"][0]["code"] == "610"
    # Outside the batch the customer is there to use.
    assert (
        us.post(
            "invoice",
            {**_invoice(us, "L-1"), "CustomerRef": {"value": answers[0]["Customer"]["Id"]}},
        ).status_code
        == 200
    )


def test_batch_updates_deletes_and_stale_tokens(us: QboApi) -> None:
    first = us.create("Invoice", _invoice(us, "U-1"))
    second = us.create("Invoice", _invoice(us, "U-2"))
    items = [
        {
            "bId": "u",
            "operation": "update",
            "Invoice": {"Id": first["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "seen"},
        },
        {
            "bId": "stale",
            "operation": "update",
            "Invoice": {
                "Id": first["Id"],
                "SyncToken": "0",
                "sparse": True,
                "PrivateNote": "again",
            },
        },
        {"bId": "d", "operation": "delete", "Invoice": {"Id": second["Id"], "SyncToken": "0"}},
    ]
    answers = read(us.post("batch", {"BatchItemRequest": items}))["BatchItemResponse"]
    assert answers[0]["Invoice"]["PrivateNote"] == "seen"
    assert answers[1]["Fault"]["Error"][0]["code"] == "5010"
    assert answers[2]["Invoice"]["status"] == "Deleted"
    assert us.fetch("Invoice", first["Id"])["PrivateNote"] == "seen"


def test_a_batch_requestid_replays_the_whole_answer(us: QboApi) -> None:
    items = [{"bId": "1", "operation": "create", "Invoice": _invoice(us, "R-1")}]
    first = us.post("batch", {"BatchItemRequest": items}, requestid="b-2026-11-02-0017")
    again = us.post("batch", {"BatchItemRequest": items}, requestid="b-2026-11-02-0017")
    assert read(again) == read(first)
    assert "Invoice" in read(again)["BatchItemResponse"][0]
    assert len(us.rows("select * from Invoice where DocNumber = 'R-1'")) == 1


def test_with_a_requestid_batch_ids_are_at_most_ten_characters(us: QboApi) -> None:
    items = [{"bId": "a-very-long-id", "operation": "create", "Invoice": _invoice(us, "R-2")}]
    answers = read(us.post("batch", {"BatchItemRequest": items}, requestid="short"))
    assert answers["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "2050"
