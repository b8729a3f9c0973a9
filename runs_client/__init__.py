"""runs_client: a typed, fast client for the W&B runs API."""
