"""From a record that failed for want of a mapping to the mapping and back, and the record page
following its retry by itself (the pages the newcomer's browser test walks, checked in detail)."""

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, User
from ledgerbridge.companies.models import Company, Mapping, MappingKind
from ledgerbridge.core import clock
from ledgerbridge.sync import actions
from ledgerbridge.sync.models import SyncRecord, SyncRun

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 14, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> None:
    clock.set_now(NOW)


@pytest.fixture
def company(account: Account) -> Company:
    return Company.objects.create(account=account, name="Northwind Traders")


@pytest.fixture
def admin(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def failed(company: Company, message: str, hint: str, **fields: Any) -> SyncRecord:
    return SyncRecord.objects.create(
        company=company,
        record_type="invoice",
        psa_id=fields.pop("psa_id", "1001"),
        number=fields.pop("number", "INV-1001"),
        state=SyncRecord.State.FAILED,
        error_class=fields.pop("error_class", "mapping"),
        error_message=message,
        error_hint=hint,
        **fields,
    )


def links_named(page: str, name: str) -> list[str]:
    """The hrefs of the links whose text is `name`."""
    return [
        html.unescape(href)
        for href, text in re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', page)
        if text.strip() == name
    ]


def test_a_mapping_hint_links_to_that_kind_of_mapping_and_back_to_the_record(
    admin: Client, company: Company, bob: User
) -> None:
    gl = failed(
        company,
        "PSA GL account 4400 has no ledger account.",
        "Map GL account 4400 under Mappings → GL accounts, then retry.",
    )
    tax = failed(
        company,
        "PSA tax code NY-NYC has no ledger tax code.",
        "Map tax code NY-NYC under Mappings → Tax codes, then retry.",
        psa_id="1002",
        number="INV-1002",
    )
    exempt = failed(
        company,
        "INV-1003 has a tax-exempt line but no ledger tax code is set for exempt sales.",
        "Choose the exempt sales tax code under Settings → Tax codes.",
        psa_id="1003",
        number="INV-1003",
    )
    mappings = f"/companies/{company.pk}/mappings/"
    page = admin.get(f"/sync/records/{gl.pk}/").content.decode()
    assert links_named(page, "Fix the mapping") == [
        f"{mappings}?kind=account&next=%2Fsync%2Frecords%2F{gl.pk}%2F"
    ]
    page = admin.get(f"/sync/records/{tax.pk}/").content.decode()
    assert links_named(page, "Fix the mapping") == [
        f"{mappings}?kind=tax_code&next=%2Fsync%2Frecords%2F{tax.pk}%2F"
    ]
    page = admin.get(f"/sync/records/{exempt.pk}/").content.decode()
    assert links_named(page, "Change the settings") == [f"/companies/{company.pk}/settings/"]
    # A member who may sync but not change companies is not sent to a page they cannot open.
    bob.companies.add(company)
    member = Client()
    member.force_login(bob)
    page = member.get(f"/sync/records/{exempt.pk}/").content.decode()
    assert "Choose the exempt sales tax code" in page
    assert links_named(page, "Change the settings") == []
    # The Results page offers the same way to the fix.
    results = admin.get(f"/sync/{company.pk}/results/", {"state": "failed"}).content.decode()
    assert f"{mappings}?kind=account&next=%2Fsync%2Frecords%2F{gl.pk}%2F" in links_named(
        results, "Fix the mapping"
    )


def test_the_mappings_screen_keeps_the_way_back_to_the_record_through_a_save(
    admin: Client, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerbridge.companies import views as company_views
    from ledgerbridge.companies.suggestions import LedgerChoice, PsaValue

    monkeypatch.setattr(
        company_views,
        "psa_values",
        lambda *args, **kwargs: [PsaValue("4400", "Reimbursed Expenses", "4400")],
    )
    monkeypatch.setattr(
        company_views,
        "ledger_choices",
        lambda *args, **kwargs: [LedgerChoice("260", "260 · Other Revenue", "260", "Other")],
    )
    record = failed(
        company,
        "PSA GL account 4400 has no ledger account.",
        "Map GL account 4400 under Mappings → GL accounts, then retry.",
    )
    back = f"/sync/records/{record.pk}/"
    url = f"/companies/{company.pk}/mappings/"
    page = admin.get(url, {"kind": "account", "next": back}).content.decode()
    assert links_named(page, "Back to the record to retry it") == [back]
    assert f'name="next" value="{back}"' in page

    saved = admin.post(
        f"{url}save/",
        {
            "kind": "account",
            "action": "save",
            "rows": "1",
            "psa-0": "4400",
            "dimension-0": "",
            "ledger-0": "260",
            "next": back,
        },
    )
    assert saved.status_code == 302
    assert saved["Location"] == f"{url}?kind=account&next=%2Fsync%2Frecords%2F{record.pk}%2F"
    mapping = Mapping.objects.get(company=company, kind=MappingKind.ACCOUNT, psa_value="4400")
    assert mapping.ledger_value == "260"
    after = admin.get(saved["Location"]).content.decode()
    assert "Saved 1 mapping." in after
    assert links_named(after, "Back to the record to retry it") == [back]


def test_the_way_back_only_leads_to_pages_of_this_site(admin: Client, company: Company) -> None:
    url = f"/companies/{company.pk}/mappings/"
    for elsewhere in ("https://evil.example/phish", "//evil.example/x", "javascript:alert(1)"):
        page = admin.get(url, {"kind": "account", "next": elsewhere}).content.decode()
        assert "Back to the record to retry it" not in page
        assert "evil.example" not in page and "javascript:" not in page


def test_after_retry_the_record_page_follows_the_run_until_the_record_settles(
    admin: Client, company: Company, alice: User
) -> None:
    record = failed(
        company,
        "PSA GL account 4400 has no ledger account.",
        "Map GL account 4400 under Mappings → GL accounts, then retry.",
    )
    page = admin.get(f"/sync/records/{record.pk}/").content.decode()
    assert "hx-trigger" not in page  # a failed record waits for the admin, not for a run
    assert "Mark as posted</button>" in page and "Exclude</button>" in page

    run = actions.retry_record(record, user=alice)
    page = admin.get(f"/sync/records/{record.pk}/").content.decode()
    assert f'hx-get="/sync/records/{record.pk}/"' in page and 'hx-select="#record-status"' in page
    assert "This page updates by itself" in page
    assert "{#" not in page and "htmx fetches" not in page  # notes for developers stay hidden
    # The forms that would change the record wait until the run is done with it.
    assert "Mark as posted</button>" not in page and "Exclude</button>" not in page

    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED)
    SyncRecord.objects.filter(pk=record.pk).update(
        state=SyncRecord.State.ACKNOWLEDGED, ledger_number="INV-0042"
    )
    page = admin.get(f"/sync/records/{record.pk}/").content.decode()
    assert "hx-trigger" not in page
    assert 'data-testid="record-state">Done<' in page and "INV-0042" in page


def test_a_run_for_other_records_does_not_make_a_waiting_record_page_poll(
    admin: Client, company: Company
) -> None:
    record = SyncRecord.objects.create(
        company=company, record_type="invoice", psa_id="1001", state=SyncRecord.State.PENDING
    )
    actions.request_run(
        company, trigger=SyncRun.Trigger.MANUAL, record_types=["invoice"], only_psa_ids=["2002"]
    )
    assert "hx-trigger" not in admin.get(f"/sync/records/{record.pk}/").content.decode()
    actions.request_run(company, trigger=SyncRun.Trigger.SYNC_ALL, record_types=["invoice"])
    assert "hx-trigger" in admin.get(f"/sync/records/{record.pk}/").content.decode()
