"""Ernte's orchestration layer: configuration, table schemas, the CLI and (later) Prefect flows."""

__version__ = "0.1.0"
