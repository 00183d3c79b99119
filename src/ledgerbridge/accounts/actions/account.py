"""account actions."""
