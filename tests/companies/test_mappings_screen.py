"""The mappings screen: PSA values beside the ledger's choices, suggestions filled in, unmapped
values counted and highlighted, bulk accept, and what the admin sees when a side refuses.

ConnectWise and Xero are the in-process simulators at http://sim.test (tests/companies/
conftest.py routes both through the same transport); nothing leaves the process.
"""

import re

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind, User
from ledgerbridge.companies.models import (
    Company,
    CompanySettings,
    LedgerConnection,
    Mapping,
)
from ledgerbridge_sim.connectwise import app as connectwise_sim
from ledgerbridge_sim.connectwise import auth as connectwise_auth
from ledgerbridge_sim.state import Simulator
from tests.companies.conftest import XERO_AU, make_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def company_ready(ledgers: Simulator, company: Company, account: Account) -> Company:
    """Connected to Xero (AU), settings saved, the primary credentials a ConnectWise tenant."""
    connectwise_sim.generate(ledgers, invoices=2, seed=7)
    PsaCredential.objects.create(
        account=account,
        psa=PsaKind.CONNECTWISE,
        label="Northwind CW",
        is_primary=True,
        secrets={
            "site": "http://sim.test/connectwise",
            "company_id": connectwise_auth.DEFAULT_COMPANY,
            "public_key": connectwise_auth.DEFAULT_PUBLIC_KEY,
            "private_key": connectwise_auth.DEFAULT_PRIVATE_KEY,
            "client_id": connectwise_auth.DEFAULT_CLIENT_ID,
        },
    )
    make_connection(ledgers, company, "xero", XERO_AU)
    CompanySettings.objects.create(company=company, locale="AU", timezone="Australia/Sydney")
    return company


def screen(client: Client, company: Company, kind: str = "account") -> str:
    answer = client.get(f"/companies/{company.pk}/mappings/?kind={kind}")
    assert answer.status_code == 200
    return answer.content.decode()


def row_of(page: str, psa_value: str) -> str:
    found = re.search(rf'<tr [^>]*data-psa-value="{re.escape(psa_value)}">(.*?)</tr>', page, re.S)
    assert found, f"no row for {psa_value}"
    return found.group(0)


def selected(row: str) -> str:
    found = re.search(r'<option value="([^"]*)" selected>', row)
    return found.group(1) if found else ""


def psa_calls(sim: Simulator, path_end: str) -> int:
    return sum(1 for r in sim.requests if r.system == "connectwise" and r.path.endswith(path_end))


def save(client: Client, company: Company, kind: str, **rows: str) -> object:
    data = {"kind": kind, "action": "save", "rows": str(len(rows))}
    for index, (psa_value, ledger_value) in enumerate(rows.items()):
        data |= {
            f"psa-{index}": psa_value,
            f"dimension-{index}": "",
            f"ledger-{index}": ledger_value,
        }
    return client.post(f"/companies/{company.pk}/mappings/save/", data)


def test_psa_accounts_sit_beside_the_ledgers_with_suggestions_and_gaps_highlighted(
    company_ready: Company, admin_client: Client
) -> None:
    page = screen(admin_client, company_ready)

    receivable = row_of(page, "1200")  # "Accounts Receivable" in ConnectWise
    assert selected(receivable) == "610" and "Suggested: same name" in receivable
    managed = row_of(page, "4000")  # "Managed Services Revenue": no such Xero account
    assert selected(managed) == "" and "is-unmapped" in managed and "Not mapped" in managed
    rows = page.count('data-testid="mapping-row"')
    assert f"{rows} not mapped</span> of {rows} PSA values" in page
    assert "Accept all suggestions" in page
    # Every choice has a label a screen reader announces with the PSA value.
    assert 'for="ledger-0"' in page and 'id="ledger-0"' in page


def test_accepting_all_suggestions_maps_only_the_suggested_values(
    company_ready: Company, admin_client: Client
) -> None:
    answer = admin_client.post(
        f"/companies/{company_ready.pk}/mappings/save/", {"kind": "account", "action": "accept"}
    )
    assert answer.status_code == 302

    saved = {m.psa_value: m.ledger_value for m in Mapping.objects.filter(kind="account")}
    assert saved["1200"] == "610" and saved["2000"] == "800"
    assert "4000" not in saved
    page = screen(admin_client, company_ready)
    assert "Mapped" in row_of(page, "1200") and "is-unmapped" in row_of(page, "4000")
    assert f"Accepted {len(saved)} suggestion" in page


def test_a_chosen_ledger_account_is_saved_with_its_name_and_can_be_cleared(
    company_ready: Company, admin_client: Client
) -> None:
    assert save(admin_client, company_ready, "account", **{"4000": "200"}).status_code == 302
    mapping = Mapping.objects.get(kind="account", psa_value="4000")
    assert (mapping.ledger_value, mapping.ledger_label) == ("200", "200 · Sales")
    assert mapping.psa_label == "Managed Services Revenue"
    assert selected(row_of(screen(admin_client, company_ready), "4000")) == "200"

    save(admin_client, company_ready, "account", **{"4000": ""})
    assert Mapping.objects.get(kind="account", psa_value="4000").ledger_value == ""


def test_a_code_the_ledger_does_not_list_is_refused(
    company_ready: Company, admin_client: Client
) -> None:
    answer = save(admin_client, company_ready, "account", **{"4000": "999"})
    assert answer.status_code == 400
    assert "no longer in the ledger" in answer.content.decode()  # type: ignore[attr-defined]
    assert not Mapping.objects.exists()


def test_both_lists_are_cached_until_the_admin_refreshes(
    company_ready: Company, admin_client: Client, ledgers: Simulator
) -> None:
    screen(admin_client, company_ready)
    screen(admin_client, company_ready)
    assert psa_calls(ledgers, "/finance/glAccounts") == 1
    xero_reads = sum(1 for r in ledgers.requests if r.path.endswith("/Accounts"))
    assert xero_reads == 1

    admin_client.post(f"/companies/{company_ready.pk}/mappings/refresh/", {"kind": "account"})
    assert psa_calls(ledgers, "/finance/glAccounts") == 2


def test_tax_codes_are_named_as_the_admin_knows_them(
    company_ready: Company, admin_client: Client
) -> None:
    page = screen(admin_client, company_ready, "tax_code")
    assert "NY-NYC" in page and "GST on Income (10%)" in page


def test_billing_terms_get_an_xref_from_their_days(
    company_ready: Company, admin_client: Client
) -> None:
    page = screen(admin_client, company_ready, "term")
    net30 = next(
        row
        for row in re.findall(r"<tr [^>]*data-testid=\"mapping-row\".*?</tr>", page, re.S)
        if "Net 30" in row
    )
    assert 'value="30"' in net30 and 'placeholder="30 or M+1:D20"' in net30
    admin_client.post(
        f"/companies/{company_ready.pk}/mappings/save/", {"kind": "term", "action": "accept"}
    )
    extras = set(Mapping.objects.filter(kind="term").values_list("ledger_extra", flat=True))
    assert "30" in extras and "" not in extras


def test_tracking_values_are_added_by_hand_and_matched_to_ledger_options(
    company_ready: Company, admin_client: Client
) -> None:
    empty = screen(admin_client, company_ready, "tracking")
    assert "No locations or departments added yet." in empty
    admin_client.post(
        f"/companies/{company_ready.pk}/mappings/save/",
        {"kind": "tracking", "action": "add", "dimension": "location", "value": "North"},
    )
    page = screen(admin_client, company_ready, "tracking")
    assert "Region: North" in row_of(page, "North")
    admin_client.post(
        f"/companies/{company_ready.pk}/mappings/save/", {"kind": "tracking", "action": "accept"}
    )
    mapping = Mapping.objects.get(kind="tracking", psa_value="North")
    assert (mapping.dimension, mapping.ledger_extra, mapping.ledger_value) == (
        "location",
        "Region",
        "North",
    )


def test_a_disconnected_ledger_is_said_with_the_reconnect_action(
    company_ready: Company, admin_client: Client
) -> None:
    LedgerConnection.objects.update(
        status="disconnected", disconnect_reason="Disconnected by an admin.", access_token=None
    )
    page = screen(admin_client, company_ready)
    assert 'data-testid="ledger-problem"' in page and "Reconnect to Xero" in page
    assert 'data-testid="mapping-row"' in page  # the PSA's values are still there to see


def test_a_psa_that_refuses_shows_its_finding_and_where_to_test(
    company_ready: Company, admin_client: Client
) -> None:
    credential = PsaCredential.objects.get()
    credential.secrets = {**credential.secrets, "private_key": "wrong-key-5b1c"}
    credential.save()
    page = screen(admin_client, company_ready)
    assert 'data-testid="psa-problem"' in page and "could not read the PSA" in page
    assert "test connectivity" in page and "wrong-key-5b1c" not in page


def test_a_user_sees_the_mappings_but_cannot_change_them(company_ready: Company, bob: User) -> None:
    bob.companies.add(company_ready)
    client = Client()
    client.force_login(bob)
    page = screen(client, company_ready)
    assert "disabled" in row_of(page, "1200") and "Accept all suggestions" not in page
    assert save(client, company_ready, "account", **{"4000": "200"}).status_code == 403
    assert not Mapping.objects.exists()
