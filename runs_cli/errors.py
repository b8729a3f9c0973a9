"""User mistakes as one line saying what went wrong and what to do.

Every command runs under ``main``, which turns the exceptions below into
``runs-client: error: ...`` on stderr and a non-zero exit; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import errno
import re

from runs_client import (
    AuthenticationError,
    GraphQLError,
    InvalidArgumentError,
    NotFoundError,
    RunsClientError,
    ServerError,
    TimeoutError,
)

__all__ = [
    "CLI_AUTH_HINT",
    "EXIT_ERROR",
    "EXIT_USAGE",
    "PYTHON_AUTH_HINT",
    "CliError",
    "cli_terms",
    "describe",
    "graphql_message",
]

EXIT_ERROR = 1  # the request or the output failed
EXIT_USAGE = 2  # the command line itself is wrong (click's code too)


class CliError(Exception):
    """A mistake the CLI found itself; ``str()`` is the whole message."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


PYTHON_AUTH_HINT = (
    "Pass api_key=..., set WANDB_API_KEY, or add the host to your netrc file."
)
CLI_AUTH_HINT = "Pass --api-key or set WANDB_API_KEY (or add the host to ~/.netrc)."

# The server names summary fields summary_metrics.KEY; the CLI takes summary.KEY
# (in --where, --order, --columns and --filter), so its messages say that.
_SERVER_SUMMARY = re.compile(r"\bsummary_metrics\.")
_SERVER_ALIAS = re.compile(r"\(summaryMetrics\.KEY, ")


def cli_terms(text: str) -> str:
    """A server message with field names as the CLI takes them."""
    return _SERVER_SUMMARY.sub("summary.", _SERVER_ALIAS.sub("(", text))


def graphql_message(exc: GraphQLError) -> str:
    """The server's GraphQL errors once each (a query asking for the runs and
    their count gets the same complaint twice), in the CLI's terms."""
    said = dict.fromkeys(str(e.get("message", "")).strip() for e in exc.errors)
    text = "; ".join(cli_terms(m) for m in said if m) or str(exc)
    where = f"{exc.request}: " if exc.request is not None else ""
    return f"{where}the server refused the query: {text}"


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code for an exception, or raise it back
    when it is a bug rather than a user mistake (the caller re-raises)."""
    if isinstance(exc, CliError):
        return str(exc), exc.exit_code
    if isinstance(exc, InvalidArgumentError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, NotFoundError):
        return f"{exc} Check the ENTITY/PROJECT path (case matters).", EXIT_ERROR
    if isinstance(exc, AuthenticationError):
        # The client's own hint speaks of Api(api_key=...); here, of flags.
        said = str(exc).removesuffix(PYTHON_AUTH_HINT).rstrip()
        return f"{said} {CLI_AUTH_HINT}", EXIT_ERROR
    if isinstance(exc, GraphQLError):
        return graphql_message(exc), EXIT_ERROR
    if isinstance(exc, (ServerError, TimeoutError)):
        # The client's message already names the URL and says what to check.
        return str(exc), EXIT_ERROR
    if isinstance(exc, RunsClientError):
        return str(exc), EXIT_ERROR
    if isinstance(exc, OSError) and exc.filename is not None:
        what = exc.strerror or type(exc).__name__
        hint = (
            "choose another path with -o"
            if exc.errno in (errno.EACCES, errno.EROFS, errno.ENOENT, errno.EISDIR)
            else "check the path"
        )
        return f"cannot write {exc.filename}: {what}; {hint}.", EXIT_ERROR
    raise exc
