from django.conf import settings
from ninja import NinjaAPI

from ledgerbridge import __version__
from ledgerbridge.core.api import router as core_router

api = NinjaAPI(
    title="LedgerBridge API",
    version="1",
    description=f"LedgerBridge {__version__}",
    urls_namespace="api-v1",
    # Without "ninja" in INSTALLED_APPS the docs page pulls Swagger UI from a CDN, and
    # LedgerBridge must work offline; the OpenAPI document itself is always published.
    docs_url="/docs" if "ninja" in settings.INSTALLED_APPS else None,
)
api.add_router("", core_router)
