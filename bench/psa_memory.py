"""Peak memory of the ConnectWise client paging through 1,000 and then 10,000 invoices.

The simulator runs in its own process (`python -m ledgerbridge_sim`) and the client in a fresh
child process per size, so each figure is the client's alone: a process that also held the
simulator's 10,000 invoices would measure the simulator. If the paginator streams, the peaks at
1,000 and 10,000 invoices are about equal (one page of 1,000 records is the most ever held).

Run: `./dev bench psa_memory` (or `python -m bench psa_memory`). Figures:
`peak_rss_mib_<n>` (the child's VmHWM: not `ru_maxrss`, which on Linux keeps the parent's
high-water mark across the exec), `traced_peak_kib_<n>`
(tracemalloc's peak of Python allocations while iterating), `invoices_<n>` (records seen) and
`seconds_<n>`.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SIZES = (1_000, 10_000)
ROOT = Path(__file__).resolve().parent.parent
# The simulator's documented demo tenant (ledgerbridge_sim.connectwise.auth).
DEMO_CLIENT_ID = "00000000-0000-4000-8000-000000000001"


def bench_psa_memory(rounds: int) -> dict[str, float]:
    """`rounds` is not used: the sizes are the ones the acceptance names (1,000 and 10,000)."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    server = subprocess.Popen(  # noqa: S603 — our own interpreter and module
        [sys.executable, "-m", "ledgerbridge_sim", "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, float] = {}
    try:
        _wait_until_serving(base, server)
        with httpx.Client(base_url=base, timeout=600) as control:
            for size in SIZES:
                control.post("/_sim/reset").raise_for_status()
                seeded = control.post(
                    "/_sim/seed", json={"generate": {"system": "connectwise", "invoices": size}}
                )
                seeded.raise_for_status()
                child = subprocess.run(  # noqa: S603 — our own interpreter and module
                    [sys.executable, "-m", "bench.psa_memory", f"{base}/connectwise"],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                measured = json.loads(child.stdout.strip().splitlines()[-1])
                for key, value in measured.items():
                    figures[f"{key}_{size}"] = value
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures


def _measure(site: str) -> dict[str, float]:
    """In the child: page through every invoice once and report this process's peaks."""
    import tracemalloc

    from ledgerbridge.connectors.connectwise.client import ConnectWiseClient

    with ConnectWiseClient(
        site=site,
        company_id="demo",
        public_key="demo-public",
        private_key="demo-private",
        client_id=DEMO_CLIENT_ID,
    ) as client:
        client.system_info()  # discovery and imports done before measuring
        started = time.perf_counter()
        tracemalloc.start()
        seen = sum(1 for _ in client.iter_invoices())
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        seconds = time.perf_counter() - started
    peak_rss = _peak_rss_mib()
    return {
        "invoices": seen,
        "peak_rss_mib": round(peak_rss, 1),
        "traced_peak_kib": round(traced_peak / 1024),
        "seconds": round(seconds, 2),
    }


def _peak_rss_mib() -> float:
    """This process's peak resident set (Linux `VmHWM`), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the simulator exited before serving")
        try:
            httpx.get(f"{base}/_sim/clock", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the simulator did not start within 30 seconds")


if __name__ == "__main__":
    print(json.dumps(_measure(sys.argv[1])))
