"""Assembles the simulators: one ASGI app, each system under its prefix, control under /_sim/."""

import asyncio
import json
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerbridge_sim import control, oauth
from ledgerbridge_sim.autotask import app as autotask
from ledgerbridge_sim.connectwise import app as connectwise
from ledgerbridge_sim.qbo import app as qbo
from ledgerbridge_sim.state import Simulator
from ledgerbridge_sim.xero import app as xero


class ResponseDroppedError(Exception):
    """Raised after a committed write whose response the fault says to lose."""


class SystemMiddleware:
    """Applies planned faults and logs every request of one system."""

    def __init__(self, app: ASGIApp, sim: Simulator, system: str) -> None:
        self.app, self.sim, self.system = app, sim, system

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        fault = self.sim.take_fault(self.system, method, path)
        status_seen: list[int] = []

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
            await send(message)

        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            await _send_json(send, fault.status, fault.body, fault.headers)
            self.sim.log_request(self.system, method, path, fault.status)
            return
        if fault is not None and fault.drop_after_commit:

            async def swallow(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_seen.append(message["status"])

            await self.app(scope, receive, swallow)
            self.sim.log_request(self.system, method, path, status_seen[0] if status_seen else 0)
            # The write happened; the caller sees a connection that breaks mid-response.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"100000")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ResponseDroppedError(f"{method} {path}: response dropped after commit")
        await self.app(scope, receive, recording_send)
        self.sim.log_request(self.system, method, path, status_seen[0] if status_seen else 0)


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    payload = json.dumps(body if body is not None else {"message": "Simulated fault"}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def _ledger_app(sim: Simulator, system: str, api: Any) -> Starlette:
    """A ledger's OAuth endpoints first, then its API."""
    return Starlette(routes=[*oauth.routes(sim, system), Mount("", app=api.build_app(sim))])


def build_app(sim: Simulator | None = None) -> Starlette:
    sim = sim or Simulator()
    app = Starlette(
        routes=[
            Mount("/_sim", app=control.build_app(sim)),
            Mount(
                "/connectwise", app=SystemMiddleware(connectwise.build_app(sim), sim, "connectwise")
            ),
            Mount("/autotask", app=SystemMiddleware(autotask.build_app(sim), sim, "autotask")),
            Mount("/xero", app=SystemMiddleware(_ledger_app(sim, "xero", xero), sim, "xero")),
            Mount("/qbo", app=SystemMiddleware(_ledger_app(sim, "qbo", qbo), sim, "qbo")),
        ]
    )
    app.state.sim = sim
    return app
