"""The control API under /_sim/: reset, seed, read state, plan faults, move the clock, requests.

This is the contract tests and the demo rely on; keep it stable.

OAuth (systems `xero` and `qbo`):
- `POST /_sim/oauth/{system}/grant` — scripted consent, as if the user clicked Allow. Optional
  JSON body `{"client_id", "redirect_uri", "organisation_ids": [...], "scope", "state"}`
  (defaults: the demo app, the first registered or a 127.0.0.1 redirect URI, the first
  organisation, the usual scopes) → 201 `{"code", "state", "redirect_uri"}` plus `"realmId"`
  for QuickBooks; 400 `{"error": reason}` for an unknown client, redirect URI or organisation.
- `POST /_sim/oauth/{system}/revoke-all` — the user disconnects the app. Optional body
  `{"client_id", "organisation_id"}` narrows it; with no organisation every matching consent is
  revoked (its tokens then fail); with one, Xero drops that tenant's connection and QuickBooks
  revokes that company's consents → 200 `{"revoked": n, "disconnected": n}`.
"""

from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledgerbridge_sim import jsonio, oauth
from ledgerbridge_sim.autotask import app as autotask
from ledgerbridge_sim.connectwise import app as connectwise
from ledgerbridge_sim.qbo import app as qbo
from ledgerbridge_sim.state import Fault, Simulator
from ledgerbridge_sim.xero import app as xero

SEEDERS = {"connectwise": connectwise, "autotask": autotask, "xero": xero, "qbo": qbo}


def build_app(sim: Simulator) -> Starlette:
    async def reset(request: Request) -> JSONResponse:
        sim.reset()
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> JSONResponse:
        body = await request.json()
        created: dict[str, Any] = {}
        with sim.lock:
            if "generate" in body:
                spec = body["generate"]
                system = spec.get("system")
                if system not in SEEDERS:
                    return _error(400, f"generate.system must be one of {sorted(SEEDERS)}")
                created[system] = SEEDERS[system].generate(
                    sim, invoices=int(spec.get("invoices", 20)), seed=int(spec.get("seed", 1))
                )
            for system, records in body.items():
                if system == "generate":
                    continue
                if system not in SEEDERS:
                    return _error(400, f"unknown system {system!r}")
                created[system] = SEEDERS[system].seed(sim, records)
        return JSONResponse({"created": created})

    async def state(request: Request) -> Response:
        system = request.path_params["system"]
        if system not in sim.systems:
            return _error(404, f"unknown system {system!r}")
        with sim.lock:
            rows = list(sim.system(system).collection(request.path_params["collection"]).values())
            # Simulated money is Decimal; write it as JSON numbers, never through float.
            payload = jsonio.dumps({"count": len(rows), "records": rows})
        return Response(payload, media_type="application/json")

    async def faults(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            with sim.lock:
                sim.faults.clear()
            return JSONResponse({"faults": []})
        if request.method == "POST":
            body = await request.json()
            specs = body if isinstance(body, list) else [body]
            try:
                added = [sim.add_fault(Fault(**spec)) for spec in specs]
            except TypeError as error:
                return _error(400, f"bad fault: {error}")
            return JSONResponse({"faults": [vars(f) for f in added]}, status_code=201)
        with sim.lock:
            return JSONResponse({"faults": [vars(f) for f in sim.faults]})

    async def clock(request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await request.json()
            if "set" in body:
                sim.clock.set(datetime.fromisoformat(body["set"]), frozen=body.get("frozen", True))
            if "advance_seconds" in body:
                sim.clock.advance(timedelta(seconds=float(body["advance_seconds"])))
        return JSONResponse({"now": sim.clock.now().isoformat()})

    async def requests(request: Request) -> JSONResponse:
        system = request.query_params.get("system")
        with sim.lock:
            log = [
                {
                    "system": r.system,
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "at": r.at.isoformat(),
                }
                for r in sim.requests
                if system in (None, r.system)
            ]
        return JSONResponse(
            {"count": len(log), "counts": dict(sim.request_counts(system)), "requests": log}
        )

    async def oauth_body(request: Request) -> dict[str, Any] | JSONResponse:
        """The optional JSON object an /oauth/ control call carries, or the 400/404 to answer."""
        if request.path_params["system"] not in ("xero", "qbo"):
            return _error(404, f"no OAuth simulator for {request.path_params['system']!r}")
        raw = await request.body()
        try:
            body = jsonio.loads(raw) if raw.strip() else {}
        except ValueError:
            return _error(400, "the body must be a JSON object")
        return body if isinstance(body, dict) else _error(400, "the body must be a JSON object")

    async def oauth_grant(request: Request) -> JSONResponse:
        body = await oauth_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            granted = oauth.grant_code(sim, request.path_params["system"], body)
        except ValueError as refused:
            return _error(400, str(refused))
        return JSONResponse(granted, status_code=201)

    async def oauth_revoke_all(request: Request) -> JSONResponse:
        body = await oauth_body(request)
        if isinstance(body, JSONResponse):
            return body
        revoked = oauth.revoke_all(
            sim,
            request.path_params["system"],
            client_id=body.get("client_id"),
            organisation_id=body.get("organisation_id"),
        )
        return JSONResponse(revoked)

    return Starlette(
        routes=[
            Route("/oauth/{system}/grant", oauth_grant, methods=["POST"]),
            Route("/oauth/{system}/revoke-all", oauth_revoke_all, methods=["POST"]),
            Route("/reset", reset, methods=["POST"]),
            Route("/seed", seed, methods=["POST"]),
            Route("/state/{system}/{collection}", state, methods=["GET"]),
            Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/clock", clock, methods=["GET", "POST"]),
            Route("/requests", requests, methods=["GET"]),
        ]
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
