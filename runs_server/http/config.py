"""The server's behaviour knobs and limits, one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from runs_server.graphql.limits import (
    BODY_TIMEOUT_SECONDS,
    MAX_BODY_BYTES_HELD,
    MAX_REQUEST_SECONDS,
    MAX_REQUESTS_IN_FLIGHT,
    MAX_RESPONSE_BYTES,
    MAX_RESPONSE_ROWS,
    MAX_VALUES_READ,
)
from runs_server.http.connections import (
    HEAD_TIMEOUT_SECONDS,
    IDLE_TIMEOUT_SECONDS,
    MAX_CONNECTIONS,
)
from runs_server.http.faults import FaultConfig
from runs_server.writes.liveness import DEFAULT_CRASH_AFTER_S


@dataclass(frozen=True)
class ServerConfig:
    """Behaviour knobs; ``latency_ms`` is added to every response.

    ``loopback_hosts``: refuse ``Host`` headers that are not loopback names
    (on by default; ``serve`` turns it off when bound elsewhere). The limits
    default to those of ``runs_server.graphql.limits`` (the README's table).
    """

    require_auth: bool = False
    latency_ms: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    max_response_rows: int = MAX_RESPONSE_ROWS
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_values_read: int = MAX_VALUES_READ
    max_in_flight: int = MAX_REQUESTS_IN_FLIGHT
    request_seconds: float = MAX_REQUEST_SECONDS
    body_timeout_s: float = BODY_TIMEOUT_SECONDS
    # Connections (runs_server.http.connections) and bodies held at once
    # (runs_server.http.admission).
    head_timeout_s: float = HEAD_TIMEOUT_SECONDS
    idle_timeout_s: float = IDLE_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS
    max_body_bytes_held: int = MAX_BODY_BYTES_HELD
    loopback_hosts: bool = True
    # How long a parquetHistory link stays valid.
    export_url_ttl_s: float = 3600.0
    # "auto": gzip only for clients beyond loopback (on loopback, compressing
    # a history page costs more time than sending it); "always"; "never".
    compress: Literal["auto", "always", "never"] = "auto"
    # A running run with no file_stream post (heartbeat) for this long is
    # marked crashed.
    crash_after_s: float = DEFAULT_CRASH_AFTER_S
