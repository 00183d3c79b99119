"""The vendor simulators served in this process (uvicorn in a thread), and a client for each.

The demo runs two simulator instances: the main one on the requested port holds the ledgers
(Xero, QuickBooks Online) and the first PSA databases; the second, on any free port, holds a
second ConnectWise and a second Autotask database (one of each per instance), so four
companies each read their own PSA data and nothing is shared by accident.
"""

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from ledgerbridge_sim import jsonio
from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.state import Simulator

START_TIMEOUT_SECONDS = 15.0


class SimulatorStartError(Exception):
    """The simulator could not listen (port taken) or did not come up."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `port`, or on a free one when `port` is 0."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SimulatorStartError(f"Port {port} on {host} is taken ({error.strerror}).") from None
    sock.listen(128)
    return sock


@dataclass
class SimulatorServer:
    """One `Simulator` behind uvicorn on 127.0.0.1, running until `stop()`."""

    name: str
    sim: Simulator = field(default_factory=Simulator)
    host: str = "127.0.0.1"
    port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, port: int = 0) -> "SimulatorServer":
        sock = bind(self.host, port)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            build_app(self.sim), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"simulator-{self.name}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SimulatorStartError(f"The {self.name} simulator did not start.")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def control(self) -> "SimulatorControl":
        return SimulatorControl(self.url)


class SimulatorControl:
    """The documented `/_sim/` control API over HTTP: the contract the demo relies on."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=60.0)

    def close(self) -> None:
        self._http.close()

    def seed(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._http.post("/_sim/seed", content=jsonio.dumps(body))
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()["created"]
        return created

    def generate(self, system: str, *, invoices: int, seed: int) -> dict[str, Any]:
        spec = {"system": system, "invoices": invoices, "seed": seed}
        return self.seed({"generate": spec})

    def state(self, system: str, collection: str) -> list[dict[str, Any]]:
        answer = self._http.get(f"/_sim/state/{system}/{collection}")
        answer.raise_for_status()
        # Decimal-exact: money in the simulators' records never passes through float.
        records: list[dict[str, Any]] = jsonio.loads(answer.content)["records"]
        return records

    def grant(self, system: str, spec: dict[str, Any]) -> dict[str, Any]:
        answer = self._http.post(f"/_sim/oauth/{system}/grant", content=jsonio.dumps(spec))
        if answer.status_code != 201:
            raise SimulatorStartError(f"The {system} simulator refused consent: {answer.text}")
        granted: dict[str, Any] = answer.json()
        return granted

    def request_counts(self) -> dict[str, int]:
        """Calls per system, from the simulator's request log."""
        answer = self._http.get("/_sim/requests")
        answer.raise_for_status()
        counts: dict[str, int] = {}
        for entry in answer.json()["requests"]:
            counts[entry["system"]] = counts.get(entry["system"], 0) + 1
        return counts
