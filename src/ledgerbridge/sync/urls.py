from django.urls import URLPattern

from ledgerbridge.sync import views

app_name = "sync"
urlpatterns: list[URLPattern] = views.urlpatterns
