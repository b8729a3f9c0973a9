"""Talking to a W&B server: what every domain object and history read sends
its requests through.

- ``retrying``: ``RetryingClient``, the generated client with retries,
  backoff, ``Retry-After``, a deadline and response caps;
- ``responses``: bodies parsed, statuses and GraphQL errors mapped to ours;
- ``credentials``: API key, base URL, timeouts and TLS from arguments,
  environment and netrc;
- ``constants``: the defaults of all of the above;
- ``jsonio``: the JSON helpers; ``page_guard``: the guard of paged walks.

May import: ``runs_client._exceptions`` and ``runs_gql`` only.
"""
