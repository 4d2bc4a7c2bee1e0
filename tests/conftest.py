"""Shared fixtures for the crawl integration tests (helpers live in tests/crawl_sites.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_sites import TestSite, fetch_rows, run_ernte  # noqa: E402


@pytest.fixture
def site():
    """A fresh, started test site on 127.0.0.1 (configure routes before crawling it)."""
    with TestSite() as s:
        yield s


@pytest.fixture
def ernte():
    """run_ernte(*args) -> Run(returncode, stdout, stderr, seconds); unpacks as (rc, out, err)."""
    return run_ernte


@pytest.fixture
def read_fetch_log():
    """read_fetch_log(DIR) -> the Parquet fetch log as a list of dicts in seq order."""
    return fetch_rows
