"""The go-live checklist, computed from what LedgerBridge stores, item by item."""

from datetime import UTC, date, datetime

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, PsaCredential, User
from ledgerbridge.companies.checklist import account_checklist, company_checklist
from ledgerbridge.companies.models import (
    Company,
    CompanySettings,
    LedgerConnection,
    Mapping,
    MappingKind,
)
from ledgerbridge.sync.models import SyncRecord, SyncRun

pytestmark = pytest.mark.django_db
TESTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def items(company: Company) -> dict[str, bool]:
    return {item.key: item.done for item in company_checklist(company).items}


def detail(company: Company, key: str) -> str:
    return next(item.detail for item in company_checklist(company).items if item.key == key)


def credential(account: Account, *, primary: bool = True, ok: bool | None = True) -> PsaCredential:
    return PsaCredential.objects.create(
        account=account,
        psa="connectwise",
        label="Northwind CW" if primary else "Second CW",
        is_primary=primary,
        last_tested_at=TESTED if ok is not None else None,
        last_test_ok=ok,
        last_test_summary="" if ok else "ConnectWise refused the API keys.",
    )


def connected(company: Company) -> LedgerConnection:
    return LedgerConnection.objects.create(
        company=company, system="xero", organisation_id="org-1", organisation_name="Demo MSP (AU)"
    )


def ready_company(account: Account) -> Company:
    company = Company.objects.create(account=account, name="Northwind Traders")
    credential(account)
    connected(company)
    CompanySettings.objects.create(
        company=company,
        locale="AU",
        exempt_tax_code="EXEMPTOUTPUT",
        onboarding_date=date(2026, 7, 1),
    )
    Mapping.objects.create(
        company=company, kind=MappingKind.ACCOUNT, psa_value="4000", ledger_value="200"
    )
    Mapping.objects.create(
        company=company, kind=MappingKind.TAX_CODE, psa_value="1", ledger_value="OUTPUT"
    )
    SyncRun.objects.create(company=company, trigger="manual", status=SyncRun.Status.SUCCEEDED)
    return company


def test_a_new_company_has_every_item_open(account: Account) -> None:
    company = Company.objects.create(account=account, name="Northwind Traders")
    assert items(company) == {
        "psa": False,
        "ledger": False,
        "mappings": False,
        "onboarding": False,
        "test_sync": False,
    }
    assert "No PSA credentials yet" in detail(company, "psa")
    assert "settings first" in detail(company, "mappings")


def test_a_company_with_everything_in_place_is_ready(account: Account) -> None:
    checklist = company_checklist(ready_company(account))
    assert checklist.ready and checklist.done_count == 5 and checklist.next_item is None


def test_credentials_count_only_once_a_connectivity_test_passed(account: Account) -> None:
    company = ready_company(account)
    PsaCredential.objects.update(last_test_ok=None, last_tested_at=None)
    assert not items(company)["psa"] and "not been tested" in detail(company, "psa")
    PsaCredential.objects.update(last_test_ok=False, last_test_summary="The API keys were refused.")
    assert not items(company)["psa"] and "The API keys were refused." in detail(company, "psa")


def test_the_companys_own_credentials_are_checked_rather_than_the_primary(account: Account) -> None:
    company = ready_company(account)
    own = credential(account, primary=False, ok=None)
    CompanySettings.objects.filter(company=company).update(psa_credential=own)
    assert not items(company)["psa"]
    assert "Second CW" in detail(company, "psa")


def test_a_disconnected_ledger_says_why(account: Account) -> None:
    company = ready_company(account)
    LedgerConnection.objects.update(
        status="disconnected", disconnect_reason="Xero no longer lists Demo MSP (AU); reconnect."
    )
    assert not items(company)["ledger"]
    assert detail(company, "ledger") == "Xero no longer lists Demo MSP (AU); reconnect."


def test_mappings_are_incomplete_without_an_exempt_tax_code(account: Account) -> None:
    company = ready_company(account)
    CompanySettings.objects.update(exempt_tax_code="")
    assert not items(company)["mappings"]
    assert "tax-exempt sales" in detail(company, "mappings")


def test_mappings_are_incomplete_while_a_record_waits_for_one(account: Account) -> None:
    company = ready_company(account)
    SyncRecord.objects.create(
        company=company, record_type="invoice", psa_id="9", state="failed", error_class="mapping"
    )
    SyncRecord.objects.create(
        company=company, record_type="invoice", psa_id="10", state="failed", error_class="transient"
    )
    assert not items(company)["mappings"]
    assert "1 record is waiting for a mapping" in detail(company, "mappings")


def test_fixed_tax_codes_need_the_taxable_code_instead_of_mapped_ones(account: Account) -> None:
    company = ready_company(account)
    Mapping.objects.filter(kind=MappingKind.TAX_CODE).delete()
    CompanySettings.objects.update(tax_source="fixed")
    assert "taxable sales" in detail(company, "mappings")
    CompanySettings.objects.update(taxable_tax_code="OUTPUT")
    assert items(company)["mappings"]


def test_only_a_run_that_got_to_posting_counts_as_the_test_sync(account: Account) -> None:
    company = ready_company(account)
    SyncRun.objects.all().delete()
    SyncRun.objects.create(company=company, trigger="manual", status=SyncRun.Status.FAILED)
    assert not items(company)["test_sync"]
    SyncRun.objects.create(company=company, trigger="sync_all", status=SyncRun.Status.PARTIAL)
    assert items(company)["test_sync"]


def test_the_onboarding_date_is_an_item_of_its_own(account: Account) -> None:
    company = ready_company(account)
    CompanySettings.objects.update(onboarding_date=None)
    assert items(company) == {
        "psa": True,
        "ledger": True,
        "mappings": True,
        "onboarding": False,
        "test_sync": True,
    }


def test_the_account_checklist_starts_with_credentials_and_a_first_company(
    account: Account,
) -> None:
    empty = account_checklist(account, [])
    assert [(item.key, item.done) for item in empty.items] == [("psa", False), ("company", False)]
    company = ready_company(account)
    full = account_checklist(account, [company])
    assert full.ready and [c.company for c in full.companies] == [company]


def test_the_dashboard_loads_the_checklist_with_links_to_each_fix(
    account: Account, alice: User
) -> None:
    company = Company.objects.create(account=account, name="Northwind Traders")
    client = Client()
    client.force_login(alice)
    dashboard = client.get("/").content.decode()
    assert 'hx-get="/companies/checklist/"' in dashboard
    fragment = client.get("/companies/checklist/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment  # in place, not a whole page
    assert "Northwind Traders" in fragment and "0 of 5 done" in fragment
    assert f'href="/companies/{company.pk}/settings/#id_onboarding_date"' in fragment
    assert 'href="/account/"' in fragment


def test_a_user_sees_the_checklist_without_links_they_could_not_follow(
    account: Account, bob: User
) -> None:
    company = Company.objects.create(account=account, name="Northwind Traders")
    bob.companies.add(company)
    client = Client()
    client.force_login(bob)
    page = client.get("/companies/checklist/").content.decode()
    assert "Northwind Traders" in page
    assert 'href="/account/"' not in page and "/settings/" not in page
