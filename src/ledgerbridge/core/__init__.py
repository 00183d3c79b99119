"""The kernel every feature stands on: clock, money, encrypted fields, audit, leases, budgets."""
