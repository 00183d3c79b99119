"""Talk to the simulators without a port: a synchronous httpx transport over the ASGI app.

Tests, benchmarks and the demo hand `InProcessTransport(build_app(sim))` to a client in place of
the network. A response the simulator drops after committing a write reaches the client as
`httpx.RemoteProtocolError`, exactly what a broken socket looks like.
"""

import asyncio

import httpx
from starlette.types import ASGIApp

from ledgerbridge_sim.app import ResponseDroppedError


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=request.read()
            )
            response = await self._transport.handle_async_request(forwarded)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        try:
            return self._loop.run_until_complete(send())
        except ResponseDroppedError as error:
            raise httpx.RemoteProtocolError(str(error), request=request) from error

    def close(self) -> None:
        self._loop.close()
