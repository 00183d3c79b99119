"""The accounts area's pages, one module per area; each keeps its own `urlpatterns`."""
