"""Which ledger organisations exist: Xero tenants and QuickBooks companies (realms).

The OAuth consent page offers these, grants name them, and the Xero and QuickBooks simulators
serve data only for organisations listed here. Each system starts with the defaults below
(documented in the README); `add` or the control API's seed adds more.
"""

from dataclasses import dataclass
from typing import Any

from ledgerbridge_sim.state import Simulator


@dataclass(frozen=True)
class Organisation:
    system: str  # "xero" or "qbo"
    id: str  # Xero tenant id (a GUID); QuickBooks realmId (digits)
    name: str
    country: str  # ISO 3166 alpha-2: decides tax behaviour (US QuickBooks: automated sales tax)
    currency: str


DEFAULTS: dict[str, tuple[Organisation, ...]] = {
    "xero": (
        Organisation("xero", "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b01", "Demo MSP (AU)", "AU", "AUD"),
        Organisation("xero", "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b02", "Demo MSP (NZ)", "NZ", "NZD"),
        Organisation("xero", "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b03", "Demo MSP (UK)", "GB", "GBP"),
        Organisation("xero", "8f3c1e52-6f0b-4c1e-9a57-1d2e3f4a5b04", "Demo MSP (US)", "US", "USD"),
    ),
    "qbo": (
        Organisation("qbo", "9341452100000001", "Demo MSP (US)", "US", "USD"),
        Organisation("qbo", "9341452100000002", "Demo MSP (CA)", "CA", "CAD"),
        Organisation("qbo", "9341452100000003", "Demo MSP (UK)", "GB", "GBP"),
        Organisation("qbo", "9341452100000004", "Demo MSP (AU)", "AU", "AUD"),
    ),
}


def registry(sim: Simulator, system: str) -> dict[str, Organisation]:
    """The live registry (organisation id → Organisation), created with the defaults."""
    extra: dict[str, Any] = sim.system(system).extra
    if "organisations" not in extra:
        extra["organisations"] = {org.id: org for org in DEFAULTS[system]}
    found: dict[str, Organisation] = extra["organisations"]
    return found


def listed(sim: Simulator, system: str) -> list[Organisation]:
    with sim.lock:
        return list(registry(sim, system).values())


def get(sim: Simulator, system: str, organisation_id: str) -> Organisation | None:
    with sim.lock:
        return registry(sim, system).get(organisation_id)


def add(sim: Simulator, organisation: Organisation) -> Organisation:
    with sim.lock:
        registry(sim, organisation.system)[organisation.id] = organisation
        return organisation
