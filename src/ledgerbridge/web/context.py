from django.conf import settings
from django.http import HttpRequest

from ledgerbridge import __version__


def site(request: HttpRequest) -> dict[str, str]:
    return {"site_name": settings.SITE_NAME, "version": __version__}
