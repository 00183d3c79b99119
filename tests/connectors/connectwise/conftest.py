"""A scripted ConnectWise (httpx.MockTransport) and example payloads from the vendor docs.

The fixtures under fixtures/ are reconstructed from ConnectWise's documented shapes (psa-apis
§1): field names and value styles as the API emits them, money as JSON numbers, one invoice
widened to two lines (one with a 7-decimal quantity and a long product id) to cover odd but real
cases.
"""

import json
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.connectwise.client import ConnectWiseClient
from ledgerbridge.connectors.http import RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "http://127.0.0.1:8900/connectwise"
API = "/v2024_1/apis/3.0/"
SITE_PATH = "/connectwise"  # the simulator serves ConnectWise under this prefix

type Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def payload(name: str) -> Any:
    """A fixture as it travels: parsed, so it can be handed to httpx.Response(json=...)."""
    return json.loads((FIXTURES / name).read_text())


class FakeConnectWise:
    """Answers by (method, path under apis/3.0/); `login/companyinfo/…` by its own route.

    Each route takes a list of answers, used in turn; the last one repeats.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []
        self.on(
            "GET",
            "login/companyinfo/acmemsp",
            httpx.Response(200, json=payload("companyinfo.json")),
        )

    def on(self, method: str, path: str, *answers: Answer) -> "FakeConnectWise":
        self.routes[(method, path.lower())] = list(answers)
        return self

    def json(
        self, method: str, path: str, body: Any, status: int = 200, **headers: str
    ) -> "FakeConnectWise":
        return self.on(method, path, httpx.Response(status, json=body, headers=headers))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        marker = path.lower().find("/apis/3.0/")
        login = path.lower().find("/login/")
        if marker >= 0:
            key = path[marker + len("/apis/3.0/") :]
        elif login >= 0:  # the site may sit under a path prefix (the simulator's /connectwise)
            key = path[login + 1 :]
        else:
            key = path.lstrip("/")
        answers = self.routes.get((request.method, key.lower()))
        if answers is None:
            return httpx.Response(404, json={"code": "NotFound", "message": f"no route {key}"})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.method == method and r.url.path.lower().endswith(path.lower())
        ]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> FakeConnectWise:
    return FakeConnectWise()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(fake: FakeConnectWise, sleeps: Sleeps) -> Callable[..., ConnectWiseClient]:
    def make(**overrides: Any) -> ConnectWiseClient:
        options: dict[str, Any] = {
            "site": SITE,
            "company_id": "acmemsp",
            "public_key": "PUBKEY1234",
            "private_key": "PRIVKEY5678",
            "client_id": "7f0d3c1e-9d0a-4c55-8a41-2c1b0f5e9a77",
            "transport": httpx.MockTransport(fake),
            "sleep": sleeps,
            "rng": random.Random(1),
            "retry": RetryPolicy(max_attempts=3),
        }
        return ConnectWiseClient(**{**options, **overrides})

    return make
