"""Placeholder: replaced by the xero simulator work."""

from typing import Any

from starlette.applications import Starlette

from ledgerbridge_sim.state import Simulator


def build_app(sim: Simulator) -> Starlette:
    return Starlette(routes=[])


def seed(sim: Simulator, records: dict[str, Any]) -> dict[str, Any]:
    return {}


def generate(sim: Simulator, *, invoices: int, seed: int) -> dict[str, Any]:
    return {}
