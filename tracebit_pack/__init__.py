"""Offline verification tooling for the Tracebit detection pack for Panther."""

__version__ = "0.1.0"
