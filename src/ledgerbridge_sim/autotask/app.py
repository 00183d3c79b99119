"""Placeholder: the system's routes, `seed` and `generate` arrive with the simulator work."""

from typing import Any

from starlette.applications import Starlette

from ledgerbridge_sim.state import Simulator


def build_app(sim: Simulator) -> Starlette:
    return Starlette(routes=[])


def seed(sim: Simulator, records: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Insert explicit records: collection name → list of vendor-shaped records."""
    return {}


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, int]:
    """Generate realistic MSP data; returns how many records of each kind were made."""
    return {}
