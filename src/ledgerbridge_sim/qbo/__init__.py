"""The qbo simulator."""
