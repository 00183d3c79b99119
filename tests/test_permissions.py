"""Acceptance 2: every URL pattern and every API operation, visited as every kind of person.

The expectations come from ONE place: the roles table (`accounts/roles.py`) through the rules each
view and operation declares (`@requires` → `VIEW_RULES`, `@api_requires` → `API_RULES`). Pages
and operations are discovered by walking the URLconf and the API's routers, so a view added
without a rule fails here by name. Third-party pages (allauth, ninja's docs) have no decorator;
they are listed in THIRD_PARTY below with a reason, and a new one fails until someone lists it.

Actors: nobody signed in, a member of `account` in each role, the account-admin emulating a
`user`, instance staff without a grant, and the account-admin of another account (pages as a
session; API operations as a session and as a personal token). Each visit runs in a savepoint
that is rolled back, so a POST that disables a user cannot change the next visit's answer.

Outcomes: allowed → anything but 401/403 (2xx, 3xx, a 400/422 for the empty or minimal body we
send; 404 only for a colleague's personal object such as their token); forbidden → 403; not
signed in → the sign-in page (pages) or 401 (API); another account's object → 404, never 403
(that would confirm it exists) and never 200. allauth's own pages answer "sign in (again)" and
"you have none" as steps of its flows, so for them only a 403 contradicts "allowed".
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlparse
from uuid import UUID

import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter

from ledgerbridge.accounts.access import (
    SESSION_EMULATED_USER,
    SESSION_EMULATION_STARTED,
    VIEW_RULES,
    Access,
    ViewRule,
)
from ledgerbridge.accounts.actions.tokens import do_create_api_token
from ledgerbridge.accounts.models import Account, PsaCredential, SupportGrant, User
from ledgerbridge.accounts.roles import ROLES, Perm, Role
from ledgerbridge.api.api import api
from ledgerbridge.api.auth import API_RULES
from ledgerbridge.companies.models import Company
from ledgerbridge.core import clock
from tests.routes import (
    JSON_PREFIXES,
    Operation,
    Page,
    api_operations,
    describe,
    every_page,
    example_of,
    isolated,
    walk,
)

PUBLIC = ViewRule(Access.PUBLIC)
# allauth's pages that change who someone is are refused while emulating (access.py), and so is
# all of allauth's JSON API: an emulating admin has no business signing anyone in or out.
IDENTITY = ViewRule(Access.SIGNED_IN, refuse_while_emulating=True)
PUBLIC_NOT_EMULATING = ViewRule(Access.PUBLIC, refuse_while_emulating=True)

# Pages and endpoints that are not ours: each with the access it must have and why.
THIRD_PARTY: dict[str, tuple[ViewRule, str]] = {
    # allauth's account pages
    "account_login": (PUBLIC, "the sign-in page"),
    "account_logout": (PUBLIC, "signing out; signed-out visitors are sent on"),
    "account_inactive": (PUBLIC, "tells a disabled user why sign-in failed"),
    "account_signup": (PUBLIC, "creates a new MSP account (closed by LEDGERBRIDGE_SIGNUP)"),
    "account_reauthenticate": (IDENTITY, "confirm the password before a sensitive change"),
    "account_email": (IDENTITY, "the member's own email address"),
    "account_email_verification_sent": (PUBLIC, "says a verification mail is on its way"),
    "account_confirm_email": (PUBLIC, "the link in a verification mail"),
    "account_change_password": (IDENTITY, "the member's own password"),
    "account_set_password": (IDENTITY, "set a first password while signed in"),
    "account_reset_password": (PUBLIC, "forgot password"),
    "account_reset_password_done": (PUBLIC, "says the reset mail is on its way"),
    "account_reset_password_from_key": (PUBLIC, "the link in a reset mail"),
    "account_reset_password_from_key_done": (PUBLIC, "says the password is changed"),
    "account_confirm_login_code": (PUBLIC, "second step of a sign-in by mailed code"),
    # allauth's second factor
    "mfa_index": (IDENTITY, "the member's own second factors"),
    "mfa_authenticate": (
        PUBLIC_NOT_EMULATING,
        "second step of a sign-in, before the session is signed in",
    ),
    "mfa_reauthenticate": (IDENTITY, "confirm the second factor before a sensitive change"),
    "mfa_activate_totp": (IDENTITY, "enrol an authenticator app"),
    "mfa_deactivate_totp": (IDENTITY, "remove the authenticator app"),
    "mfa_view_recovery_codes": (IDENTITY, "the member's own recovery codes"),
    "mfa_generate_recovery_codes": (IDENTITY, "new recovery codes"),
    "mfa_download_recovery_codes": (IDENTITY, "recovery codes as a file"),
    "mfa_list_webauthn": (IDENTITY, "the member's own security keys"),
    "mfa_add_webauthn": (IDENTITY, "add a security key"),
    "mfa_reauthenticate_webauthn": (IDENTITY, "confirm with a security key"),
    "mfa_remove_webauthn": (IDENTITY, "remove one of the member's own keys"),
    "mfa_edit_webauthn": (IDENTITY, "rename one of the member's own keys"),
    # allauth's sessions
    "usersessions_list": (IDENTITY, "the member's own sessions"),
    # allauth.headless, the JSON sign-in for scripts (the "app" client)
    "headless:app:config": (PUBLIC_NOT_EMULATING, "what the JSON sign-in supports"),
    "headless:app:account:login": (PUBLIC_NOT_EMULATING, "JSON sign-in"),
    "headless:app:account:signup": (
        PUBLIC_NOT_EMULATING,
        "JSON sign-up (closed by LEDGERBRIDGE_SIGNUP)",
    ),
    "headless:app:account:current_session": (IDENTITY, "who is signed in; sign out"),
    "headless:app:account:reauthenticate": (IDENTITY, "confirm the password"),
    "headless:app:account:confirm_login_code": (
        PUBLIC_NOT_EMULATING,
        "second step of a sign-in by code",
    ),
    "headless:app:account:request_password_reset": (PUBLIC_NOT_EMULATING, "forgot password"),
    "headless:app:account:reset_password": (PUBLIC_NOT_EMULATING, "reset with the mailed key"),
    "headless:app:account:verify_email": (
        PUBLIC_NOT_EMULATING,
        "verify an address with the mailed key",
    ),
    "headless:app:account:resend_email_verification_code": (
        PUBLIC_NOT_EMULATING,
        "resend that code",
    ),
    "headless:app:account:verify_phone": (PUBLIC_NOT_EMULATING, "phone verification (unused)"),
    "headless:app:account:resend_phone_verification_code": (
        PUBLIC_NOT_EMULATING,
        "phone code (unused)",
    ),
    "headless:app:account:change_password": (IDENTITY, "the member's own password"),
    "headless:app:account:manage_email": (IDENTITY, "the member's own email address"),
    "headless:app:account:manage_phone": (IDENTITY, "phone number (unused)"),
    "headless:app:mfa:authenticate": (PUBLIC_NOT_EMULATING, "second step of a JSON sign-in"),
    "headless:app:mfa:reauthenticate": (IDENTITY, "confirm the second factor"),
    "headless:app:mfa:authenticate_webauthn": (
        PUBLIC_NOT_EMULATING,
        "second step with a security key",
    ),
    "headless:app:mfa:reauthenticate_webauthn": (IDENTITY, "confirm with a security key"),
    "headless:app:mfa:authenticators": (IDENTITY, "the member's own second factors"),
    "headless:app:mfa:manage_totp": (IDENTITY, "enrol or remove an authenticator app"),
    "headless:app:mfa:manage_recovery_codes": (IDENTITY, "the member's own recovery codes"),
    "headless:app:mfa:manage_webauthn": (IDENTITY, "the member's own security keys"),
    "headless:app:usersessions:sessions": (IDENTITY, "the member's own sessions"),
    "headless:app:tokens:refresh": (PUBLIC_NOT_EMULATING, "refresh a JWT (unused: session tokens)"),
    # django-ninja's own pages
    "api-v1:openapi-json": (PUBLIC, "the published API contract; no data"),
    "api-v1:openapi-view": (PUBLIC, "the API docs page; no data"),
    "api-v1:api-root": (PUBLIC, "ninja's root, answers 404"),
}


# --- who visits ---------------------------------------------------------------------------------


class Kind(StrEnum):
    ANONYMOUS = "anonymous"
    MEMBER = "member"  # a member of `account` with `role`
    EMULATING = "emulating"  # the account-admin of `account` emulating a `user`-role member
    STAFF = "staff"  # instance staff without a support grant
    OUTSIDER = "outsider"  # the account-admin of another account


@dataclass(frozen=True)
class Actor:
    kind: Kind
    role: Role | None = None
    # API only: authenticate with a personal token instead of the session.
    with_token: bool = False

    @property
    def label(self) -> str:
        name = f"{self.kind}" + (f"/{self.role}" if self.role else "")
        return name + (" (token)" if self.with_token else "")


PAGE_ACTORS = [
    Actor(Kind.ANONYMOUS),
    *(Actor(Kind.MEMBER, role) for role in ROLES),
    Actor(Kind.EMULATING, Role.USER),
    Actor(Kind.STAFF),
    Actor(Kind.OUTSIDER, Role.ACCOUNT_ADMIN),
]
API_ACTORS = [
    *PAGE_ACTORS,
    *(Actor(Kind.MEMBER, role, with_token=True) for role in ROLES),
    Actor(Kind.OUTSIDER, Role.ACCOUNT_ADMIN, with_token=True),
]


class Outcome(StrEnum):
    ALLOWED = "allowed"
    FORBIDDEN = "403"
    SIGN_IN = "sign in"
    NOT_FOUND = "404"


def expected(rule: ViewRule, actor: Actor, *, names_objects: bool) -> Outcome:
    """What the roles table says this actor gets."""
    if rule.refuse_while_emulating and actor.kind == Kind.EMULATING:
        return Outcome.FORBIDDEN
    if rule.needs == Access.PUBLIC:
        return Outcome.ALLOWED
    if actor.kind == Kind.ANONYMOUS:
        return Outcome.SIGN_IN
    if rule.needs == Access.STAFF:
        allowed = actor.kind == Kind.STAFF
    elif rule.needs == Access.SIGNED_IN:
        allowed = True
    else:
        assert isinstance(rule.needs, Perm)
        allowed = actor.role is not None and rule.needs in ROLES[actor.role].permissions
    if not allowed:
        return Outcome.FORBIDDEN
    if names_objects and actor.kind == Kind.OUTSIDER:
        return Outcome.NOT_FOUND
    return Outcome.ALLOWED


# --- the cast and their objects -----------------------------------------------------------------


@dataclass
class Cast:
    account: Account
    members: dict[Role, User]
    emulated: User
    staff: User
    outsider: User
    company: Company
    # Objects of `account` made for the URL parameters of the page being checked, by factory.
    objects: dict[Callable[["Cast"], int], int] = field(default_factory=dict)
    # Each actor signs in once: their session key, or their personal token.
    credentials: dict[Actor, str] = field(default_factory=dict)

    def user_for(self, actor: Actor) -> User | None:
        match actor.kind:
            case Kind.ANONYMOUS:
                return None
            case Kind.MEMBER:
                assert actor.role is not None
                return self.members[actor.role]
            case Kind.EMULATING:
                return self.members[Role.ACCOUNT_ADMIN]
            case Kind.STAFF:
                return self.staff
            case Kind.OUTSIDER:
                return self.outsider
        raise AssertionError(actor)


@pytest.fixture
def cast(account: Account, other_account: Account) -> Cast:
    company = Company.objects.create(account=account, name="Northwind Traders Pty Ltd")
    members = {}
    for role in ROLES:
        member = User.objects.create_user(
            f"{role}@northwind.example", "correct horse battery", account=account, role=role
        )
        member.companies.add(company)
        members[role] = member
    emulated = User.objects.create_user(
        "emulated@northwind.example", "correct horse battery", account=account, role=Role.USER
    )
    emulated.companies.add(company)
    staff = User.objects.create_user("ops@ledgerbridge.example", "x" * 16, is_staff=True)
    # Instance staff always have a second factor.
    TOTP.activate(staff, generate_totp_secret())
    outsider = User.objects.create_user(
        "admin@contoso.example",
        "correct horse battery",
        account=other_account,
        role=Role.ACCOUNT_ADMIN,
    )
    cast = Cast(account, members, emulated, staff, outsider, company)
    for actor in {*PAGE_ACTORS, *API_ACTORS}:
        if (user := cast.user_for(actor)) is not None:
            cast.credentials[actor] = sign_in(actor, user, cast)
    return cast


def sign_in(actor: Actor, user: User, cast: Cast) -> str:
    if actor.with_token:
        return do_create_api_token(user, f"Permissions test ({actor.label})").value
    client = Client()
    client.force_login(user)
    session = client.session
    # As if they had just typed their password: allauth's "confirm it's you" steps pass.
    request = RequestFactory().get("/")
    request.session = session
    record_authentication(request, user, "password", email=user.email, reauthenticated=True)
    if actor.kind == Kind.EMULATING:
        session[SESSION_EMULATED_USER] = cast.emulated.pk
        session[SESSION_EMULATION_STARTED] = clock.now().isoformat()
    session.save()
    assert session.session_key is not None
    return session.session_key


def a_user(cast: Cast) -> int:
    return User.objects.create_user(
        "target@northwind.example", "correct horse battery", account=cast.account, role=Role.USER
    ).pk


def a_token(cast: Cast) -> int:
    return do_create_api_token(cast.members[Role.ACCOUNT_ADMIN], "Permissions test").token.pk


def a_credential(cast: Cast) -> int:
    return PsaCredential.objects.create(
        account=cast.account, psa="connectwise", label="Northwind CW", secrets={"key": "k"}
    ).pk


def a_grant(cast: Cast) -> int:
    return SupportGrant.objects.create(
        account=cast.account,
        granted_by=cast.members[Role.ACCOUNT_ADMIN],
        expires_at=clock.now() + timedelta(hours=4),
    ).pk


def a_company(cast: Cast) -> int:
    return cast.company.pk


def a_sync_run(cast: Cast) -> int:
    from ledgerbridge.sync.models import SyncRun

    return SyncRun.objects.create(company=cast.company, trigger="manual").pk


def a_sync_record(cast: Cast) -> int:
    from ledgerbridge.sync.models import SyncRecord

    record = SyncRecord.objects.create(
        company=cast.company, record_type="invoice", psa_id="1", number="INV-1", state="failed"
    )
    return record.pk


def an_exclusion_rule(cast: Cast) -> int:
    from ledgerbridge.companies.models import ExclusionRule

    return ExclusionRule.objects.create(company=cast.company, prefix="AGR").pk


def an_api_call(cast: Cast) -> int:
    from ledgerbridge.apilog.models import ApiCallRecord

    return ApiCallRecord.objects.create(
        account=cast.account,
        connection="Xero: Northwind",
        vendor="Xero",
        method="GET",
        path="/api.xro/2.0/Accounts",
        status=200,
        duration_ms=12,
        outcome="ok",
    ).pk


def the_account(cast: Cast) -> int:
    # An account staff may enter: refusing staff without a grant is the support tests' job.
    a_grant(cast)
    return cast.account.pk


def a_security_key(cast: Cast) -> int:
    return Authenticator.objects.create(
        user=cast.members[Role.ACCOUNT_ADMIN],
        type=Authenticator.Type.WEBAUTHN,
        data={"name": "YubiKey", "credential": {}},
    ).pk


def a_session(cast: Cast) -> int:
    return UserSession.objects.create(
        user=cast.members[Role.ACCOUNT_ADMIN],
        ip="192.0.2.10",
        session_key="permissions-test-session",
        user_agent="Permissions test",
    ).pk


# URL parameter name → something of `account` it can name. A generic `pk`/`id` is resolved by the
# words in the URL's name (OBJECT_WORDS).
OBJECT_FACTORIES: dict[str, Callable[[Cast], int]] = {
    "user_id": a_user,
    "member_id": a_user,
    "token_id": a_token,
    "credential_id": a_credential,
    "grant_id": a_grant,
    "company_id": a_company,
    "account_id": the_account,
    "session_id": a_session,
    "run_id": a_sync_run,
    "record_id": a_sync_record,
    "rule_id": an_exclusion_rule,
    "call_id": an_api_call,
}
OBJECT_WORDS: list[tuple[str, Callable[[Cast], int]]] = [
    ("webauthn", a_security_key),
    ("session", a_session),
    ("token", a_token),
    ("credential", a_credential),
    ("psa", a_credential),
    ("grant", a_grant),
    ("support", a_grant),
    ("compan", a_company),
    ("user", a_user),
    ("member", a_user),
    ("emulat", a_user),
    ("invit", a_user),
]
# Objects that belong to one person, not to the account: only their owner finds them.
PERSONAL = {a_token, a_session, a_security_key}
# Parameters of public pages (links in emails): any value of the right shape will do.
SHAPE_VALUES: dict[type, Any] = {IntConverter: 1, UUIDConverter: UUID(int=1)}


def object_for(param: str, where: str, cast: Cast) -> int:
    """The id of an object of `account` for this parameter, made once per page or operation."""
    factory = OBJECT_FACTORIES.get(param)
    if factory is None and param in ("pk", "id"):
        factory = next((make for word, make in OBJECT_WORDS if word in where.lower()), None)
    if factory is None:
        pytest.fail(
            f"{where}: no object factory for the URL parameter {param!r}; add one to "
            "OBJECT_FACTORIES in tests/test_permissions.py"
        )
    if factory not in cast.objects:
        cast.objects[factory] = factory(cast)
    return cast.objects[factory]


# --- visiting -----------------------------------------------------------------------------------


def client_for(actor: Actor, cast: Cast) -> tuple[Client, dict[str, str]]:
    """A client for the actor, and the headers that authenticate its JSON calls."""
    # A crash is reported with the URL and the person, not raised out of the loop.
    client = Client(raise_request_exception=False)
    credential = cast.credentials.get(actor)
    if credential is None:
        return client, {}
    if actor.with_token:
        return client, {"HTTP_AUTHORIZATION": f"Bearer {credential}"}
    client.cookies[settings.SESSION_COOKIE_NAME] = credential
    # allauth's JSON endpoints take the session as a header (the session key is the token).
    return client, {"HTTP_X_SESSION_TOKEN": credential}


def judge(
    outcome: Outcome, response: Any, url: str, *, personal: bool, third_party: bool
) -> str | None:
    """None if the response is what the outcome promises, else what went wrong."""
    status = response.status_code
    is_json = url.startswith(JSON_PREFIXES)
    to_sign_in = status in (301, 302, 303) and urlparse(response["Location"]).path == reverse(
        "account_login"
    )
    if status >= 500:
        return f"server error {describe(response)}"
    match outcome:
        case Outcome.SIGN_IN:
            ok = status == 401 if is_json else to_sign_in
        case Outcome.FORBIDDEN:
            ok = status == 403
        case Outcome.NOT_FOUND:
            ok = status == 404
        case Outcome.ALLOWED if third_party:
            # allauth answers "sign in first / again" (401, the sign-in page) and "you have none"
            # (404) as steps of its own flows; only a refusal would contradict the rule.
            ok = status != 403
        case Outcome.ALLOWED:
            # Someone else's personal object (a colleague's token) is a 404 even inside the
            # account; the account's shared objects (its users, credentials) never are.
            ok = status not in (401, 403) and not to_sign_in and (status != 404 or personal)
    return None if ok else f"expected {outcome}, got {describe(response)}"


# --- discovering every page ---------------------------------------------------------------------


def rule_for(page: Page) -> ViewRule | None:
    return VIEW_RULES.get(page.callback) or (THIRD_PARTY.get(page.name, (None, ""))[0])


def test_every_page_has_a_declared_rule() -> None:
    missing = [f"{page.name} (/{page.route})" for page in every_page() if rule_for(page) is None]
    assert not missing, (
        "These URL patterns have no access rule. Decorate our views with @requires(...); list "
        "third-party ones in THIRD_PARTY in tests/test_permissions.py:\n  " + "\n  ".join(missing)
    )


def test_third_party_list_has_no_stale_entries() -> None:
    mounted = {page.name for page in walk(get_resolver().url_patterns)}
    stale = sorted(set(THIRD_PARTY) - mounted)
    assert not stale, f"THIRD_PARTY lists URL names that are no longer mounted: {stale}"


def url_of(page: Page, cast: Cast, *, public: bool) -> str:
    kwargs: dict[str, Any] = {}
    for param, converter in page.params.items():
        if public:
            kwargs[param] = SHAPE_VALUES.get(converter, "0-invalid")
        else:
            kwargs[param] = object_for(param, page.name, cast)
    if page.name.startswith("route "):
        pytest.fail(f"/{page.route} has no URL name; name it so it can be reversed and listed")
    return reverse(page.name, kwargs=kwargs)


def page_problems(page: Page, cast: Cast) -> list[str]:
    rule = rule_for(page)
    if rule is None:
        return ["no access rule (see test_every_page_has_a_declared_rule)"]
    names_objects = bool(page.params) and rule.needs != Access.PUBLIC
    third_party = page.callback not in VIEW_RULES
    cast.objects.clear()
    url = url_of(page, cast, public=rule.needs == Access.PUBLIC)
    personal = any(factory in PERSONAL for factory in cast.objects)
    problems = []
    for actor in PAGE_ACTORS:

        def visit(actor: Actor = actor) -> Any:
            client, headers = client_for(actor, cast)
            json_headers = headers if url.startswith(JSON_PREFIXES) else {}
            response = client.get(url, **json_headers)
            if response.status_code == 405:
                # POST-only: an empty form is enough to see who may send it.
                response = client.post(url, **json_headers)
            return response

        response = isolated(visit)
        outcome = expected(rule, actor, names_objects=names_objects)
        problem = judge(outcome, response, url, personal=personal, third_party=third_party)
        if problem:
            problems.append(f"{actor.label}: {problem}")
    return problems


@pytest.mark.django_db
def test_every_page_answers_each_person_as_the_roles_table_says(cast: Cast) -> None:
    report = {}
    for page in every_page():
        # Objects made for one page's parameters are rolled back with it.
        if problems := isolated(lambda page=page: page_problems(page, cast)):
            report[f"{page.name} (/{page.route})"] = problems
    assert not report, "Pages that break the roles table:\n" + "\n".join(
        f"{page}\n    " + "\n    ".join(problems) for page, problems in report.items()
    )


# --- discovering every API operation ------------------------------------------------------------


@pytest.mark.django_db
def test_every_api_operation_is_published_and_has_a_declared_rule() -> None:
    document = api.get_openapi_schema()
    published = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    operations = api_operations()
    known = {(operation.method, operation.path) for operation in operations}
    assert published <= known, f"published but not found in the routers: {published - known}"
    missing = [op.label for op in operations if op.view_func not in API_RULES]
    assert not missing, (
        "These API operations have no access rule; decorate them with @api_requires(...) "
        "directly under the router decorator:\n  " + "\n  ".join(missing)
    )
    mounted = {op.view_func for op in operations}
    unmounted = [
        f"{func.__module__}.{func.__qualname__}" for func in API_RULES if func not in mounted
    ]
    assert not unmounted, f"@api_requires on functions no router mounts: {unmounted}"


def request_for(
    operation: Operation, cast: Cast, document: dict[str, Any]
) -> tuple[str, dict[str, Any], Any]:
    """The operation's URL for `account`'s objects, required query values and a valid body."""
    spec = document["paths"].get(operation.path, {}).get(operation.method.lower(), {})
    path = operation.path
    query = {}
    for parameter in spec.get("parameters", []):
        if parameter["in"] == "path":
            value = object_for(parameter["name"], operation.label, cast)
            path = path.replace("{" + parameter["name"] + "}", str(value))
        elif parameter["in"] == "query" and parameter.get("required"):
            query[parameter["name"]] = example_of(parameter["schema"], document)
    body = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
    payload = example_of(body["schema"], document) if "schema" in body else None
    return path, query, payload


def operation_problems(operation: Operation, cast: Cast, document: dict[str, Any]) -> list[str]:
    rule = API_RULES.get(operation.view_func)
    if rule is None:
        return ["no @api_requires rule"]
    names_objects = "{" in operation.path and rule.needs != Access.PUBLIC
    cast.objects.clear()
    path, query, payload = request_for(operation, cast, document)
    personal = any(factory in PERSONAL for factory in cast.objects)
    problems = []
    for actor in API_ACTORS:

        def call(actor: Actor = actor) -> Any:
            client, headers = client_for(actor, cast)
            if not actor.with_token:
                headers = {}  # the session cookie is the credential
            return client.generic(
                operation.method,
                path + (f"?{urlencode(query)}" if query else ""),
                data=json.dumps(payload) if payload is not None else "",
                content_type="application/json",
                **headers,
            )

        response = isolated(call)
        outcome = expected(rule, actor, names_objects=names_objects)
        problem = judge(outcome, response, path, personal=personal, third_party=False)
        if problem:
            problems.append(f"{actor.label}: {problem}")
    return problems


@pytest.mark.django_db
def test_every_api_operation_answers_each_caller_as_the_roles_table_says(cast: Cast) -> None:
    document = api.get_openapi_schema()
    report = {}
    for operation in api_operations():
        check = lambda op=operation: operation_problems(op, cast, document)  # noqa: E731
        if problems := isolated(check):
            report[operation.label] = problems
    assert not report, "API operations that break the roles table:\n" + "\n".join(
        f"{operation}\n    " + "\n    ".join(problems) for operation, problems in report.items()
    )
