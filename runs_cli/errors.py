"""User mistakes as one line saying what went wrong and what to do.

Every command runs under ``main``, which turns the exceptions below into
``runs-client: error: ...`` on stderr and a non-zero exit; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import errno

from runs_client import (
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    RunsClientError,
    ServerError,
    TimeoutError,
)

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "CliError", "describe"]

EXIT_ERROR = 1  # the request or the output failed
EXIT_USAGE = 2  # the command line itself is wrong (click's code too)


class CliError(Exception):
    """A mistake the CLI found itself; ``str()`` is the whole message."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
        return (
            f"{exc} Pass --api-key or set WANDB_API_KEY (or add the host to ~/.netrc).",
            EXIT_ERROR,
        )
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
