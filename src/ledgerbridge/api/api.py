from ninja import NinjaAPI

from ledgerbridge import __version__
from ledgerbridge.core.api import router as core_router

api = NinjaAPI(
    title="LedgerBridge API",
    version="1",
    description=f"LedgerBridge {__version__}",
    urls_namespace="api-v1",
)
api.add_router("", core_router)
