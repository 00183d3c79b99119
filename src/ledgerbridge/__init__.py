"""LedgerBridge: keeps an MSP's PSA and accounting package in step."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ledgerbridge")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
