"""Filling a store: the JSON Lines loader (``jsonl``) and the demo seed (``demo``).

Both write through the store's public API, beside the listing and history
reads. May import: ``runs_server.store`` only; the store knows neither of them.
"""
