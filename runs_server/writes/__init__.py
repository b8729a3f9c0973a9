"""The write path: what the official SDKs send to create runs and log into them.

``buckets`` creates and changes runs (``upsertBucket``, ``deleteRun``,
``stopRun``) under the write rule of ``access``; ``file_stream`` takes the
SDK's history, events, summary and console lines, once each however often a
chunk is retried; ``links`` signs the upload and download links of run files;
``liveness`` marks runs whose heartbeats stopped as crashed. ``limits`` holds
this layer's caps (the README's Limits table).

May import: ``runs_server.store`` (and third-party packages). GraphQL and
HTTP above call it; it knows neither.
"""

from runs_server.writes.errors import WriteError

__all__ = ["WriteError"]
