"""`ledgerbridge demo`: the whole product on one machine, against the vendor simulators.

The command (core/management/commands/demo.py) stays thin; the steps live here:
`simulators` serves them in-process, `books` seeds the MSP's PSA data and reads both sides' own
records back, `setup` creates the account, companies, connections, settings and mappings the
way an admin would, and `runs` syncs, pays, syncs payments and writes the summary.
"""
