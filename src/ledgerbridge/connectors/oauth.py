"""OAuth 2 sign-in to the ledgers (Xero, QuickBooks Online): authorize, exchange, refresh, revoke.

Both vendors use the authorization-code flow for web apps with the client authenticated by HTTP
Basic on the token endpoint (accounting-apis.md §1.2, §2.1). PKCE is for public clients and is
not used; the `state` value that guards the redirect is made and checked by the caller
(`companies.signin`), bound to the browser session and the company.

Why our own thin client and not `intuit-oauth` (or xero-python's token API): those hard-code the
vendors' hosts (or fetch a discovery document in their constructor) and send their own HTTP, so
token calls would bypass `connectors.http.VendorTransport` — its timeouts, retries, API call log
hook and secret scrubbing — and could not be pointed at the simulator by configuration alone.
The protocol is four form posts and a GET; owning them is less code than wrapping a library.

Every endpoint, client id and secret comes from settings (defaults: the local simulator). Tokens
and the client secret are passed to the transport as `secrets`, so they are masked in anything
logged, and never put into an error message.
"""

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import (
    Classifier,
    LogHook,
    RetryPolicy,
    Timeouts,
    VendorTransport,
)
from ledgerbridge.core import clock

VENDOR_NAMES = {"xero": "Xero", "qbo": "QuickBooks"}
# QuickBooks answers below minor version 75 as 75 since 2025-08 (accounting-apis.md §2.2).
QBO_MINOR_VERSION = 75

# Tests and the demo send every ledger call through an in-process simulator (`route_through`).
_transport_override: httpx.BaseTransport | None = None


@contextmanager
def route_through(transport: httpx.BaseTransport | None) -> Iterator[None]:
    """Send ledger OAuth and API calls through `transport` (an in-process simulator) meanwhile."""
    global _transport_override
    previous, _transport_override = _transport_override, transport
    try:
        yield
    finally:
        _transport_override = previous


def transport_override() -> httpx.BaseTransport | None:
    return _transport_override


@dataclass(frozen=True)
class OAuthApp:
    """LedgerBridge's registration with one ledger vendor, and where that vendor listens."""

    system: str  # "xero" or "qbo"
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    revoke_url: str
    api_url: str
    scopes: tuple[str, ...]
    connections_url: str = ""  # Xero only

    @property
    def vendor(self) -> str:
        return VENDOR_NAMES[self.system]


def oauth_app(system: str) -> OAuthApp:
    """The app as configured now (settings are read on each call, so tests can move them)."""
    if system == "xero":
        return OAuthApp(
            system="xero",
            client_id=settings.XERO_CLIENT_ID,
            client_secret=settings.XERO_CLIENT_SECRET,
            authorize_url=settings.XERO_AUTHORIZE_URL,
            token_url=settings.XERO_TOKEN_URL,
            revoke_url=settings.XERO_REVOKE_URL,
            api_url=settings.XERO_API_URL,
            scopes=tuple(settings.XERO_SCOPES),
            connections_url=settings.XERO_CONNECTIONS_URL,
        )
    if system == "qbo":
        return OAuthApp(
            system="qbo",
            client_id=settings.QBO_CLIENT_ID,
            client_secret=settings.QBO_CLIENT_SECRET,
            authorize_url=settings.QBO_AUTHORIZE_URL,
            token_url=settings.QBO_TOKEN_URL,
            revoke_url=settings.QBO_REVOKE_URL,
            api_url=settings.QBO_API_URL,
            scopes=tuple(settings.QBO_SCOPES),
        )
    raise ValueError(f"unknown ledger system {system!r}")


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint answered: a pair of tokens and when they lapse."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None  # QuickBooks says; Xero does not
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        # Never let a token reach a log line or a traceback through repr().
        return f"TokenSet(access_expires_at={self.access_expires_at.isoformat()}, scopes=…)"


@dataclass(frozen=True)
class LedgerOrganisation:
    """A Xero tenant or QuickBooks company the sign-in reaches."""

    id: str
    name: str


class OAuthError(ConnectorError):
    """A token endpoint's refusal, with the OAuth error code (`invalid_grant`, …)."""

    def __init__(self, error: str, message: str, *, hint: str = "", status: int | None = None):
        super().__init__(ErrorKind.AUTH, message, hint=hint, status=status, vendor_detail=error)
        self.error = error

    @property
    def grant_is_dead(self) -> bool:
        """The refresh token (or code) is dead, reused or revoked: only a new sign-in helps."""
        return self.error == "invalid_grant"


class _Borrowed(httpx.BaseTransport):
    """A transport handed in (the in-process simulator) is shared: closing a call's client
    must not close it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)


def _classify_token_refusal(vendor: str) -> Classifier:
    def classify(response: httpx.Response) -> ConnectorError | None:
        if response.status_code not in (400, 401):
            return None
        try:
            error = str(json.loads(response.content).get("error", ""))
        except (ValueError, AttributeError):
            error = ""
        if error == "invalid_grant":
            return OAuthError(
                error,
                f"{vendor} no longer accepts this sign-in (the authorisation was revoked, "
                "expired or already used).",
                hint=f"Connect to {vendor} again from the company page.",
                status=response.status_code,
            )
        if error in ("invalid_client", "unauthorized_client") or response.status_code == 401:
            return OAuthError(
                error or "invalid_client",
                f"{vendor} did not accept LedgerBridge's client id and secret.",
                hint=f"The operator should check the {vendor} app credentials in LedgerBridge's "
                "settings; the connections themselves are fine.",
                status=response.status_code,
            )
        return OAuthError(
            error or "invalid_request",
            f"{vendor} refused the sign-in request ({error or 'HTTP 400'}).",
            hint="Try connecting again; if it keeps failing, contact support.",
            status=response.status_code,
        )

    return classify


def _seconds(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def xero_auth_event_id(access_token: str) -> str:
    """The `authentication_event_id` claim of a Xero access token (a JWT), or "" if unreadable.

    Xero's `/connections` lists every tenant the app was ever connected to; the claim narrows it
    to the ones this consent covered (accounting-apis.md §1.2). The signature is not checked:
    the value only filters a list the token itself is allowed to read.
    """
    parts = access_token.split(".")
    if len(parts) != 3:
        return ""
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, binascii.Error):
        return ""
    value = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return value if isinstance(value, str) else ""


class LedgerOAuth:
    """The OAuth calls for one ledger app. Each call opens a short-lived transport whose
    `secrets` include the tokens it carries, so none of them can reach a log."""

    def __init__(
        self,
        app: OAuthApp,
        *,
        transport: httpx.BaseTransport | None = None,
        log_hook: LogHook | None = None,
        detailed_logging: bool = False,
        sleep: Callable[[float], object] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.app = app
        self._transport = transport if transport is not None else transport_override()
        self._log_hook = log_hook
        self._detailed_logging = detailed_logging
        self._sleep = sleep
        self._retry = retry or RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=10.0)

    @property
    def vendor(self) -> str:
        return self.app.vendor

    # -- the redirect --------------------------------------------------------------------------

    def authorization_url(self, *, redirect_uri: str, state: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.app.scopes),
            "state": state,
        }
        return f"{self.app.authorize_url}?{urlencode(query)}"

    # -- token endpoint ------------------------------------------------------------------------

    def exchange_code(self, code: str, *, redirect_uri: str) -> TokenSet:
        """Trade the redirect's one-time code for tokens. Not retried after an uncertain send:
        a code works once, so a second try would only be refused."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token_call(form, secrets=(code,), idempotent=False)

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new pair for a refresh token. The caller stores both at once (rotation).

        Xero keeps a rotated refresh token working for 30 minutes so a lost answer can be asked
        again; only there is the call retried after an uncertain send. QuickBooks documents no
        such window, so an uncertain refresh is reported and the next attempt decides.
        """
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token_call(
            form, secrets=(refresh_token,), idempotent=self.app.system == "xero"
        )

    def revoke(self, refresh_token: str) -> None:
        """Withdraw the grant at the vendor (revoking the refresh token ends the access too)."""
        with self._http(secrets=(refresh_token,)) as http:
            if self.app.system == "xero":
                # Xero: RFC 7009 form post.
                http.request(
                    "POST", self.app.revoke_url, form={"token": refresh_token}, idempotent=True
                )
            else:
                # Intuit's revoke endpoint takes a JSON body {"token": …} with Basic auth.
                http.request(
                    "POST",
                    self.app.revoke_url,
                    json={"token": refresh_token},
                    headers={"Accept": "application/json"},
                    idempotent=True,
                )

    def _token_call(
        self, form: Mapping[str, str], *, secrets: Sequence[str], idempotent: bool
    ) -> TokenSet:
        with self._http(secrets=secrets, classify=_classify_token_refusal(self.vendor)) as http:
            response = http.request(
                "POST",
                self.app.token_url,
                form=form,
                headers={"Accept": "application/json"},
                idempotent=idempotent,
            )
            body = http.decode(response)
        return self._token_set(body)

    def _token_set(self, body: Any) -> TokenSet:
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ConnectorError(
                ErrorKind.TRANSIENT,
                f"{self.vendor}'s sign-in service answered without an access token.",
                hint="This is usually a passing fault; try again.",
            )
        if not body.get("refresh_token"):
            raise ConnectorError(
                ErrorKind.VALIDATION,
                f"{self.vendor} gave no refresh token, so the connection could not last.",
                hint="LedgerBridge must be allowed offline access; check the scopes configured "
                f"for {self.vendor}.",
            )
        now = clock.now()
        expires_in = _seconds(body.get("expires_in")) or 0
        refresh_in = _seconds(body.get("x_refresh_token_expires_in"))
        scope = body.get("scope")
        return TokenSet(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]),
            access_expires_at=now + timedelta(seconds=expires_in),
            refresh_expires_at=now + timedelta(seconds=refresh_in) if refresh_in else None,
            # QuickBooks does not echo the scope; it granted what was asked.
            scopes=tuple(str(scope).split()) if scope else self.app.scopes,
        )

    # -- who the sign-in reaches ---------------------------------------------------------------

    def organisations(self, access_token: str) -> list[LedgerOrganisation]:
        """Xero: the organisations this consent connected (`GET /connections`)."""
        if self.app.system != "xero":
            raise ValueError("only Xero lists connections; QuickBooks names its realmId")
        params: dict[str, str | int] = {}
        if auth_event := xero_auth_event_id(access_token):
            params["authEventId"] = auth_event
        with self._http(secrets=(access_token,), client_auth=False) as http:
            body = http.get_json(
                self.app.connections_url,
                params=params,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        found = []
        for entry in body if isinstance(body, list) else []:
            if not isinstance(entry, dict) or not entry.get("tenantId"):
                continue
            # Practice Manager and other tenant types have no accounting data to sync into.
            if entry.get("tenantType", "ORGANISATION") != "ORGANISATION":
                continue
            found.append(
                LedgerOrganisation(
                    id=str(entry["tenantId"]), name=str(entry.get("tenantName") or "")
                )
            )
        return found

    def identify(self, access_token: str, organisation_id: str) -> LedgerOrganisation:
        """The organisation as the ledger names it now, proving the token reaches it.

        Xero: it must still be among `/connections`; QuickBooks: `companyinfo/{realmId}`.
        A 401 raises `ConnectorError(kind="auth")`, for the caller to refresh and retry.
        """
        if self.app.system == "xero":
            # Without the auth-event filter: a tenant connected by an earlier consent counts.
            with self._http(secrets=(access_token,), client_auth=False) as http:
                body = http.get_json(
                    self.app.connections_url,
                    headers={
                        "Authorization": f"Bearer {access_token}",
                        "Accept": "application/json",
                    },
                )
            for entry in body if isinstance(body, list) else []:
                if isinstance(entry, dict) and str(entry.get("tenantId")) == organisation_id:
                    return LedgerOrganisation(organisation_id, str(entry.get("tenantName") or ""))
            raise ConnectorError(
                ErrorKind.PERMISSION,
                "Xero no longer lists this organisation as connected to LedgerBridge.",
                hint="Someone disconnected LedgerBridge in Xero (Settings → Connected apps). "
                "Reconnect to keep syncing.",
            )
        realm = organisation_id
        url = f"{self.app.api_url.rstrip('/')}/company/{realm}/companyinfo/{realm}"
        with self._http(secrets=(access_token,), client_auth=False) as http:
            body = http.get_json(
                url,
                params={"minorversion": QBO_MINOR_VERSION},
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        info = body.get("CompanyInfo", {}) if isinstance(body, dict) else {}
        name = str(info.get("CompanyName") or info.get("LegalName") or "")
        return LedgerOrganisation(organisation_id, name)

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _http(
        self,
        *,
        secrets: Sequence[str],
        classify: Classifier | None = None,
        client_auth: bool = True,
    ) -> Iterator[VendorTransport]:
        """A transport for one call; `client_auth` sends the app's Basic credentials (token
        endpoints), otherwise the call carries its own Bearer header."""
        extra: dict[str, Any] = {}
        if self._sleep is not None:
            extra["sleep"] = self._sleep
        http = VendorTransport(
            vendor=self.vendor,
            auth=(self.app.client_id, self.app.client_secret) if client_auth else None,
            timeouts=Timeouts(connect=10.0, read=30.0, write=30.0, pool=10.0),
            retry=self._retry,
            log_hook=self._log_hook,
            detailed_logging=self._detailed_logging,
            classify=classify,
            secrets=(self.app.client_secret, *secrets),
            transport=_Borrowed(self._transport) if self._transport is not None else None,
            **extra,
        )
        with http:
            yield http


def oauth_for(system: str, **options: Any) -> LedgerOAuth:
    """The OAuth client for a ledger as configured in settings."""
    return LedgerOAuth(oauth_app(system), **options)
