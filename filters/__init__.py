"""Per-document decisions: extraction, language ID, quality filters, deduplication (curation issue)."""
