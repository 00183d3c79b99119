"""The connectwise simulator."""
