"""The accounts area's pages. Each area module keeps its own `urlpatterns`; this joins them."""

from django.urls import URLPattern, URLResolver

from ledgerbridge.accounts.views import account, security, tokens, users

app_name = "accounts"
urlpatterns: list[URLPattern | URLResolver] = [
    *users.urlpatterns,
    *security.urlpatterns,
    *account.urlpatterns,
    *tokens.urlpatterns,
]
