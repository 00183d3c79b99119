"""Background work for the API call log: the daily retention purge."""

from datetime import timedelta

from ledgerbridge.apilog import actions
from ledgerbridge.core.scheduler import due_work


@due_work("apilog.purge_expired_calls", every=timedelta(days=1))
def purge_expired_calls() -> int:
    """Each account keeps its calls for its own retention period (Account → API log settings)."""
    return actions.purge_expired_calls()
