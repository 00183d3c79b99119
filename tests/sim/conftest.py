"""Simulator tests run the ASGI app in-process: no ports, no sleeping."""

from collections.abc import Iterator

import httpx
import pytest

from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.state import Simulator


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
def sim_http(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=_SyncASGITransport(build_app(sim)), base_url="http://sim.test"
    ) as client:
        yield client


class _SyncASGITransport(httpx.BaseTransport):
    """Drives the async ASGI app from synchronous tests and clients."""

    def __init__(self, app: object) -> None:
        import asyncio

        self._transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            body = request.read()
            async_request = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._transport.handle_async_request(async_request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return self._loop.run_until_complete(send())

    def close(self) -> None:
        self._loop.close()
