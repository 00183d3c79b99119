from django.urls import URLPattern

from ledgerbridge.companies import views

app_name = "companies"
urlpatterns: list[URLPattern] = views.urlpatterns
