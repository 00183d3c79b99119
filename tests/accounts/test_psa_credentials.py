from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from ledgerbridge.accounts.models import Account, PsaCredential, User
from ledgerbridge.core import clock
from ledgerbridge.core.models import AuditEvent

CW = {
    "label": "Sync API member",
    "site": "https://API-NA.myconnectwise.net/",
    "company_id": "northwind",
    "public_key": "pubKEYabcdefWXYZ",
    "private_key": "privSECRET0123456789",
    "client_id": "5c1e2a7e-0000-4000-8000-000000000001",
}
AT = {
    "label": "Autotask API user",
    "username": "API@Northwind.example",
    "secret": "atSECRETvalue99",
    "integration_code": "INTCODE4242TRACK",
}
SECRET_VALUES = [CW["public_key"], CW["private_key"], AT["secret"], AT["integration_code"]]


def _create(client: Client, psa: str, data: dict[str, str]) -> PsaCredential:
    url = reverse("accounts:psa-credential-create") + f"?psa={psa}"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()
    return PsaCredential.objects.get(label=data["label"])


@pytest.fixture
def admin_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def test_connectwise_credentials_are_stored_and_the_first_becomes_primary(
    admin_client: Client, alice: User
) -> None:
    credential = _create(admin_client, "connectwise", CW)
    assert credential.psa == "connectwise"
    assert credential.secrets == {
        "site": "api-na.myconnectwise.net",
        "company_id": "northwind",
        "public_key": CW["public_key"],
        "private_key": CW["private_key"],
        "client_id": CW["client_id"],
    }
    assert credential.is_primary
    assert (credential.primary_set_by, credential.created_by) == (alice, alice)
    event = AuditEvent.objects.get(action="psa_credential.created")
    assert event.details == {"psa": "connectwise", "primary": True}


def test_autotask_credentials_need_every_field(admin_client: Client) -> None:
    url = reverse("accounts:psa-credential-create") + "?psa=autotask"
    response = admin_client.post(url, {**AT, "integration_code": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not PsaCredential.objects.exists()
    credential = _create(admin_client, "autotask", AT)
    assert credential.secrets["username"] == "api@northwind.example"


def test_a_connectwise_site_must_be_a_host_name(admin_client: Client) -> None:
    url = reverse("accounts:psa-credential-create") + "?psa=connectwise"
    response = admin_client.post(url, {**CW, "site": "not a host/with path"})
    assert response.status_code == 400
    assert "Enter the API host name only" in response.content.decode()


def test_secrets_are_never_rendered_back(admin_client: Client) -> None:
    cw = _create(admin_client, "connectwise", CW)
    at = _create(admin_client, "autotask", AT)
    pages = [
        admin_client.get(reverse("accounts:account")),
        admin_client.get(reverse("accounts:psa-credential-edit", args=[cw.pk])),
        admin_client.get(reverse("accounts:psa-credential-edit", args=[at.pk])),
        admin_client.get(reverse("accounts:psa-credential-delete", args=[at.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        for secret in SECRET_VALUES:
            assert secret not in html
    account_page = pages[0].content.decode()
    # Identifiers are shown so the admin can tell credential sets apart.
    assert "api-na.myconnectwise.net" in account_page and "api@northwind.example" in account_page
    assert "••••WXYZ" in account_page
    # …and the secrets stay out of the audit trail too.
    trail = str(list(AuditEvent.objects.values_list("details", "target_repr")))
    for secret in SECRET_VALUES:
        assert secret not in trail


def test_the_database_column_holds_no_plaintext_secret(admin_client: Client) -> None:
    credential = _create(admin_client, "connectwise", CW)
    table = PsaCredential._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secrets FROM {table} WHERE id = %s", [credential.pk])  # noqa: S608
        (raw,) = cursor.fetchone()
    raw_text = raw if isinstance(raw, str) else bytes(raw).decode()
    for value in (CW["public_key"], CW["private_key"], "northwind", "myconnectwise"):
        assert value not in raw_text


def test_editing_with_blank_secrets_keeps_the_stored_ones(admin_client: Client) -> None:
    credential = _create(admin_client, "connectwise", CW)
    url = reverse("accounts:psa-credential-edit", args=[credential.pk])
    edit = {**CW, "label": "Renamed", "public_key": "", "private_key": "", "company_id": "nw2"}
    assert admin_client.post(url, edit).status_code == 302
    credential.refresh_from_db()
    assert credential.label == "Renamed"
    assert credential.secrets["private_key"] == CW["private_key"]
    assert credential.secrets["public_key"] == CW["public_key"]
    assert credential.secrets["company_id"] == "nw2"
    event = AuditEvent.objects.get(action="psa_credential.updated")
    assert event.details == {"changed": ["label", "company_id"]}

    admin_client.post(url, {**edit, "private_key": "brandNEWprivate"})
    credential.refresh_from_db()
    assert credential.secrets["private_key"] == "brandNEWprivate"


def test_at_most_one_primary_credential_per_account(account: Account, alice: User) -> None:
    PsaCredential.objects.create(account=account, psa="autotask", label="A", is_primary=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        PsaCredential.objects.create(account=account, psa="autotask", label="B", is_primary=True)
    # Another account has its own primary.
    other = Account.objects.create(name="Elsewhere")
    PsaCredential.objects.create(account=other, psa="autotask", label="C", is_primary=True)


def test_make_primary_switches_atomically_and_records_who(
    admin_client: Client, alice: User
) -> None:
    clock.set_now(clock.now().replace(microsecond=0))
    first = _create(admin_client, "connectwise", CW)
    second = _create(admin_client, "autotask", AT)
    assert not second.is_primary
    clock.advance(timedelta(minutes=5))

    url = reverse("accounts:psa-credential-make-primary", args=[second.pk])
    response = admin_client.post(url, follow=True)
    assert "is now the primary API account" in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_primary, second.is_primary) == (False, True)
    assert (second.primary_set_by, second.primary_set_at) == (alice, clock.now())
    assert PsaCredential.objects.filter(account=alice.account, is_primary=True).count() == 1
    event = AuditEvent.objects.get(action="psa_credential.made_primary")
    assert event.details == {"previous": CW["label"]}

    page = admin_client.get(reverse("accounts:account")).content.decode()
    assert "set by Alice Admin" in page


def test_the_primary_credential_cannot_be_deleted(admin_client: Client) -> None:
    primary = _create(admin_client, "connectwise", CW)
    other = _create(admin_client, "autotask", AT)
    url = reverse("accounts:psa-credential-delete", args=[primary.pk])
    response = admin_client.post(url, follow=True)
    assert "Make another credential set primary first" in response.content.decode()
    assert PsaCredential.objects.filter(pk=primary.pk).exists()

    admin_client.post(reverse("accounts:psa-credential-delete", args=[other.pk]))
    assert not PsaCredential.objects.filter(pk=other.pk).exists()
    assert AuditEvent.objects.filter(action="psa_credential.deleted").count() == 1


@pytest.mark.parametrize("name", ["edit", "delete", "make-primary"])
def test_another_accounts_credential_is_not_found(
    admin_client: Client, other_account: Account, name: str
) -> None:
    theirs = PsaCredential.objects.create(
        account=other_account, psa="autotask", label="Theirs", secrets={"secret": "x"}
    )
    url = reverse(f"accounts:psa-credential-{name}", args=[theirs.pk])
    assert admin_client.get(url).status_code in (404, 405)
    assert admin_client.post(url, {**AT, "label": "Mine now"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.label == "Theirs" and not theirs.is_primary


def test_users_cannot_see_or_change_credentials(client: Client, bob: User) -> None:
    client.force_login(bob)
    assert client.get(reverse("accounts:account")).status_code == 403
    url = reverse("accounts:psa-credential-create") + "?psa=autotask"
    assert client.post(url, AT).status_code == 403
    assert not PsaCredential.objects.exists()


def test_a_failed_switch_leaves_the_old_primary_in_place(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _create(admin_client, "connectwise", CW)
    second = _create(admin_client, "autotask", AT)

    def audit_down(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("ledgerbridge.accounts.actions.account.access.record", audit_down)
    with pytest.raises(RuntimeError):
        admin_client.post(reverse("accounts:psa-credential-make-primary", args=[second.pk]))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_primary, second.is_primary) == (True, False)
