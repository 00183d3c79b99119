"""tokens actions."""
