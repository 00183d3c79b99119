"""Simulators of the vendor APIs LedgerBridge talks to, for tests, the demo and benchmarks.

One ASGI app (`app.build_app`) serves every system under a path prefix and the control API under
/_sim/. State lives in memory in one `Simulator`; time is a virtual clock the control API moves.
"""
