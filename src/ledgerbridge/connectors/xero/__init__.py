"""Xero Accounting API: the client (`client.XeroClient`) and the ledger (`adapter.XeroLedger`)."""
