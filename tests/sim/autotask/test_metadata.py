import re
from typing import Any

import pytest

from ledgerbridge_sim.state import Simulator
from tests.sim.autotask.conftest import EVERY_ROW, AutotaskApi, load

pytestmark = pytest.mark.usefixtures("tenant")


def fields(api: AutotaskApi, entity: str) -> dict[str, dict[str, Any]]:
    response = api.get(f"{entity}/entityInformation/fields")
    assert response.status_code == 200
    return {field["name"]: field for field in response.json()["fields"]}


def camel_case(name: str) -> str:
    """How the service's JSON serializer turns a Swagger property into a wire name."""
    leading = re.match(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z]", name)
    assert leading is not None
    return leading.group().lower() + name[leading.end() :]


@pytest.mark.parametrize("entity", ["Invoices", "Products", "ExpenseItems", "Companies"])
def test_field_names_are_the_swaggers_in_camel_case(api: AutotaskApi, entity: str) -> None:
    expected = [camel_case(name) for name in load("swagger_properties.json")[entity]]
    assert list(fields(api, entity)) == expected


def test_camel_case_follows_the_serializer_for_acronyms() -> None:
    assert camel_case("SICCode") == "sicCode"
    assert camel_case("MSRP") == "msrp"
    assert camel_case("GLCode") == "glCode"
    assert camel_case("ExternalPONumber") == "externalPONumber"


def test_entity_information(api: AutotaskApi) -> None:
    info = api.get("Invoices/entityInformation").json()["info"]
    assert info["name"] == "Invoices"
    assert (info["canCreate"], info["canUpdate"], info["canQuery"], info["canDelete"]) == (
        False,
        True,
        True,
        False,
    )
    contacts = api.get("Contacts/entityInformation").json()["info"]
    assert contacts["canCreate"] and contacts["canDelete"]
    assert api.get("Companies/entityInformation").json()["info"]["hasUserDefinedFields"] is True


def test_only_three_invoice_fields_are_writable(api: AutotaskApi) -> None:
    writable = {name for name, field in fields(api, "Invoices").items() if not field["isReadOnly"]}
    assert writable == {"invoiceNumber", "paidDate", "webServiceDate"}


def test_field_metadata_shape(api: AutotaskApi) -> None:
    invoice_fields = fields(api, "Invoices")
    assert invoice_fields["dueDate"]["isQueryable"] is False
    assert invoice_fields["invoiceTotal"]["dataType"] == "decimal"
    assert invoice_fields["id"]["dataType"] == "long"
    assert invoice_fields["invoiceNumber"]["length"] == 50
    assert invoice_fields["companyID"]["isReference"] is True
    assert invoice_fields["companyID"]["referenceEntityType"] == "Companies"
    assert fields(api, "Contacts")["isActive"]["dataType"] == "integer"
    company = fields(api, "Companies")
    assert company["companyName"]["isRequired"] is True
    assert company["companyName"]["picklistValues"] is None
    assert set(company["companyName"]) == {
        "name", "dataType", "length", "isRequired", "isReadOnly", "isQueryable", "isReference",
        "referenceEntityType", "isPickList", "picklistValues", "picklistParentValueField",
        "isSupportedWebhookField",
    }  # fmt: skip


def test_picklists_come_with_their_values(api: AutotaskApi) -> None:
    company_type = fields(api, "Companies")["companyType"]
    assert company_type["isPickList"] is True
    labels = {item["value"]: item["label"] for item in company_type["picklistValues"]}
    assert labels["1"] == "Customer" and labels["7"] == "Vendor"
    assert set(company_type["picklistValues"][0]) == {
        "value", "label", "isDefaultValue", "sortOrder", "parentValue", "isActive", "isSystem",
    }  # fmt: skip
    for entity, name in [
        ("BillingItems", "billingItemType"),
        ("PurchaseOrders", "status"),
        ("ExpenseReports", "status"),
    ]:
        assert fields(api, entity)[name]["picklistValues"], (entity, name)


def test_payment_term_picklist_is_the_tenants_payment_terms(api: AutotaskApi) -> None:
    payment_term = fields(api, "Invoices")["paymentTerm"]
    assert payment_term["isPickList"] is True
    assert [(item["value"], item["label"]) for item in payment_term["picklistValues"]] == [
        ("1", "Net 30"),
        ("2", "Due on Receipt"),
    ]


def test_user_defined_field_definitions(api: AutotaskApi) -> None:
    response = api.get("Companies/entityInformation/userDefinedFields")
    assert [field["name"] for field in response.json()["fields"]] == ["Accounting Reference"]
    assert api.get("Invoices/entityInformation/userDefinedFields").json() == {"fields": []}


def test_child_entity_information_through_the_parent_url(api: AutotaskApi) -> None:
    response = api.get("Companies/174/Contacts/entityInformation/fields")
    assert "emailAddress" in {field["name"] for field in response.json()["fields"]}


def test_threshold_information_reflects_the_hour(api: AutotaskApi, sim: Simulator) -> None:
    sim.settings["autotask"]["requests_per_hour"] = 50
    for _ in range(3):
        api.query("Companies", {"filter": EVERY_ROW})
    assert api.get("ThresholdInformation").json() == {
        "externalRequestThreshold": 50,
        "requestThresholdTimeframe": 60,
        "currentTimeframeRequestCount": 4,
    }
