"""Tasks and helpers for tests that run real worker and scheduler processes."""
