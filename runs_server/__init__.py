"""runs_server: a local W&B-compatible GraphQL server on SQLite."""
