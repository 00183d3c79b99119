"""`python -m ledgerbridge_sim --port 8900`: serve every simulator (also `ledgerbridge sim`)."""

import argparse

import uvicorn

from ledgerbridge_sim.app import build_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ledgerbridge sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    args = parser.parse_args(argv)
    uvicorn.run(build_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
