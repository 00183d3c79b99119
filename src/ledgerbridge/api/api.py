from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from ledgerbridge import __version__
from ledgerbridge.api.auth import API_AUTH
from ledgerbridge.core.api import router as core_router

api = NinjaAPI(
    title="LedgerBridge API",
    version="1",
    description=f"LedgerBridge {__version__}",
    urls_namespace="api-v1",
    # Every operation needs a session or a personal API token unless it says auth=None.
    auth=API_AUTH,
    # Without "ninja" in INSTALLED_APPS the docs page pulls Swagger UI from a CDN, and
    # LedgerBridge must work offline; the OpenAPI document itself is always published.
    docs_url="/docs" if "ninja" in settings.INSTALLED_APPS else None,
)
api.add_router("", core_router)
api.add_router("/tokens", "ledgerbridge.accounts.api_tokens.router")
api.add_router("/users", "ledgerbridge.accounts.api.router")
api.add_router("/sync", "ledgerbridge.sync.api.router")
api.add_router("/companies", "ledgerbridge.companies.api.router")


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(
        request, {"detail": str(exc) or "You do not have permission for this."}, status=403
    )
