from django.urls import include, path

from ledgerbridge.accounts.views import users
from ledgerbridge.api.api import api

urlpatterns = [
    # Our sign-up (creates an MSP account) answers at allauth's address, so its links lead here.
    path("accounts/signup/", users.signup, name="account_signup"),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("account/api-log/", include("ledgerbridge.apilog.urls")),
    path("account/", include("ledgerbridge.accounts.urls")),
    path("companies/", include("ledgerbridge.companies.urls")),
    path("sync/", include("ledgerbridge.sync.urls")),
    path("api/v1/", api.urls),
    path("", include("ledgerbridge.web.urls")),
]

# 400, 403 and CSRF failures use Django's views with our 400.html, 403.html and 403_csrf.html.
handler404 = "ledgerbridge.web.views.not_found"
handler500 = "ledgerbridge.web.views.server_error"
