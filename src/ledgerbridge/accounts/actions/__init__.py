"""State changes for accounts and users, one module per area; views and commands call these."""
