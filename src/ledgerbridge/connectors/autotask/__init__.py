"""Datto Autotask PSA: the REST client (`client`), its query filters and records, and the source."""
