"""The OAuth HTTP endpoints, at the vendors' paths under each system's prefix.

Xero (`/xero`): `GET|POST /identity/connect/authorize` (consent page and its form),
`POST /identity/connect/token`, `POST /identity/connect/revocation`,
`GET /identity/.well-known/openid-configuration`, `GET /connections`, `DELETE /connections/{id}`.

QuickBooks (`/qbo`): `GET|POST /connect/oauth2`, `POST /oauth2/v1/tokens/bearer`,
`POST /oauth2/v1/tokens/revoke`, `GET /.well-known/openid_configuration`,
`GET /v1/openid_connect/userinfo`, `GET /op/v1/jwks`.
"""

import base64
import hmac
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ledgerbridge_sim import jsonio, organisations
from ledgerbridge_sim.oauth import store, tokens
from ledgerbridge_sim.oauth.consent import ConsentRequest, page, refusal_page
from ledgerbridge_sim.oauth.store import OAuthError
from ledgerbridge_sim.state import Simulator

Handler = Callable[[Request], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


# --- helpers ---------------------------------------------------------------------------------


def root_url(request: Request) -> str:
    """This system's own base URL as the caller reached it (scheme, host and prefix)."""
    host = request.headers.get("host", request.url.netloc)
    return f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}"


def issuer(request: Request, system: str) -> str:
    return f"{root_url(request)}/identity" if system == "xero" else f"{root_url(request)}/op/v1"


async def form_fields(request: Request) -> dict[str, list[str]]:
    """An `application/x-www-form-urlencoded` body (the simulator carries no multipart parser)."""
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError as error:
        raise OAuthError("invalid_request", "The body is not UTF-8 form data.") from error
    return parse_qs(text, keep_blank_values=True)


def first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def oauth_error_response(error: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def client_from_basic_auth(sim: Simulator, system: str, header: str | None) -> str:
    """The client id whose Basic credentials came with the request, or invalid_client (401)."""
    refused = OAuthError("invalid_client", "Client authentication failed.", status=401)
    if not header or not header.lower().startswith("basic "):
        raise refused
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise refused from error
    raw_id, separator, raw_secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both halves are form-encoded before they are joined.
    client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    with sim.lock:
        expected = store.clients(sim, system).get(client_id)
    if not separator or expected is None or not hmac.compare_digest(expected, secret):
        raise refused
    return client_id


def redirect_with(redirect_uri: str, params: dict[str, str | None]) -> RedirectResponse:
    """302 to the app's redirect URI with `params` added to any query it already has."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def xero_problem(status: int, title: str, detail: str) -> JSONResponse:
    """Xero's problem-details body (accounting-apis.md §1.7)."""
    body: dict[str, Any] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    headers = {"WWW-Authenticate": "Bearer error=invalid_token"} if status == 401 else {}
    return JSONResponse(body, status_code=status, headers=headers)


def xero_moment(moment: datetime) -> str:
    """Xero identity dates: UTC, seven fractional digits, no offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


# --- authorize: the consent page -------------------------------------------------------------


def _consent_request(
    sim: Simulator, system: str, fields: dict[str, list[str]]
) -> tuple[ConsentRequest | None, Response | None]:
    """The checked request, or the response that refuses it (a page or an error redirect)."""
    client_id, redirect_uri = first(fields, "client_id"), first(fields, "redirect_uri")
    state = fields["state"][0] if "state" in fields else None
    with sim.lock:
        known_client = client_id in store.clients(sim, system)
        redirect_ok = store.redirect_uri_allowed(sim, system, redirect_uri)
    # Never redirect to a URI the app has not registered (RFC 6749 §4.1.2.1): show a page.
    if not known_client:
        return None, HTMLResponse(refusal_page(system, "Unknown client_id."), status_code=400)
    if not redirect_ok:
        message = "The redirect_uri is not registered for this app."
        return None, HTMLResponse(refusal_page(system, message), status_code=400)
    if first(fields, "response_type") != "code":
        params = {"error": "unsupported_response_type", "state": state}
        return None, redirect_with(redirect_uri, params)
    try:
        scopes = store.parse_scopes(system, first(fields, "scope"))
    except OAuthError as error:
        params = {"error": error.error, "error_description": error.description, "state": state}
        return None, redirect_with(redirect_uri, params)
    return ConsentRequest(system, client_id, redirect_uri, scopes, state), None


def authorize(sim: Simulator, system: str) -> Handler:
    async def handle(request: Request) -> Response:
        if request.method == "GET":
            fields = {key: request.query_params.getlist(key) for key in request.query_params}
        else:
            try:
                fields = await form_fields(request)
            except OAuthError as error:
                return HTMLResponse(refusal_page(system, error.description), status_code=400)
        asked, refusal = _consent_request(sim, system, fields)
        if refusal is not None:
            return refusal
        assert asked is not None
        offered = organisations.listed(sim, system)
        with sim.lock:
            app_name = store.app_name(sim, system)

        def render(problem: str = "", chosen: tuple[str, ...] = ()) -> HTMLResponse:
            html = page(
                asked,
                app_name=app_name,
                action=request.url.path,
                offered=offered,
                chosen=chosen,
                problem=problem,
            )
            return HTMLResponse(html, status_code=400 if problem else 200)

        if request.method == "GET":
            return render()
        if first(fields, "decision") != "allow":
            return redirect_with(
                asked.redirect_uri, {"error": "access_denied", "state": asked.state}
            )
        known = {org.id for org in offered}
        chosen = tuple(dict.fromkeys(oid for oid in fields.get("organisation", []) if oid in known))
        if not chosen:
            return render("Choose an organisation to connect.")
        if system == "qbo" and len(chosen) != 1:
            return render("Choose one company.", chosen)
        with sim.lock:
            consent = store.give_consent(sim, system, asked.client_id, asked.scopes, chosen)
            code = store.new_code(sim, system, consent, asked.redirect_uri)
        params: dict[str, str | None] = {"code": code, "state": asked.state}
        if system == "qbo":
            params["realmId"] = chosen[0]
        return redirect_with(asked.redirect_uri, params)

    return handle


# --- token and revocation --------------------------------------------------------------------


def token(sim: Simulator, system: str) -> Handler:
    async def handle(request: Request) -> Response:
        try:
            client_id = client_from_basic_auth(sim, system, request.headers.get("authorization"))
            fields = await form_fields(request)
            grant_type = first(fields, "grant_type")
            with sim.lock:
                if grant_type == "authorization_code":
                    code, redirect_uri = first(fields, "code"), first(fields, "redirect_uri")
                    if not code or not redirect_uri:
                        raise OAuthError("invalid_request", "code and redirect_uri are required.")
                    consent = store.redeem_code(sim, system, code, client_id, redirect_uri)
                    answer = tokens.first_tokens(
                        sim, system, consent, issuer=issuer(request, system)
                    )
                elif grant_type == "refresh_token":
                    refresh_token = first(fields, "refresh_token")
                    if not refresh_token:
                        raise OAuthError("invalid_request", "refresh_token is required.")
                    answer = tokens.refreshed_tokens(
                        sim, system, refresh_token, client_id, issuer=issuer(request, system)
                    )
                elif not grant_type:
                    raise OAuthError("invalid_request", "grant_type is required.")
                else:
                    raise OAuthError("unsupported_grant_type")
        except OAuthError as error:
            return oauth_error_response(error)
        return JSONResponse(answer, headers=NO_STORE)

    return handle


def revoke_token(sim: Simulator, system: str, client_id: str, token_value: str) -> None:
    """Revoke the consent behind a refresh (or access) token the client holds (RFC 7009).

    An unknown or foreign token is not an error: the answer is the same 200 either way.
    """
    with sim.lock:
        kept = store.store(sim, system)
        held = kept.refresh_tokens.get(token_value) or kept.access_tokens.get(token_value)
        if held is None:
            return
        consent = kept.consents[held.consent_id]
        if consent.client_id == client_id:
            store.revoke_consent(sim, system, consent)


def revocation(sim: Simulator, system: str) -> Handler:
    async def handle(request: Request) -> Response:
        try:
            client_id = client_from_basic_auth(sim, system, request.headers.get("authorization"))
            content_type = request.headers.get("content-type", "")
            if system == "qbo" and content_type.startswith("application/json"):
                # Intuit's client sends `{"token": …}` as JSON; a form body works too.
                try:
                    body = jsonio.loads(await request.body())
                except ValueError as error:
                    raise OAuthError("invalid_request", "The body is not JSON.") from error
                token_value = str(body.get("token") or "") if isinstance(body, dict) else ""
            else:
                token_value = first(await form_fields(request), "token")
            if not token_value:
                raise OAuthError("invalid_request", "token is required.")
        except OAuthError as error:
            return oauth_error_response(error)
        revoke_token(sim, system, client_id, token_value)
        return Response(status_code=200, headers=NO_STORE)

    return handle


# --- Xero connections ------------------------------------------------------------------------


def _xero_bearer(sim: Simulator, request: Request) -> tuple[store.Consent | None, Response | None]:
    presented = bearer_token(request)
    with sim.lock:
        kept = store.store(sim, "xero")
        found = kept.access_tokens.get(presented) if presented else None
        live = store.live_access_token(sim, "xero", presented) if presented else None
    if live is not None:
        return live[1], None
    if found is not None and found.expires_at <= sim.clock.now():
        detail = f"TokenExpired: token expired at {found.expires_at:%m/%d/%Y %H:%M:%S}"
        return None, xero_problem(401, "Unauthorized", detail)
    return None, xero_problem(401, "Unauthorized", "AuthenticationUnsuccessful")


def connections(sim: Simulator) -> Handler:
    async def handle(request: Request) -> Response:
        consent, refusal = _xero_bearer(sim, request)
        if refusal is not None:
            return refusal
        assert consent is not None
        wanted_event = request.query_params.get("authEventId")
        listed = []
        with sim.lock:
            kept = store.store(sim, "xero")
            links = sorted(kept.connections.values(), key=lambda link: link.created_at)
            for link in links:
                if link.client_id != consent.client_id:
                    continue
                if wanted_event and link.auth_event_id != wanted_event:
                    continue
                org = organisations.get(sim, "xero", link.tenant_id)
                listed.append(
                    {
                        "id": link.id,
                        "authEventId": link.auth_event_id,
                        "tenantId": link.tenant_id,
                        "tenantType": "ORGANISATION",
                        "tenantName": org.name if org else "",
                        "createdDateUtc": xero_moment(link.created_at),
                        "updatedDateUtc": xero_moment(link.updated_at),
                    }
                )
        return JSONResponse(listed)

    return handle


def disconnect(sim: Simulator) -> Handler:
    async def handle(request: Request) -> Response:
        consent, refusal = _xero_bearer(sim, request)
        if refusal is not None:
            return refusal
        assert consent is not None
        with sim.lock:
            kept = store.store(sim, "xero")
            link = kept.connections.get(request.path_params["connection_id"])
            if link is None or link.client_id != consent.client_id:
                return xero_problem(404, "Not Found", "The connection was not found.")
            del kept.connections[link.id]
        return Response(status_code=204)

    return handle


# --- discovery and user info -----------------------------------------------------------------


def discovery(sim: Simulator, system: str) -> Handler:
    async def handle(request: Request) -> Response:
        root = root_url(request)
        scopes = sorted(store.SCOPES[system])
        if system == "xero":
            endpoints = {
                "issuer": issuer(request, system),
                "authorization_endpoint": f"{root}/identity/connect/authorize",
                "token_endpoint": f"{root}/identity/connect/token",
                "revocation_endpoint": f"{root}/identity/connect/revocation",
            }
        else:
            endpoints = {
                "issuer": issuer(request, system),
                "authorization_endpoint": f"{root}/connect/oauth2",
                "token_endpoint": f"{root}/oauth2/v1/tokens/bearer",
                "userinfo_endpoint": f"{root}/v1/openid_connect/userinfo",
                "revocation_endpoint": f"{root}/oauth2/v1/tokens/revoke",
                "jwks_uri": f"{root}/op/v1/jwks",
            }
        document: dict[str, Any] = endpoints | {
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["HS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "scopes_supported": scopes,
        }
        return JSONResponse(document)

    return handle


def userinfo(sim: Simulator) -> Handler:
    async def handle(request: Request) -> Response:
        presented = bearer_token(request)
        with sim.lock:
            live = store.live_access_token(sim, "qbo", presented) if presented else None
        if live is None:
            headers = {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'}
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers=headers)
        consent = live[1]
        if "openid" not in consent.scopes:
            return JSONResponse({"error": "insufficient_scope"}, status_code=403)
        user = store.SIMULATED_USER
        answer: dict[str, Any] = {"sub": user["id"]}
        if "email" in consent.scopes:
            answer |= {"email": user["email"], "emailVerified": True}
        if "profile" in consent.scopes:
            answer |= {"givenName": user["given_name"], "familyName": user["family_name"]}
        return JSONResponse(answer)

    return handle


async def empty_key_set(request: Request) -> Response:
    # The simulator signs id tokens with the client secret (HS256), so it publishes no keys.
    return JSONResponse({"keys": []})


def routes(sim: Simulator, system: str) -> list[BaseRoute]:
    if system == "xero":
        return [
            Route("/identity/connect/authorize", authorize(sim, system), methods=["GET", "POST"]),
            Route("/identity/connect/token", token(sim, system), methods=["POST"]),
            Route("/identity/connect/revocation", revocation(sim, system), methods=["POST"]),
            Route(
                "/identity/.well-known/openid-configuration",
                discovery(sim, system),
                methods=["GET"],
            ),
            Route("/connections", connections(sim), methods=["GET"]),
            Route("/connections/{connection_id}", disconnect(sim), methods=["DELETE"]),
        ]
    if system == "qbo":
        return [
            Route("/connect/oauth2", authorize(sim, system), methods=["GET", "POST"]),
            Route("/oauth2/v1/tokens/bearer", token(sim, system), methods=["POST"]),
            Route("/oauth2/v1/tokens/revoke", revocation(sim, system), methods=["POST"]),
            Route("/.well-known/openid_configuration", discovery(sim, system), methods=["GET"]),
            Route("/.well-known/openid_configuration/", discovery(sim, system), methods=["GET"]),
            Route("/v1/openid_connect/userinfo", userinfo(sim), methods=["GET"]),
            Route("/op/v1/jwks", empty_key_set, methods=["GET"]),
        ]
    return []
