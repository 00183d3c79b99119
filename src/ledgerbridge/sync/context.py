"""Builds a run's `SyncContext` from the company's connections, settings and mappings."""

from ledgerbridge.companies.models import Company
from ledgerbridge.sync.engine import RunStoppedError, SyncContext
from ledgerbridge.sync.models import SyncRun


def build_context(company: Company, run: SyncRun) -> SyncContext:
    raise RunStoppedError(
        f"{company.name} has no PSA and ledger connections LedgerBridge can sync with yet."
    )
