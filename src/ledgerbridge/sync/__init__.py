"""The sync engine: PSA records into ledger documents, exactly once, and payments back."""
