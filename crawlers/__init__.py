"""Fetching and archiving: the robots-aware Scrapy crawler, its WARC writer and fetch log."""
