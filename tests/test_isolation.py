"""Acceptance 5: one account's admin never sees or touches another account's rows.

Northwind's account-admin (alice) works against a second account, Contoso, that has one of every
object type there is: users, API tokens, audit events, PSA credentials, support grants, companies,
sessions and security keys. Pages and API operations are discovered by walking the URLconf and
the API (tests/routes.py), so a list or an id-taking page added later is checked without being
named here. Contoso's rows carry distinctive strings; none may appear in anything alice reads.
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.db.models import Model
from django.forms.models import model_to_dict
from django.test import Client, RequestFactory
from django.urls import reverse

from ledgerbridge.accounts.access import VIEW_RULES, Access
from ledgerbridge.accounts.actions.tokens import do_create_api_token
from ledgerbridge.accounts.models import Account, ApiToken, PsaCredential, SupportGrant, User
from ledgerbridge.accounts.roles import ROLES, Role
from ledgerbridge.api.api import api
from ledgerbridge.api.auth import API_RULES
from ledgerbridge.companies.models import Company
from ledgerbridge.core import audit, clock
from ledgerbridge.core.models import AuditEvent
from tests.routes import Page, api_operations, describe, every_page, example_of, isolated
from tests.test_permissions import THIRD_PARTY

pytestmark = pytest.mark.django_db

# Every string that would give away one of Contoso's rows.
CONTOSO_MARKERS = [
    "contoso",
    "Zebedee",
    "Yolanda",
    "Contoso Ledger Pty",
    "reconciliation-bot",
    "CW-Contoso-Primary",
    "contoso-secret-site",
    "Quarterly close support",
    "contoso.audit.marker",
    "Contoso-Audit-Target",
    "CONTOSO-INV-77",
]


@dataclass
class Contoso:
    account: Account
    admin: User
    user: User
    company: Company
    token: ApiToken
    token_value: str
    credential: PsaCredential
    grant: SupportGrant
    session: UserSession
    security_key: Authenticator
    sync_run: Model | None = None
    sync_record: Model | None = None
    exclusion_rule: Model | None = None
    api_call: Model | None = None

    def object_for(self, param: str, where: str) -> int | None:
        by_param: dict[str, Model] = {
            "user_id": self.user,
            "member_id": self.user,
            "token_id": self.token,
            "credential_id": self.credential,
            "grant_id": self.grant,
            "company_id": self.company,
            "session_id": self.session,
            "account_id": self.account,
            "run_id": self.sync_run,
            "record_id": self.sync_record,
            "rule_id": self.exclusion_rule,
            "call_id": self.api_call,
        }
        found = by_param.get(param)
        if found is None and param in ("pk", "id"):
            words = [
                ("webauthn", self.security_key),
                ("session", self.session),
                ("token", self.token),
                ("credential", self.credential),
                ("grant", self.grant),
                ("compan", self.company),
                ("user", self.user),
            ]
            found = next((obj for word, obj in words if word in where.lower()), None)
        return None if found is None else found.pk


@pytest.fixture
def contoso(other_account: Account) -> Contoso:
    other_account.name = "Contoso IT"
    other_account.save()
    admin = User.objects.create_user(
        "zebedee@contoso.example",
        "correct horse battery",
        account=other_account,
        role=Role.ACCOUNT_ADMIN,
        first_name="Zebedee",
        last_name="Contoso-Only",
    )
    user = User.objects.create_user(
        "yolanda@contoso.example",
        "correct horse battery",
        account=other_account,
        role=Role.USER,
        first_name="Yolanda",
        last_name="Contoso-Only",
    )
    company = Company.objects.create(account=other_account, name="Contoso Ledger Pty")
    user.companies.add(company)
    issued = do_create_api_token(admin, "reconciliation-bot")
    credential = PsaCredential.objects.create(
        account=other_account,
        psa="connectwise",
        label="CW-Contoso-Primary",
        secrets={"site": "contoso-secret-site", "public_key": "pk", "private_key": "sk"},
        is_primary=True,
        primary_set_by=admin,
        primary_set_at=clock.now(),
    )
    grant = SupportGrant.objects.create(
        account=other_account,
        granted_by=admin,
        reason="Quarterly close support",
        expires_at=clock.now() + timedelta(days=2),
    )
    audit.record(
        "contoso.audit.marker",
        account=other_account,
        actor=admin,
        target=company,
        details={"note": "Contoso-Audit-Target"},
    )
    session = UserSession.objects.create(
        user=user, ip="198.51.100.7", session_key="contoso-session", user_agent="Contoso laptop"
    )
    security_key = Authenticator.objects.create(
        user=user, type=Authenticator.Type.WEBAUTHN, data={"name": "Contoso key", "credential": {}}
    )
    from ledgerbridge.apilog.models import ApiCallRecord
    from ledgerbridge.companies.models import ExclusionRule
    from ledgerbridge.sync.models import SyncRecord, SyncRun

    sync_run = SyncRun.objects.create(company=company, trigger="manual")
    sync_record = SyncRecord.objects.create(
        company=company,
        record_type="invoice",
        psa_id="77",
        number="CONTOSO-INV-77",
        customer_name="Contoso Ledger Pty",
        state="failed",
    )
    return Contoso(
        other_account,
        admin,
        user,
        company,
        issued.token,
        issued.value,
        credential,
        grant,
        session,
        security_key,
        sync_run,
        sync_record,
        ExclusionRule.objects.create(company=company, prefix="CONTOSO-PREFIX"),
        ApiCallRecord.objects.create(
            account=other_account,
            company=company,
            connection="Xero: Contoso Ledger Pty",
            vendor="Xero",
            method="GET",
            path="/api.xro/2.0/Invoices/CONTOSO-INV-77",
            status=200,
            duration_ms=12,
            outcome="ok",
        ),
    )


@pytest.fixture
def northwind(alice: User, bob: User) -> Client:
    """Northwind's account-admin, signed in, with rows of her own so lists are not empty."""
    assert alice.account is not None
    company = Company.objects.create(account=alice.account, name="Northwind Traders")
    bob.companies.add(company)
    do_create_api_token(alice, "Northwind month-end")
    PsaCredential.objects.create(account=alice.account, psa="autotask", label="Northwind AT")
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    # As if she had just typed her password, so allauth's "confirm it's you" step lets her on.
    request = RequestFactory().get("/")
    request.session = client.session
    record_authentication(request, alice, "password", email=alice.email, reauthenticated=True)
    request.session.save()
    return client


def contoso_rows(contoso: Contoso) -> dict[str, list[dict[str, Any]]]:
    """Everything Contoso owns, as plain values, to show nothing was changed."""
    users = User.objects.filter(account=contoso.account)
    querysets = {
        "account": Account.objects.filter(pk=contoso.account.pk),
        "users": users,
        "tokens": ApiToken.objects.filter(user__in=users),
        "credentials": PsaCredential.objects.filter(account=contoso.account),
        "grants": SupportGrant.objects.filter(account=contoso.account),
        "companies": Company.objects.filter(account=contoso.account),
        "sessions": UserSession.objects.filter(user__in=users),
        "keys": Authenticator.objects.filter(user__in=users),
        "audit": AuditEvent.objects.filter(account=contoso.account),
    }
    return {
        name: [
            {key: str(value) for key, value in model_to_dict(row).items()}
            for row in queryset.order_by("pk")
        ]
        for name, queryset in querysets.items()
    }


def leaks(body: bytes, asked: str = "") -> list[str]:
    """Contoso's strings in `body`, apart from ones the request itself sent (echoed filters)."""
    text = body.decode(errors="replace").lower()
    return [
        marker
        for marker in CONTOSO_MARKERS
        if marker.lower() in text and marker.lower() not in asked.lower()
    ]


def admin_may_open(page: Page) -> bool:
    """Pages alice's role allows (what she is refused is the permissions test's business)."""
    rule = VIEW_RULES.get(page.callback) or THIRD_PARTY.get(page.name, (None, ""))[0]
    if rule is None or rule.needs in (Access.PUBLIC, Access.STAFF):
        return False
    return rule.needs == Access.SIGNED_IN or rule.needs in ROLES[Role.ACCOUNT_ADMIN].permissions


# --- lists --------------------------------------------------------------------------------------


def test_no_page_the_admin_reads_shows_another_accounts_rows(
    northwind: Client, contoso: Contoso, alice: User
) -> None:
    pages = [page for page in every_page() if not page.params and admin_may_open(page)]
    # Filters on the audit log name Contoso's people and actions directly.
    extra = [
        f"/account/audit/?user={contoso.admin.pk}",
        f"/account/audit/export.csv?user={contoso.admin.pk}",
        "/account/audit/?action=contoso.audit.marker",
        "/account/audit/export.csv?action=contoso.audit.marker",
    ]
    read = []
    problems = []
    for url in [page_url(page) for page in pages] + extra:
        response = isolated(lambda url=url: northwind.get(url))
        if response.status_code >= 500:
            problems.append(f"{url}: {describe(response)}")
        elif found := leaks(response_bytes(response), asked=url):
            problems.append(f"{url} shows {found}")
        read.append(url)
    assert not problems, "Contoso's rows leak into Northwind's pages:\n  " + "\n  ".join(problems)
    # The walk really read the screens that list things.
    for expected in ("/account/users/", "/account/", "/account/audit/", "/account/tokens/"):
        assert expected in read, f"{expected} was not visited"
    users_page = northwind.get("/account/users/").content.decode()
    assert "bob@northwind.example" in users_page


def page_url(page: Page) -> str:
    return reverse(page.name)


def response_bytes(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_no_api_list_shows_another_accounts_rows(contoso: Contoso, alice: User) -> None:
    own_token = do_create_api_token(alice, "Northwind script").value
    document_paths = [
        op
        for op in api_operations()
        if op.method == "GET" and "{" not in op.path and op.view_func in API_RULES
    ]
    assert any(op.path == "/api/v1/tokens" for op in document_paths)
    problems = []
    for op in document_paths:
        response = Client().get(op.path, HTTP_AUTHORIZATION=f"Bearer {own_token}")
        if response.status_code >= 500:
            problems.append(f"{op.label}: {describe(response)}")
        elif found := leaks(response.content):
            problems.append(f"{op.label} shows {found}")
    assert not problems, "Contoso's rows leak into Northwind's API:\n  " + "\n  ".join(problems)


# --- by id --------------------------------------------------------------------------------------


def test_another_accounts_objects_are_not_found_by_id_on_any_page(
    northwind: Client, contoso: Contoso
) -> None:
    before = contoso_rows(contoso)
    pages = [page for page in every_page() if page.params and admin_may_open(page)]
    assert any(page.name == "accounts:user-edit" for page in pages)
    problems = []
    for page in pages:
        kwargs = {param: contoso.object_for(param, page.name) for param in page.params}
        missing = [param for param, value in kwargs.items() if value is None]
        if missing:
            problems.append(f"{page.name}: no Contoso object for {missing}; add one to Contoso")
            continue
        url = reverse(page.name, kwargs=kwargs)
        for method in ("GET", "POST"):
            response = northwind.generic(method, url)
            if response.status_code == 405:
                continue  # that method is not served at all, for anyone
            if response.status_code != 404:
                problems.append(f"{method} {url}: expected 404, got {describe(response)}")
    assert not problems, "Contoso's objects reachable by id:\n  " + "\n  ".join(problems)
    assert contoso_rows(contoso) == before, "a request changed Contoso's rows"


def test_another_accounts_objects_are_not_found_by_id_through_the_api(
    contoso: Contoso, alice: User
) -> None:
    before = contoso_rows(contoso)
    own_token = do_create_api_token(alice, "Northwind script").value
    operations = [op for op in api_operations() if "{" in op.path]
    assert any(op.path == "/api/v1/tokens/{token_id}/revoke" for op in operations)
    document = api.get_openapi_schema()
    problems = []
    for op in operations:
        spec = document["paths"].get(op.path, {}).get(op.method.lower(), {})
        path = op.path
        for parameter in spec.get("parameters", []):
            if parameter["in"] == "path":
                value = contoso.object_for(parameter["name"], op.label)
                path = path.replace("{" + parameter["name"] + "}", str(value))
        body = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
        payload = json.dumps(example_of(body["schema"], document)) if "schema" in body else ""
        for credential in ({"HTTP_AUTHORIZATION": f"Bearer {own_token}"},):
            response = Client().generic(
                op.method, path, data=payload, content_type="application/json", **credential
            )
            if response.status_code != 404:
                problems.append(f"{op.method} {path}: expected 404, got {describe(response)}")
    assert not problems, "Contoso's objects reachable through the API:\n  " + "\n  ".join(problems)
    assert contoso_rows(contoso) == before, "an API call changed Contoso's rows"


# --- companies ------------------------------------------------------------------------------------


def test_another_accounts_company_cannot_be_assigned(
    northwind: Client, contoso: Contoso, alice: User, bob: User
) -> None:
    edit_page = northwind.get(f"/account/users/{bob.pk}/edit/").content.decode()
    assert "Northwind Traders" in edit_page
    assert not leaks(edit_page.encode())

    northwind.post(
        f"/account/users/{bob.pk}/edit/",
        {
            "first_name": "Bob",
            "last_name": "User",
            "role": "user",
            "companies": [contoso.company.pk],
        },
    )
    own_token = do_create_api_token(alice, "Northwind script").value
    script = Client()
    patched = script.patch(
        f"/api/v1/users/{bob.pk}",
        {"companies": [contoso.company.pk]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {own_token}",
    )
    invited = script.post(
        "/api/v1/users",
        {
            "email": "newbie@northwind.example",
            "first_name": "New",
            "last_name": "Member",
            "role": "user",
            "companies": [contoso.company.pk],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {own_token}",
    )

    assert patched.status_code == 400, describe(patched)
    assert invited.status_code == 400, describe(invited)
    assert not leaks(patched.content + invited.content)
    assert not contoso.company.assigned_users.exclude(account=contoso.account).exists()
    assert not User.objects.filter(email="newbie@northwind.example").exists()


# --- the account in play --------------------------------------------------------------------


def test_the_admin_cannot_emulate_or_use_another_accounts_people(
    northwind: Client, contoso: Contoso
) -> None:
    start = northwind.post(f"/account/users/{contoso.user.pk}/emulate/")
    assert start.status_code == 404
    page = northwind.get("/").content.decode()
    assert "emulating" not in page.lower()
    assert not leaks(page.encode())


def test_a_token_only_ever_reaches_its_owners_account(contoso: Contoso, alice: User) -> None:
    listed = (
        Client().get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {contoso.token_value}").json()
    )
    emails = {member["email"] for member in listed}
    assert emails == {"zebedee@contoso.example", "yolanda@contoso.example"}
    assert alice.email not in json.dumps(listed)
