"""Accounts (one per MSP), users, roles and the identity rules around them."""
