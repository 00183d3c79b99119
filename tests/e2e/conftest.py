"""Browser-test fixtures shared by the end-to-end tests."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from ledgerbridge_sim.app import build_app
from ledgerbridge_sim.state import Simulator


@pytest.fixture
def simulator_url() -> Iterator[str]:
    """The simulators served by uvicorn on a free 127.0.0.1 port, in a thread of this process."""
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_app(Simulator()), lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    # A real server starting in a thread: waiting on the wall clock is the point here.
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
