"""Reading histories: what ``Run.history``, ``scan_history``,
``Runs.histories`` and ``iter_histories`` stand on.

- ``histories``: the ``Runs.histories()`` / ``iter_histories()`` loop, resume
  tokens and progress, over any collection shaped like ``RunCollection``;
- ``bulk``: pages of many runs' history per request (``BulkFetcher``);
- ``pages``: the query, a page of rows and the position after it;
- ``policy``: row budgets, server caps, requests in flight, refusals;
- ``run_rows``: one run's rows (``Run.history``, step-window scans);
- ``rows``, ``typed_pages``: history lines and row objects parsed;
- ``chunks``, ``frames``: rows to typed columns to pandas, polars, arrow.

May import: ``runs_client.transport``, ``runs_client._exceptions`` and
``runs_gql``; never the domain objects (``api``, ``runs``, ``run``, ...).
"""
