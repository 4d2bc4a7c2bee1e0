"""Tokenizer and model training on curated shards (training issue)."""
