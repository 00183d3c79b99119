"""Companies: the ledger organisations an account syncs into."""
