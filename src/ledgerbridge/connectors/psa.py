"""Builds the `PsaSource` for an account's stored PSA credentials.

The credentials' encrypted `secrets` hold what the account screen collected: ConnectWise
`site`, `company_id`, `public_key`, `private_key`, `client_id`; Autotask `username`, `secret`,
`integration_code`, and optionally `zone_lookup_url` or `zone_url` (the demo and tests point
these at the simulator; a real tenant leaves them out and Autotask's own discovery is used).
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ledgerbridge.accounts.models import PsaCredential, PsaKind
from ledgerbridge.connectors.base import ConnectorError, ErrorKind, PsaSource
from ledgerbridge.connectors.http import LogHook

# The company's service invoice detail level as ConnectWise's GL-export option: one line per GL
# mapping (Condensed), the invoice's own layout (Default: ticket lines with their summaries), or
# every entry (Detailed).
CONNECTWISE_SUMMARY = {"standard": "Condensed", "summary": "Default", "detail": "Detailed"}


def budget_name(credential: PsaCredential) -> str:
    return f"psa:{credential.pk}"


def source_for(
    credential: PsaCredential,
    *,
    location_ids: Sequence[int] = (),
    currency: str = "USD",
    log_hook: LogHook | None = None,
    detailed_logging: bool = False,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], object] = time.sleep,
    use_budget: bool = True,
    detail_level: str = "detail",
) -> PsaSource:
    """`detail_level` is the company's service invoice detail level (standard, summary,
    detail); ConnectWise builds its GL export that finely, Autotask invoices are per item."""
    secrets: dict[str, Any] = dict(credential.secrets or {})
    if transport is None:
        # Tests and the demo route every outside call to the in-process simulators.
        from ledgerbridge.connectors.oauth import transport_override

        transport = transport_override()
    try:
        if credential.psa == PsaKind.CONNECTWISE:
            return _connectwise(
                secrets,
                location_ids=location_ids,
                currency=currency,
                summarize=CONNECTWISE_SUMMARY[detail_level],
                log_hook=log_hook,
                detailed_logging=detailed_logging,
                transport=transport,
                sleep=sleep,
            )
        if credential.psa == PsaKind.AUTOTASK:
            budget = budget_name(credential) if use_budget else None
            return _autotask(
                secrets,
                budget=budget,
                currency=currency,
                log_hook=log_hook,
                detailed_logging=detailed_logging,
                transport=transport,
                sleep=sleep,
            )
    except KeyError as missing:
        raise ConnectorError(
            ErrorKind.AUTH,
            f"The {credential.get_psa_display()} credentials {credential.label!r} lack "
            f"{missing.args[0]}.",
            hint="Complete them under Account → PSA connection.",
        ) from None
    raise ConnectorError(ErrorKind.AUTH, f"Unknown PSA {credential.psa!r}.")


def _connectwise(secrets: dict[str, Any], **options: Any) -> PsaSource:
    from ledgerbridge.connectors.connectwise.adapter import ConnectWiseSource
    from ledgerbridge.connectors.connectwise.client import ConnectWiseClient

    client = ConnectWiseClient(
        site=secrets["site"],
        company_id=secrets["company_id"],
        public_key=secrets["public_key"],
        private_key=secrets["private_key"],
        client_id=secrets.get("client_id", ""),
        codebase=secrets.get("codebase") or None,
        log_hook=options["log_hook"],
        detailed_logging=options["detailed_logging"],
        transport=options["transport"],
        sleep=options["sleep"],
    )
    return ConnectWiseSource(
        client,
        location_ids=options["location_ids"],
        default_currency=options["currency"],
        summarize_invoices=options["summarize"],
    )


def _autotask(secrets: dict[str, Any], *, budget: str | None, **options: Any) -> PsaSource:
    from ledgerbridge.connectors.autotask import client as autotask
    from ledgerbridge.connectors.autotask.adapter import AutotaskSource

    if budget is not None:
        # Autotask's 10,000 requests per hour are shared by every worker on this tenant.
        autotask.configure_rate_budget(budget)
    lookup = secrets.get("zone_lookup_url") or autotask.DEFAULT_ZONE_LOOKUP_URL
    client = autotask.AutotaskClient(
        autotask.AutotaskCredentials(
            username=secrets["username"],
            secret=secrets["secret"],
            integration_code=secrets["integration_code"],
        ),
        zone_lookup_url=lookup,
        zone_url=secrets.get("zone_url") or None,
        budget=budget,
        log_hook=options["log_hook"],
        detailed_logging=options["detailed_logging"],
        sleep=options["sleep"],
        transport=options["transport"],
    )
    return AutotaskSource(client, currency=options["currency"])
