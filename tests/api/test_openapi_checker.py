"""The OpenAPI checker must catch drift, or every API test that trusts it proves nothing."""

from typing import Any

import pytest

from tests.api.openapi import Schema, find_operation, validate

DOCUMENT: Schema = {
    "paths": {
        "/api/v1/companies/{company_id}": {"get": {"responses": {}}},
        "/api/v1/health": {"get": {"responses": {}}},
    },
    "components": {
        "schemas": {
            "Company": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "minLength": 1},
                    "ledger": {"enum": ["xero", "qbo"]},
                    "synced_at": {
                        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
                    },
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["id", "name", "ledger"],
            }
        }
    },
}
COMPANY = {"$ref": "#/components/schemas/Company"}
GOOD = {"id": 7, "name": "Northwind", "ledger": "xero", "synced_at": None, "tags": ["a"]}


def test_a_fitting_body_has_no_errors() -> None:
    assert validate(GOOD, COMPANY, DOCUMENT) == []
    later = GOOD | {"synced_at": "2026-01-31T09:00:00+00:00"}
    assert validate(later, COMPANY, DOCUMENT) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": "7"}, "$.id: '7' is not of type integer"),
        ({"id": True}, "$.id: True is not of type integer"),
        ({"id": 0}, "$.id: 0 breaks minimum 1"),
        ({"name": ""}, "$.name: shorter than 1"),
        ({"ledger": "sage"}, "$.ledger: 'sage' is not one of ['xero', 'qbo']"),
        ({"synced_at": "yesterday"}, "$.synced_at: fits none of anyOf"),
        ({"synced_at": "2026-01-31T09:00:00"}, "has no time zone"),
        ({"tags": ["a", 2]}, "$.tags[1]: 2 is not of type string"),
        ({"secret_field": 1}, "$: property 'secret_field' is not in the document"),
    ],
)
def test_drift_is_reported(change: dict[str, Any], problem: str) -> None:
    errors = validate(GOOD | change, COMPANY, DOCUMENT)
    assert any(problem in error for error in errors), errors


def test_a_missing_required_property_is_reported() -> None:
    body = {key: value for key, value in GOOD.items() if key != "name"}
    assert validate(body, COMPANY, DOCUMENT) == ["$: missing required property 'name'"]


def test_an_unknown_keyword_fails_loudly_instead_of_passing() -> None:
    with pytest.raises(NotImplementedError, match="multipleOf"):
        validate(10, {"type": "integer", "multipleOf": 5}, DOCUMENT)


def test_templated_paths_are_matched() -> None:
    template, _ = find_operation(DOCUMENT, "GET", "/api/v1/companies/42")
    assert template == "/api/v1/companies/{company_id}"
    with pytest.raises(AssertionError, match="not in the OpenAPI document"):
        find_operation(DOCUMENT, "GET", "/api/v1/companies/42/extra")
    with pytest.raises(AssertionError, match="not in the OpenAPI document"):
        find_operation(DOCUMENT, "POST", "/api/v1/health")
