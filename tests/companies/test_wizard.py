"""The company wizard: create a company, connect its ledger first, then its settings (the
locale fixed from then on), then on to the mappings. Ledger calls go to the in-process
simulator (tests/companies/conftest.py), never a real vendor host."""

from typing import Any

import httpx
import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, PsaCredential
from ledgerbridge.companies.models import Company, CompanySettings
from ledgerbridge_sim.state import Simulator
from tests.companies.conftest import XERO_AU, connect

pytestmark = pytest.mark.django_db


def settings_form(**changes: Any) -> dict[str, Any]:
    """What an admin sends who fills in the required choices and leaves the rest."""
    form: dict[str, Any] = {
        "locale": "AU",
        "timezone": "Australia/Sydney",
        "currency": "",
        "psa_credential": "",
        "detail_level": "standard",
        "reference_source": "po_number",
        "tax_source": "psa_code",
        "max_minor_adjustment": "10.00",
        "product_id_policy": "fail",
        "name_clash": "fail",
        "missing_tracking": "halt",
        "automated_sales_tax": "override",
        "schedule_minutes": "0",
        "poll_minutes": "0",
        "onboarding_date": "2026-07-01",
        "default_account_code": "200",
        "exempt_tax_code": "EXEMPTOUTPUT",
        "adjustment_account_code": "200",
        "adjustment_tax_code": "EXEMPTOUTPUT",
    }
    form.update(changes)
    return form


@pytest.fixture
def connected_company(
    ledgers: Simulator, vendor: httpx.Client, admin_client: Client, company: Company
) -> Company:
    connect(admin_client, vendor, company, "xero", [XERO_AU[0]])
    return company


def test_a_new_company_starts_its_set_up_with_the_ledger(admin_client: Client) -> None:
    created = admin_client.post("/companies/new/", {"name": "Northwind Traders"})
    company = Company.objects.get(name="Northwind Traders")
    assert created["Location"] == f"/companies/{company.pk}/"

    page = admin_client.get(created["Location"]).content.decode()
    assert 'data-testid="setup-steps"' in page
    assert "Step 1" in page and 'aria-current="step"' in page
    assert "After the ledger is connected." in page  # settings wait for the ledger
    assert 'data-testid="company-checklist"' in page

    settings_page = admin_client.get(f"/companies/{company.pk}/settings/").content.decode()
    assert "Connect the ledger first" in settings_page and 'name="locale"' not in settings_page


def test_once_connected_the_settings_offer_the_ledgers_own_codes(
    connected_company: Company, admin_client: Client
) -> None:
    page = admin_client.get(f"/companies/{connected_company.pk}/settings/").content.decode()
    assert 'name="locale"' in page and "cannot be changed later" in page
    # Xero's AU tax rates and accounts, read from the ledger.
    assert '<option value="EXEMPTOUTPUT">GST Free Income (0%)</option>' in page
    assert '<option value="200">200 · Sales</option>' in page
    assert "Save and continue to mappings" in page
    for label in ("Time zone", "Onboarding date", "Maximum minor adjustment", "Adjustment item"):
        assert f">{label}</label>" in page


def test_saving_the_first_settings_continues_to_the_mappings(
    connected_company: Company, admin_client: Client, account: Account
) -> None:
    second = PsaCredential.objects.create(account=account, psa="autotask", label="Northwind AT")
    answer = admin_client.post(
        f"/companies/{connected_company.pk}/settings/",
        settings_form(psa_credential=str(second.pk), post_as_draft="on", schedule_minutes="60"),
    )
    assert answer.status_code == 302
    assert answer["Location"] == f"/companies/{connected_company.pk}/mappings/"
    saved = CompanySettings.objects.get(company=connected_company)
    assert (saved.locale, saved.timezone, saved.psa_credential) == (
        "AU",
        "Australia/Sydney",
        second,
    )
    assert saved.post_as_draft and not saved.mark_as_sent and saved.schedule_minutes == 60
    assert (saved.exempt_tax_code, saved.default_account_code) == ("EXEMPTOUTPUT", "200")
    assert str(saved.onboarding_date) == "2026-07-01"


def test_the_locale_stays_as_first_saved_and_the_form_says_so(
    connected_company: Company, admin_client: Client
) -> None:
    url = f"/companies/{connected_company.pk}/settings/"
    admin_client.post(url, settings_form())
    answer = admin_client.post(url, settings_form(locale="NZ", timezone="Pacific/Auckland"))
    assert answer.status_code == 302 and answer["Location"] == url
    saved = CompanySettings.objects.get(company=connected_company)
    assert (saved.locale, saved.timezone) == ("AU", "Pacific/Auckland")
    page = admin_client.get(url).content.decode()
    assert "Fixed when the company was set up" in page and "disabled" in page
    assert "Save settings" in page


def test_a_mistake_is_explained_next_to_the_field(
    connected_company: Company, admin_client: Client
) -> None:
    answer = admin_client.post(
        f"/companies/{connected_company.pk}/settings/",
        settings_form(currency="A1B", max_minor_adjustment="-1"),
    )
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Use the three-letter currency code" in page
    assert "greater than or equal to 0" in page
    assert not CompanySettings.objects.filter(company=connected_company).exists()


def test_a_user_may_not_open_the_settings(company: Company, bob: Any, admin_client: Client) -> None:
    bob.companies.add(company)
    client = Client()
    client.force_login(bob)
    assert client.get(f"/companies/{company.pk}/settings/").status_code == 403
    page = client.get(f"/companies/{company.pk}/").content.decode()
    assert 'data-testid="setup-steps"' not in page and 'data-testid="company-checklist"' in page
