"""“Test connectivity” on the Account screen: the PSA's findings in place, remembered for the
go-live checklist. The PSA is the in-process simulator at http://sim.test (never a real host)."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.test import Client

from ledgerbridge.accounts.models import Account, PsaCredential, PsaKind, User
from ledgerbridge.companies.checklist import psa_item
from ledgerbridge.connectors import oauth
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.autotask import app as autotask_sim
from ledgerbridge_sim.connectwise import auth as connectwise_auth
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WRONG_PRIVATE_KEY = "not-the-private-key-9f3a"


@pytest.fixture
def psa_sim() -> Iterator[Simulator]:
    sim = Simulator()
    sim.clock.set(NOW)
    clock.set_now(NOW)
    transport = InProcessTransport(build_app(sim))
    with oauth.route_through(transport):
        yield sim
    transport.close()


@pytest.fixture
def admin(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def connectwise(
    account: Account, private_key: str = connectwise_auth.DEFAULT_PRIVATE_KEY
) -> PsaCredential:
    return PsaCredential.objects.create(
        account=account,
        psa=PsaKind.CONNECTWISE,
        label="Northwind CW",
        is_primary=True,
        secrets={
            "site": "http://sim.test/connectwise",
            "company_id": connectwise_auth.DEFAULT_COMPANY,
            "public_key": connectwise_auth.DEFAULT_PUBLIC_KEY,
            "private_key": private_key,
            "client_id": connectwise_auth.DEFAULT_CLIENT_ID,
        },
    )


def press_test(client: Client, credential: PsaCredential) -> str:
    answer = client.post(f"/account/psa-credentials/{credential.pk}/test/", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_account_page_offers_a_test_per_credential_set_and_says_which_is_primary(
    admin: Client, account: Account
) -> None:
    credential = connectwise(account)
    page = admin.get("/account/").content.decode()
    assert f'hx-post="/account/psa-credentials/{credential.pk}/test/"' in page
    assert "Test connectivity" in page and "Not tested yet" in page and "Primary" in page


def test_working_credentials_pass_in_place_and_the_checklist_says_tested(
    psa_sim: Simulator, admin: Client, account: Account, alice: User
) -> None:
    credential = connectwise(account)
    fragment = press_test(admin, credential)

    assert "Passed" in fragment and "<html" not in fragment
    credential.refresh_from_db()
    assert credential.last_test_ok is True and credential.last_tested_at == NOW
    assert psa_item(credential).done
    event = AuditEvent.objects.get(action="psa_credential.tested")
    assert event.actor == alice and event.details["ok"] is True
    # The page shows the remembered result on the next visit too.
    assert "Passed" in admin.get("/account/").content.decode()


def test_refused_keys_show_the_finding_and_its_hint_and_never_the_key(
    psa_sim: Simulator, admin: Client, account: Account
) -> None:
    credential = connectwise(account, private_key=WRONG_PRIVATE_KEY)
    fragment = press_test(admin, credential)

    assert "Did not pass" in fragment and "Sign-in refused" in fragment
    credential.refresh_from_db()
    assert credential.last_test_ok is False and credential.last_test_summary
    item = psa_item(credential)
    assert not item.done and credential.last_test_summary in item.detail
    stored = [credential.last_test_summary, str(AuditEvent.objects.get().details)]
    assert all(WRONG_PRIVATE_KEY not in text for text in [fragment, *stored])


def test_incomplete_credentials_are_a_finding_not_an_error_page(
    admin: Client, account: Account
) -> None:
    credential = PsaCredential.objects.create(
        account=account, psa=PsaKind.AUTOTASK, label="Half done", secrets={"username": "x"}
    )
    fragment = press_test(admin, credential)
    assert "Did not pass" in fragment and "lack" in fragment
    assert "Account → PSA connection" in fragment  # the hint, where to complete them


def test_autotask_credentials_are_tested_the_same_way(
    psa_sim: Simulator, admin: Client, account: Account
) -> None:
    credential = PsaCredential.objects.create(
        account=account,
        psa=PsaKind.AUTOTASK,
        label="Northwind AT",
        secrets={
            "username": autotask_sim.DEFAULT_USERNAME,
            "secret": autotask_sim.DEFAULT_SECRET,
            "integration_code": autotask_sim.DEFAULT_INTEGRATION_CODE,
            "zone_lookup_url": "http://sim.test/autotask/atservicesrest/v1.0/zoneInformation",
        },
    )
    assert "Passed" in press_test(admin, credential)


def test_without_javascript_the_result_comes_back_as_a_message(
    psa_sim: Simulator, admin: Client, account: Account
) -> None:
    credential = connectwise(account, private_key=WRONG_PRIVATE_KEY)
    answer = admin.post(f"/account/psa-credentials/{credential.pk}/test/", follow=True)
    page = answer.content.decode()
    assert answer.redirect_chain[-1][0] == "/account/"
    assert "did not pass" in page


def test_a_user_cannot_test_the_accounts_credentials(bob: User, account: Account) -> None:
    credential = connectwise(account)
    client = Client()
    client.force_login(bob)
    assert client.post(f"/account/psa-credentials/{credential.pk}/test/").status_code == 403
    credential.refresh_from_db()
    assert credential.last_tested_at is None
