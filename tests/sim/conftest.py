"""Simulator tests run the ASGI app in-process: no ports, no sleeping."""

from collections.abc import Iterator

import httpx
import pytest

from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.inprocess import InProcessTransport
from ledgerbridge_sim.state import Simulator


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
def sim_http(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=InProcessTransport(build_app(sim)), base_url="http://sim.test"
    ) as client:
        yield client
