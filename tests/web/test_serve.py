"""`ledgerbridge serve` really serves: granian, WhiteNoise, the login page, in a fresh home."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import embedded_defaults_env

LEDGERBRIDGE = str(Path(sys.executable).with_name("ledgerbridge"))
START_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = embedded_defaults_env(tmp_path)
    subprocess.run([LEDGERBRIDGE, "migrate", "--no-input", "-v0"], env=env, check=True, timeout=120)
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        # Its own session, so the granian workers go down with it.
        process = subprocess.Popen(
            [LEDGERBRIDGE, "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def _wait_for(url: str, log: Path) -> httpx.Response:
    # A real server in another process: waiting on the wall clock is the point here.
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer in {START_TIMEOUT_SECONDS} s:\n{log.read_text()}")


@pytest.mark.slow
def test_serve_answers_the_login_page_and_its_css(server: tuple[str, Path]) -> None:
    base, log = server
    login = _wait_for(f"{base}/accounts/login/", log)
    assert login.status_code == 200, log.read_text()
    assert 'name="password"' in login.text
    assert login.headers["X-Request-ID"]

    home = httpx.get(f"{base}/", timeout=5)
    assert home.status_code == 302
    assert home.headers["Location"].startswith("/accounts/login/")

    # The page links the fingerprinted file from collectstatic's manifest ...
    linked = re.search(r'href="(/static/web/ledgerbridge\.[0-9a-f]{12}\.css)"', login.text)
    assert linked, login.text
    for path in (linked.group(1), "/static/web/ledgerbridge.css"):  # ... and the plain name works
        css = httpx.get(f"{base}{path}", timeout=5)
        assert css.status_code == 200, path
        assert css.headers["Content-Type"].startswith("text/css")
        assert "--brand" in css.text

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("logger") == "ledgerbridge.request"]
    assert {"method": "GET", "path": "/accounts/login/", "status": 200}.items() <= logged[0].items()
