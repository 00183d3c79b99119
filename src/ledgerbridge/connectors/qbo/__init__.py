"""QuickBooks Online: the API client (`client`) and the `QboLedger` adapter (`adapter`)."""
