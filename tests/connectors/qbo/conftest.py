"""Shared pieces for the QuickBooks Online connector tests.

`FakeQbo` answers the few calls the unit tests need, with bodies shaped like Intuit's
documentation (fixtures/), so the client and adapter are tested against the documented API and
not only against the simulator. Tests against the simulator live in test_sim.py.
"""

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ledgerbridge.connectors.base import ConnectorError, ErrorKind
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.qbo.adapter import QboLedger
from ledgerbridge.connectors.qbo.client import QboClient
from ledgerbridge.core import clock

FIXTURES = Path(__file__).parent / "fixtures"
API_URL = "http://127.0.0.1:8900/qbo/v3/"
REALM = "9341452100000001"
NOW = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
NAME_LISTS = {"Customer", "Vendor", "Employee", "Item", "Account", "Class", "Department", "Term"}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def fixture(name: str, key: str) -> Any:
    return load(name)[key]


class StaticTokens:
    """`AccessTokens` for tests: a current token and the tokens successive refreshes return."""

    def __init__(self, token: str, *, refreshes: tuple[str, ...] = ()) -> None:
        self.token = token
        self._refreshes = list(refreshes)
        self.rejected: list[str] = []

    def current(self) -> str:
        return self.token

    def refreshed(self, rejected: str) -> str:
        self.rejected.append(rejected)
        if not self._refreshes:
            raise ConnectorError(ErrorKind.AUTH, "The QuickBooks connection needs reconnecting.")
        self.token = self._refreshes.pop(0)
        return self.token


def fault_response(body: Any, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json=json.loads(json.dumps(body, default=str)))


def fault_body(key: str) -> Any:
    return raw_fixture("faults.json", key)


class FakeQbo:
    """A tiny stand-in for one QuickBooks company: tables per entity, a little query language
    (`=`, `IN`, `AND`, STARTPOSITION/MAXRESULTS), creates with the DisplayName rule, and
    scripted answers for anything else (`script[(method, resource)]`)."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.script: dict[tuple[str, str], list[httpx.Response | Callable[..., Any]]] = {}
        self.fixed: dict[tuple[str, str], Any] = {}  # answered every time, as JSON
        self.requests: list[httpx.Request] = []
        self._next_id = 1000

    def add(self, entity: str, **record: Any) -> dict[str, Any]:
        self._next_id += 1
        record.setdefault("Id", str(self._next_id))
        record.setdefault("SyncToken", "0")
        record.setdefault("Active", True)
        self.tables.setdefault(entity, []).append(record)
        return record

    def queries(self) -> list[str]:
        return [
            parse_qs(r.url.query.decode())["query"][0]
            for r in self.requests
            if r.url.path.endswith("/query")
        ]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        resource = request.url.path.split(f"/company/{REALM}/", 1)[-1]
        scripted = self.script.get((request.method, resource))
        if scripted:
            answer = scripted.pop(0)
            return answer(request) if callable(answer) else answer
        if (request.method, resource) in self.fixed:
            return httpx.Response(200, json=self.fixed[(request.method, resource)])
        if resource == "query":
            return self._query(parse_qs(request.url.query.decode())["query"][0])
        if request.method == "POST" and resource in ("customer", "item"):
            return self._create(resource.capitalize(), json.loads(request.content))
        return httpx.Response(404, text="not scripted")

    def _query(self, statement: str) -> httpx.Response:
        match = re.fullmatch(
            r"SELECT \* FROM (\w+)(?: WHERE (.*?))?(?: ORDERBY \S+)?"
            r"(?: STARTPOSITION (\d+))?(?: MAXRESULTS (\d+))?",
            statement,
        )
        assert match, statement
        entity, where, start, size = match.groups()
        rows = list(self.tables.get(entity, []))
        conditions = where.split(" AND ") if where else []
        if entity in NAME_LISTS and not any(c.startswith("Active") for c in conditions):
            rows = [row for row in rows if row.get("Active", True)]
        for condition in conditions:
            rows = [row for row in rows if _holds(row, condition)]
        begin = int(start or 1) - 1
        page = rows[begin : begin + int(size or 100)]
        return httpx.Response(
            200, json={"QueryResponse": {entity: page} if page else {}, "time": "…"}
        )

    def _create(self, entity: str, body: dict[str, Any]) -> httpx.Response:
        name_field = "DisplayName" if entity == "Customer" else "Name"
        name = body.get(name_field, "")
        holders = ("Customer", "Vendor", "Employee") if entity == "Customer" else (entity,)
        for holder in holders:
            if any(
                row.get(name_field, "").lower() == name.lower()
                for row in self.tables.get(holder, [])
            ):
                return fault_response(fault_body("duplicate_name"))
        record = self.add(entity, **body)
        return httpx.Response(200, json={entity: record, "time": "…"})


def _holds(row: dict[str, Any], condition: str) -> bool:
    parsed = re.fullmatch(r"(\S+) (=|IN|>) (.*)", condition)
    assert parsed, condition
    field, op, value = parsed.groups()
    actual: Any = row
    for part in field.split("."):
        actual = actual.get(part) if isinstance(actual, dict) else None
    if isinstance(actual, dict):
        actual = actual.get("value")
    if field == "Active":
        return True  # `Active IN (true, false)`
    if op == ">":
        moment = datetime.fromisoformat(value.strip("'"))
        return actual is not None and datetime.fromisoformat(str(actual)) > moment
    wanted = [v.replace("\\'", "'") for v in re.findall(r"'((?:\\.|[^'\\])*)'", value)]
    return str(actual) in wanted


class Clocks:
    """LedgerBridge's clock (and the simulator's, when given), moved by the client's sleep."""

    def __init__(self, sim: Any = None) -> None:
        self.sim = sim
        self.slept: list[float] = []
        clock.set_now(NOW)
        if sim is not None:
            sim.clock.set(NOW)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        if self.sim is not None:
            self.sim.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def clocks() -> Iterator[Clocks]:
    yield Clocks()
    clock.set_now(None)


@pytest.fixture
def fake() -> FakeQbo:
    return FakeQbo()


@pytest.fixture
def tokens() -> StaticTokens:
    return StaticTokens("access-1", refreshes=("access-2",))


@pytest.fixture
def client(fake: FakeQbo, tokens: StaticTokens, clocks: Clocks) -> Iterator[QboClient]:
    made = QboClient(
        api_url=API_URL,
        realm_id=REALM,
        tokens=tokens,
        transport=httpx.MockTransport(fake.handler),
        sleep=clocks.sleep,
        retry=RetryPolicy(max_attempts=3, base_delay=0.5),
    )
    yield made
    made.close()


@pytest.fixture
def ledger(client: QboClient, fake: FakeQbo) -> QboLedger:
    fake.fixed[("GET", "preferences")] = raw_fixture("documents.json", "preferences")
    return QboLedger(client)


def raw_fixture(name: str, key: str) -> Any:
    """A fixture as plain JSON (floats), for a fake response body."""
    return json.loads((FIXTURES / name).read_text())[key]
