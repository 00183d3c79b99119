"""Company sync settings, mappings and exclusion rules, and the run context built from them."""

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind, User
from ledgerbridge.companies.models import Company, CompanySettings, LedgerConnection
from ledgerbridge.core.models import AuditEvent
from ledgerbridge.sync.context import build_context, mappings_for, policy_for
from ledgerbridge.sync.engine import RunStoppedError
from ledgerbridge.sync.models import SyncRun
from ledgerbridge.sync.policy import TermTarget
from tests.accounts.users.conftest import make_api_token
from tests.api.openapi import assert_matches_openapi, openapi_document

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def document(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return openapi_document()


@pytest.fixture
def api(alice: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}")


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind AU")


def checked(response: Any, document: dict[str, Any], status: int) -> Any:
    assert response.status_code == status, response.content.decode()[:1000]
    assert_matches_openapi(response, document)
    return response.json()


def patch(api: Client, company: Company, body: dict[str, Any]) -> Any:
    return api.patch(
        f"/api/v1/companies/{company.pk}/settings", body, content_type="application/json"
    )


def test_settings_need_a_locale_first_and_keep_it(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    refused = checked(patch(api, company, {"timezone": "Australia/Sydney"}), document, 400)
    assert "locale" in refused["detail"]
    made = checked(
        patch(api, company, {"locale": "AU", "timezone": "Australia/Sydney"}), document, 200
    )
    assert (made["locale"], made["max_minor_adjustment"], made["tax_source"]) == (
        "AU",
        "10.00",
        "psa_code",
    )
    fixed = checked(patch(api, company, {"locale": "NZ"}), document, 400)
    assert "fixed once set" in fixed["detail"]
    bad_zone = checked(patch(api, company, {"timezone": "Sydney"}), document, 400)
    assert "time zone" in bad_zone["detail"]
    changed = checked(
        patch(api, company, {"post_as_draft": True, "onboarding_date": "2026-07-01"}), document, 200
    )
    assert changed["post_as_draft"] is True and changed["onboarding_date"] == "2026-07-01"
    assert AuditEvent.objects.filter(action="company.settings_changed").count() == 2


def test_mappings_are_upserted_unmapped_and_checked(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    url = f"/api/v1/companies/{company.pk}/mappings"
    body = [
        {"kind": "account", "psa_value": "4000", "ledger_value": "200", "ledger_label": "Sales"},
        {"kind": "tax_code", "psa_value": "GST", "ledger_value": "OUTPUT"},
        {"kind": "term", "psa_value": "7", "ledger_extra": "M+1:D20"},
        {
            "kind": "tracking",
            "dimension": "location",
            "psa_value": "Sydney",
            "ledger_value": "NSW",
            "ledger_extra": "Region",
        },
    ]
    checked(api.put(url, body, content_type="application/json"), document, 200)
    checked(
        api.put(
            url,
            [{"kind": "account", "psa_value": "4000", "ledger_value": "210"}],
            content_type="application/json",
        ),
        document,
        200,
    )
    mappings = mappings_for(company)
    assert mappings.accounts == {"4000": "210"}
    assert mappings.tax_codes == {"GST": "OUTPUT"}
    assert mappings.terms == {"7": TermTarget(xref="M+1:D20")}
    assert mappings.tracking == {("location", "Sydney"): ("Region", "NSW")}
    bad = [{"kind": "term", "psa_value": "8", "ledger_extra": "Net 30"}]
    refused = checked(api.put(url, bad, content_type="application/json"), document, 400)
    assert "Net 30" in refused["detail"]
    unmap = [{"kind": "tax_code", "psa_value": "GST", "ledger_value": ""}]
    api.put(url, unmap, content_type="application/json")
    assert mappings_for(company).tax_codes == {}
    listed = checked(api.get(url, {"kind": "account"}), document, 200)
    assert [m["ledger_value"] for m in listed] == ["210"]


def test_exclusion_rules_feed_the_policy(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    patch(api, company, {"locale": "AU", "max_minor_adjustment": "2.50"})
    url = f"/api/v1/companies/{company.pk}/exclusion-rules"
    rule = checked(api.post(url, {"prefix": "AGR"}, content_type="application/json"), document, 201)
    duplicate = checked(
        api.post(url, {"prefix": "AGR"}, content_type="application/json"), document, 400
    )
    assert "exists already" in duplicate["detail"]
    policy = policy_for(CompanySettings.objects.get(company=company))
    assert [r.prefix for r in policy.exclusions] == ["AGR"]
    assert policy.max_minor_adjustment == Decimal("2.50")
    assert api.delete(f"{url}/{rule['id']}").status_code == 204
    assert policy_for(CompanySettings.objects.get(company=company)).exclusions == ()


def test_a_run_context_says_what_is_missing(company: Company, account: Account) -> None:
    run = SyncRun.objects.create(company=company, trigger="manual")
    with pytest.raises(RunStoppedError, match="no sync settings"):
        build_context(company, run)
    CompanySettings.objects.create(company=company, locale="AU")
    with pytest.raises(RunStoppedError, match="primary API account"):
        build_context(company, run)
    PsaCredential.objects.create(
        account=account,
        psa=PsaKind.AUTOTASK,
        label="AT",
        is_primary=True,
        secrets={
            "username": "u",
            "secret": "s",
            "integration_code": "c",
            # Never a real vendor host, even though building the context calls nobody.
            "zone_lookup_url": "http://127.0.0.1:9/autotask/atservicesrest/v1.0/zoneInformation",
        },
    )
    with pytest.raises(RunStoppedError, match="not connected to a ledger"):
        build_context(company, run)
    LedgerConnection.objects.create(
        company=company,
        system="qbo",
        organisation_id="9341452100000001",
        organisation_name="Demo MSP (US)",
        access_token="a",
        refresh_token="r",
    )
    context = build_context(company, run)
    assert context.ledger.label == "QuickBooks Online"
    assert context.source.label == "Autotask"
    assert context.ledger_target == "qbo:9341452100000001"
    assert context.policy.locale == "AU" and context.policy.onboarding_date is None


def test_unsaved_settings_read_as_the_defaults(
    api: Client, company: Company, document: dict[str, Any]
) -> None:
    body = checked(api.get(f"/api/v1/companies/{company.pk}/settings"), document, 200)
    assert (body["configured"], body["locale"], body["max_minor_adjustment"]) == (
        False,
        None,
        "10.00",
    )
