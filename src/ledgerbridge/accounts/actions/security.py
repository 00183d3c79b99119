"""security actions."""
