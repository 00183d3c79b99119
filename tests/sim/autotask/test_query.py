import json
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import EVERY_ROW, AutotaskApi, read

pytestmark = pytest.mark.usefixtures("tenant")

ITEM_1, ITEM_2, ITEM_3, ITEM_4 = 29690001, 29690002, 29690003, 29690004


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"op": "eq", "field": "companyID", "value": 250}, [ITEM_3]),
        ({"op": "noteq", "field": "companyID", "value": 250}, [ITEM_1, ITEM_2, ITEM_4]),
        ({"op": "gt", "field": "extendedPrice", "value": 200}, [ITEM_2]),
        ({"op": "gte", "field": "extendedPrice", "value": "200.00"}, [ITEM_1, ITEM_2]),
        ({"op": "lt", "field": "quantity", "value": 0}, [ITEM_3]),
        ({"op": "lte", "field": "quantity", "value": 1}, [ITEM_2, ITEM_3, ITEM_4]),
        ({"op": "eq", "field": "quantity", "value": 1.3333333}, [ITEM_1]),
        ({"op": "gt", "field": "postedDate", "value": "2024-01-29"}, [ITEM_3, ITEM_4]),
        (
            {"op": "gte", "field": "postedDate", "value": "2024-01-29T00:00:00Z"},
            [ITEM_1, ITEM_2, ITEM_3, ITEM_4],
        ),
        (
            {"op": "lt", "field": "postedDate", "value": "2024-01-29T18:00:00-05:00"},
            [ITEM_1, ITEM_2],
        ),
        ({"op": "eq", "field": "itemName", "value": "remote SUPPORT"}, [ITEM_1, ITEM_4]),
        ({"op": "beginsWith", "field": "description", "value": "t2024"}, [ITEM_1]),
        ({"op": "endsWith", "field": "description", "value": "X1"}, [ITEM_2]),
        ({"op": "contains", "field": "description", "value": "service credit"}, [ITEM_3]),
        ({"op": "exist", "field": "invoiceID"}, [ITEM_1, ITEM_2, ITEM_3]),
        ({"op": "notExist", "field": "invoiceID"}, [ITEM_4]),
        ({"op": "in", "field": "invoiceID", "value": [29684513, 1]}, [ITEM_3]),
        ({"op": "notIn", "field": "billingItemType", "value": [1, 4]}, [ITEM_3]),
        # Null never compares: items with no invoice are not "not equal" to one.
        ({"op": "noteq", "field": "invoiceID", "value": 29684512}, [ITEM_3]),
    ],
)
def test_each_operator(api: AutotaskApi, condition: dict[str, Any], expected: list[int]) -> None:
    assert api.ids("BillingItems", [condition]) == expected


def test_nested_and_or_groups(api: AutotaskApi) -> None:
    # (credit lines) or (company 174 and (not invoiced or labour over an hour))
    filters = [
        {
            "op": "or",
            "items": [
                {"op": "lt", "field": "totalAmount", "value": 0},
                {
                    "op": "and",
                    "items": [
                        {"op": "eq", "field": "companyID", "value": 174},
                        {
                            "op": "or",
                            "items": [
                                {"op": "notExist", "field": "invoiceID"},
                                {"op": "gt", "field": "quantity", "value": "1.25"},
                            ],
                        },
                    ],
                },
            ],
        }
    ]
    assert api.ids("BillingItems", filters) == [ITEM_1, ITEM_3, ITEM_4]


def test_top_level_conditions_are_anded(api: AutotaskApi) -> None:
    filters = [
        {"op": "eq", "field": "companyID", "value": 174},
        {"op": "exist", "field": "invoiceID"},
        {"op": "gt", "field": "rate", "value": 200},
    ]
    assert api.ids("BillingItems", filters) == [ITEM_2]


def test_keys_operators_and_field_names_ignore_case(api: AutotaskApi) -> None:
    response = api.query(
        "Invoices",
        {"maxRecords": 1, "includeFields": ["INVOICENUMBER"],
         "Filter": [{"Op": "NOTEXIST", "Field": "WebServiceDate"}]},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["items"] == [{"id": 29684512, "invoiceNumber": "10234"}]


def test_the_postable_invoices_query_from_the_docs(api: AutotaskApi) -> None:
    body = {
        "MaxRecords": 500,
        "IncludeFields": [
            "id", "invoiceNumber", "companyID", "invoiceTotal", "paidDate", "webServiceDate"
        ],
        "filter": [
            {"op": "and", "items": [
                {"op": "gte", "field": "invoiceDateTime", "value": "2024-01-01T00:00:00Z"},
                {"op": "eq", "field": "isVoided", "value": False},
                {"op": "notExist", "field": "webServiceDate"}]},
            {"op": "in", "field": "companyID", "value": [174, 250]},
        ],
    }  # fmt: skip
    response = api.query("Invoices", body)
    assert read(response)["items"] == [
        {
            "id": 29684512,
            "invoiceNumber": "10234",
            "companyID": 174,
            "invoiceTotal": Decimal("1296.75"),
            "paidDate": None,
            "webServiceDate": None,
        }
    ]


def test_money_and_seven_decimal_quantities_leave_as_exact_json_numbers(api: AutotaskApi) -> None:
    response = api.get(f"BillingItems/{ITEM_1}")
    assert b'"quantity":1.3333333' in response.content
    assert b'"rate":150.00' in response.content
    assert read(response)["item"]["quantity"] == Decimal("1.3333333")


def test_user_defined_fields_are_filtered_with_udf_true(api: AutotaskApi) -> None:
    condition = {"op": "eq", "field": "accounting reference", "udf": True, "value": "xero-0a1b2c3d"}
    assert api.ids("Companies", [condition]) == [174]
    unset = {"op": "notExist", "field": "Accounting Reference", "udf": True}
    assert api.ids("Companies", [unset]) == [250, 300]
    assert api.get("Companies/174").json()["item"]["userDefinedFields"] == [
        {"name": "Accounting Reference", "value": "XERO-0A1B2C3D"}
    ]


def test_contacts_is_active_is_an_integer(api: AutotaskApi) -> None:
    assert api.ids("Contacts", [{"op": "eq", "field": "isActive", "value": 1}]) == [29682901]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"filter": []}, "at least one filter"),
        ({"MaxRecords": 10}, "at least one filter"),
        ({"filter": [{"op": "eq", "field": "nope", "value": 1}]}, "Unable to find field 'nope'"),
        ({"filter": [{"op": "like", "field": "id", "value": 1}]}, "'like' is not a valid"),
        (
            {"filter": [{"op": "eq", "field": "isVoided", "value": "false"}]},
            "not valid for the boolean",
        ),
        ({"filter": [{"op": "eq", "field": "isVoided", "value": None}]}, "null is not allowed"),
        ({"filter": [{"op": "in", "field": "id", "value": 5}]}, "non-empty list"),
        ({"filter": [{"op": "contains", "field": "id", "value": "5"}]}, "only be used on text"),
        (
            {"filter": [{"op": "lt", "field": "dueDate", "value": "2024-01-01"}]},
            "cannot be queried",
        ),
        ({"filter": [{"op": "or", "items": []}]}, "non-empty 'items'"),
        ({"filter": EVERY_ROW, "IncludeFields": ["nope"]}, "Unable to find field 'nope'"),
        ({"filter": EVERY_ROW, "MaxRecords": 501}, "between 1 and 500"),
        ({"filter": EVERY_ROW, "MaxRecords": 0}, "between 1 and 500"),
    ],
)
def test_refused_queries_are_500_with_errors(
    api: AutotaskApi, body: dict[str, Any], message: str
) -> None:
    response = api.query("Invoices", body)
    assert response.status_code == 500
    assert message in response.json()["errors"][0]


def test_non_queryable_billing_item_descriptions(api: AutotaskApi) -> None:
    condition = {"op": "contains", "field": "lineItemFullDescription", "value": "Ticket"}
    assert api.query("BillingItems", {"filter": [condition]}).status_code == 500


def test_or_conditions_are_limited_to_500(api: AutotaskApi) -> None:
    def ors(count: int) -> dict[str, Any]:
        items = [{"op": "eq", "field": "id", "value": n} for n in range(count)]
        return {"filter": [{"op": "or", "items": items}]}

    assert api.query("Invoices", ors(500)).status_code == 200
    refused = api.query("Invoices", ors(501))
    assert refused.status_code == 500
    assert "500 or fewer 'OR' conditions" in refused.json()["errors"][0]


def test_max_records_500_is_accepted(api: AutotaskApi) -> None:
    response = api.query("Invoices", {"MaxRecords": 500, "filter": EVERY_ROW})
    assert response.json()["pageDetails"]["requestCount"] == 500


def test_include_fields_always_returns_id(api: AutotaskApi) -> None:
    response = api.query("Companies", {"IncludeFields": ["companyName"], "filter": EVERY_ROW})
    assert response.json()["items"][0] == {"id": 174, "companyName": "Harbor Dental Group"}


def test_get_with_search_parameter(api: AutotaskApi) -> None:
    search = json.dumps({"filter": [{"op": "eq", "field": "companyType", "value": 7}]})
    response = api.get("Companies/query", params={"search": search})
    assert [item["companyName"] for item in response.json()["items"]] == ["Ingram Micro"]


def test_get_query_without_search_is_refused(api: AutotaskApi) -> None:
    assert api.get("Companies/query").status_code == 500


def test_count_by_post_and_by_get(api: AutotaskApi) -> None:
    body = {"filter": [{"op": "exist", "field": "invoiceID"}]}
    assert api.post("BillingItems/query/count", json=body).json() == {"queryCount": 3}
    response = api.get("BillingItems/query/count", params={"search": json.dumps(body)})
    assert response.json() == {"queryCount": 3}


def test_get_one_and_a_missing_one(api: AutotaskApi) -> None:
    found = read(api.get("Invoices/29684513"))
    assert found["item"]["invoiceTotal"] == Decimal("-250.00")
    assert found["item"]["webServiceDate"] == "2024-02-01T06:30:00.000Z"
    missing = api.get("Invoices/1")
    assert missing.status_code == 404
    assert missing.json() == {"item": None}


def test_every_record_carries_every_swagger_field(api: AutotaskApi, sim: Simulator) -> None:
    item = api.get("Invoices/29684512").json()["item"]
    assert list(item) == [
        "id", "batchID", "comments", "companyID", "createDateTime", "creatorResourceID",
        "dueDate", "fromDate", "invoiceDateTime", "invoiceEditorTemplateID", "invoiceNumber",
        "invoiceTotal", "isVoided", "orderNumber", "paidDate", "paymentTerm", "taxGroup",
        "taxRegionName", "toDate", "totalTaxValue", "voidedByResourceID", "voidedDate",
        "webServiceDate", "userDefinedFields",
    ]  # fmt: skip


def test_child_entities_list_under_their_parent(api: AutotaskApi) -> None:
    response = api.get("Companies/174/Contacts")
    assert [item["id"] for item in response.json()["items"]] == [29682901, 29682902]
    assert api.get("Companies/250/Contacts/29682901").status_code == 404


def test_a_not_a_number_filter_value_is_refused(api: AutotaskApi) -> None:
    condition = {"op": "gt", "field": "invoiceTotal", "value": "NaN"}
    response = api.query("Invoices", {"filter": [condition]})
    assert response.status_code == 500
    assert "not valid for the decimal field" in response.json()["errors"][0]
