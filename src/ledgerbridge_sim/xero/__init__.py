"""The xero simulator."""
