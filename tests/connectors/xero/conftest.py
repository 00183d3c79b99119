"""Shared pieces for the Xero tests: documented payloads, a token holder, a request recorder."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.xero.adapter import XeroLedger
from ledgerbridge.connectors.xero.client import XeroClient
from ledgerbridge.core import clock
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.oauth import issue_tokens
from ledgerbridge_sim.organisations import DEFAULTS
from ledgerbridge_sim.state import Simulator

FIXTURES = Path(__file__).parent / "fixtures"
API_URL = "http://127.0.0.1:8900/xero/api.xro/2.0/"
TENANT_ID = "b7a3b6c2-4e1f-4a0a-9d55-2f0c5a7e9a11"

type Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def error_response(name: str) -> httpx.Response:
    case = fixture("errors.json")[name]
    headers = case.get("headers", {})
    if "body" in case:
        return httpx.Response(case["status"], headers=headers, json=_plain(case["body"]))
    return httpx.Response(case["status"], headers=headers, text=case.get("text", ""))


def _plain(value: Any) -> Any:
    """Decimals back to JSON numbers for httpx's encoder (floats are fine on the wire here)."""
    return json.loads(json.dumps(value, default=str))


def ok(body: Any) -> httpx.Response:
    return httpx.Response(
        200,
        content=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json"},
    )


class StaticTokens:
    """An `AccessTokens` that hands out a fixed list of tokens, one more per refresh."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.position = 0
        self.refreshes: list[str] = []

    def current(self) -> str:
        return self.tokens[self.position]

    def refreshed(self, rejected: str) -> str:
        self.refreshes.append(rejected)
        if self.position + 1 >= len(self.tokens):
            raise ConnectorError(
                ErrorKind.AUTH,
                "The Xero connection was revoked and needs reconnecting.",
                hint="Reconnect Xero under Company → Connections.",
            )
        if rejected == self.tokens[self.position]:
            self.position += 1
        return self.tokens[self.position]


class Recorder:
    """Answers with `handler` and keeps every request (and every wait) for the assertions."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self, tokens: StaticTokens | None = None, **kwargs: Any) -> XeroClient:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay=0.01))
        return XeroClient(
            api_url=API_URL,
            tenant_id=TENANT_ID,
            tokens=tokens or StaticTokens("access-token-1"),
            transport=httpx.MockTransport(self),
            sleep=self.sleeps.append,
            **kwargs,
        )


# -- the in-process simulator -------------------------------------------------------------

SIM_API_URL = "http://sim.test/xero/api.xro/2.0/"
SIM_NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


class Clocks:
    """LedgerBridge's clock and the simulator's, moved together; `sleep` is what clients wait on."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.slept: list[float] = []
        clock.set_now(SIM_NOW)
        sim.clock.set(SIM_NOW)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(timedelta(seconds=seconds))

    def advance(self, delta: timedelta) -> None:
        clock.advance(delta)
        self.sim.clock.advance(delta)


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
def clocks(sim: Simulator) -> Clocks:
    return Clocks(sim)


@pytest.fixture
def sim_transport(sim: Simulator) -> Iterator[InProcessTransport]:
    transport = InProcessTransport(build_app(sim))
    yield transport
    transport.close()


@pytest.fixture
def tenant_id() -> str:
    return DEFAULTS["xero"][0].id  # the Australian demo organisation


type ClientFactory = Callable[..., XeroClient]


@pytest.fixture
def make_client(
    sim: Simulator, sim_transport: InProcessTransport, clocks: Clocks, tenant_id: str
) -> Iterator[ClientFactory]:
    made: list[XeroClient] = []

    def make(tokens: StaticTokens | None = None, **kwargs: Any) -> XeroClient:
        if tokens is None:
            tokens = StaticTokens(issue_tokens(sim, "xero", (tenant_id,))["access_token"])
        kwargs.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.5))
        client = XeroClient(
            api_url=SIM_API_URL,
            tenant_id=kwargs.pop("tenant", tenant_id),
            tokens=tokens,
            transport=sim_transport,
            sleep=clocks.sleep,
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def sim_ledger(make_client: ClientFactory) -> XeroLedger:
    return XeroLedger(make_client())
