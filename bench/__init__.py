"""LedgerBridge benchmarks: `./dev bench` prints figures and writes them to bench/out/."""
