"""The ConnectWise PSA simulator, mounted at /connectwise.

`GET /login/companyinfo/{companyId}` (no auth) names the tenant's codebase; every other call is
`/{codebase}apis/3.0/{area}/{entity}…` with the tenant's codebase or the `v4_6_release/` alias,
matched without regard to case. See auth.py for credentials and limits, listing.py for paging,
conditions.py for the query language, accounting.py for the GL interface state machine.

Knobs in `sim.settings["connectwise"]`: `capacity_per_minute`, `window_seconds` (auth.py),
`open_share` (data.py), `max_url_length` (off unless set: longer URLs answer 414). In
`sim.system("connectwise").extra`: credentials and security roles (auth.py), `codebase`
(default v2025_1/; change it to simulate a cloud upgrade), `api_version`, `href_base`.
"""

import re
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerbridge_sim import jsonio
from ledgerbridge_sim.connectwise import accounting, auth, data, finance, resources
from ledgerbridge_sim.connectwise.errors import CwError
from ledgerbridge_sim.connectwise.http import SYSTEM, Call, Reply, Router
from ledgerbridge_sim.state import Simulator, SystemState

DEFAULT_CODEBASE = "v2025_1/"
ALIAS_CODEBASE = "v4_6_release/"
API_VERSION = "2025.1"
_API_PATH = re.compile(r"^/(?P<codebase>[^/]+/)apis/3\.0/(?P<rest>.*)$", re.IGNORECASE)
_COMPANY_INFO = re.compile(r"^/login/companyinfo/(?P<company>[^/]+)/?$", re.IGNORECASE)


def codebase(state: SystemState) -> str:
    return str(state.extra.get("codebase", DEFAULT_CODEBASE))


def company_info(state: SystemState, company: str) -> dict[str, Any] | None:
    """The codebase discovery answer, or None (JSON null, HTTP 200) for an unknown company."""
    found = auth.known_companies(state).get(company.lower())
    if found is None:
        return None
    current = codebase(state)
    version = current.strip("/").lstrip("v").replace("_", ".")
    return {
        "CompanyName": str(state.extra.get("company_name", "Demo MSP")),
        "Codebase": current,
        "VersionCode": f"v{version}",
        "VersionNumber": f"v4.6.{state.extra.get('build', 102113)}",
        "CompanyID": found,
        "IsCloud": bool(state.extra.get("is_cloud", True)),
    }


def _router() -> Router:
    router = Router()
    resources.register(router)
    finance.register(router)
    accounting.register(router)
    return router


def build_app(sim: Simulator) -> Starlette:
    router = _router()

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        with sim.lock:
            return _serve(sim, router, request, body)

    return Starlette(
        routes=[
            Route(
                "/{rest:path}",
                endpoint,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            )
        ]
    )


def _serve(sim: Simulator, router: Router, request: Request, body: bytes) -> Response:
    state = sim.system(SYSTEM)
    path = request.scope["path"]
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    headers = {
        "api-current-version": str(state.extra.get("api_version", API_VERSION)),
        "x-cw-request-id": str(uuid.uuid4()),
        "x-server-name": "sim-cw-01",
    }
    try:
        info = _COMPANY_INFO.match(path)
        if info is not None and request.method == "GET":
            return _respond(Reply(200, company_info(state, info.group("company"))), headers)
        match = _API_PATH.match(path)
        if match is None or match.group("codebase").lower() not in (
            codebase(state).lower(),
            ALIAS_CODEBASE,
        ):
            raise CwError(404, "NotFound", f"No API at {path}; read login/companyinfo first.")
        url_limit = sim.settings.get(SYSTEM, {}).get("max_url_length")
        if url_limit and len(str(request.url)) > int(url_limit):
            # [U] off by default: clients should split long `in (…)` lists below ~2000 chars.
            raise CwError(
                414, "RequestUriTooLong", f"The URL is longer than {url_limit} characters."
            )
        client_id = auth.check_client_id(state, request.headers)
        credential = auth.authenticate(state, request.headers)
        auth.take_capacity(sim, client_id)
        route, params = router.match(request.method, match.group("rest"))
        member = auth.member_for(state, credential)
        auth.check_permission(state, credential, member, route.permission, route.level)
        call = Call(
            sim=sim,
            method=request.method,
            path=match.group("rest"),
            url=request.url,
            query=request.query_params,
            headers=request.headers,
            raw_body=body,
            member=member,
            path_params=params,
        )
        return _respond(route.handler(call), headers)
    except CwError as error:
        return _respond(Reply(error.status, error.body(), error.headers), headers)


def _respond(reply: Reply, headers: dict[str, str]) -> Response:
    merged = {**headers, **reply.headers}
    if reply.status == 204:
        return Response(status_code=204, headers=merged)
    return Response(
        jsonio.dumps(reply.body),
        status_code=reply.status,
        headers=merged,
        media_type="application/json; charset=utf-8",
    )


def seed(sim: Simulator, records: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Insert explicit records: collection name → list of vendor-shaped records."""
    return data.seed(sim, records)


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, int]:
    """Generate realistic MSP data; returns how many records of each kind were made."""
    return data.generate(sim, invoices=invoices, seed=seed)
