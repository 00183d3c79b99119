"""Generated MSP data for the Autotask simulator."""

from ledgerbridge_sim.state import Simulator


def generate(sim: Simulator, *, invoices: int, seed: int, api_user: str) -> dict[str, int]:
    return {}
