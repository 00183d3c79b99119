"""The public v1 API (django-ninja)."""
