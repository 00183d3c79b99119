from django.urls import path

from ledgerbridge.apilog import views

app_name = "apilog"
urlpatterns = [
    path("", views.calls, name="calls"),
    path("<int:call_id>/", views.call_detail, name="call"),
    path("settings/", views.log_settings, name="settings"),
    path("clear/", views.clear, name="clear"),
]
