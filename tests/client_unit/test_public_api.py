"""``runs_client.__all__``: sorted, complete and importable."""

from __future__ import annotations

import importlib
import inspect

import runs_client

# Modules whose public names users reach through ``runs_client``.
PUBLIC_MODULES = [
    "runs_client.transport.constants",
    "runs_client._exceptions",
    "runs_client.transport.retrying",
    "runs_client.api",
    "runs_client.history.histories",
    "runs_client.run",
    "runs_client.run_table",
    "runs_client.runs",
    "runs_client.sweep",
    "runs_client.aio",
    "runs_client.aio.api",
    "runs_client.aio.runs",
    "runs_client.transport.async_retrying",
]

# Public in their module for the package's own use, deliberately not
# re-exported: internal building blocks, not user API.
NOT_REEXPORTED = {
    "runs_client.transport.constants": {
        "DEFAULT_BASE_URL",
        "GRAPHQL_PATH",
        "INITIAL_BACKOFF",
        "MAX_BACKOFF",
        "MAX_RETRY_AFTER",
        "RETRYABLE_STATUS_CODES",
    },
    "runs_client.transport.retrying": {"parse_retry_after"},
    "runs_client.runs": {"fetch_run"},
    "runs_client.run": {"RunBase", "history_frame"},
    "runs_client.run_table": {
        "RUN_COLUMNS",
        "check_frame_format",
        "flatten",
        "run_row",
    },
    "runs_client.history.histories": {
        "FORMATS",
        "RunSource",
        "batch_converter",
        "incomplete",
        "prepare_batches",
        "LoggedRun",
        "RunCollection",
        "fetch_histories",
        "iter_batches",
    },
    "runs_client.sweep": {
        "RunsFactory",
        "SweepInfo",
        "app_url",
        "fetch_sweep",
        "sweep_flow",
    },
}

# Generated models that appear in public signatures and attributes.
GENERATED_MODELS = {"RunFields", "RunFieldsUser", "ViewerViewer"}


def isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then CamelCase, then the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def test_all_is_sorted_and_unique() -> None:
    assert runs_client.__all__ == sorted(runs_client.__all__, key=isort_key)
    assert len(set(runs_client.__all__)) == len(runs_client.__all__)


def test_all_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from runs_client import *", namespace)
    for name in runs_client.__all__:
        assert getattr(runs_client, name) is namespace[name]


def test_all_is_complete() -> None:
    exported = set(runs_client.__all__)
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        public = set(getattr(module, "__all__", ()))
        missing = public - exported - NOT_REEXPORTED.get(module_name, set())
        assert not missing, f"{module_name} names not in runs_client.__all__"
        # Every public class or function defined there is in its module's __all__.
        defined = {
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj))
            and obj.__module__ == module_name
        }
        assert defined <= public, f"{module_name}.__all__ lacks {defined - public}"
    assert exported >= GENERATED_MODELS


def test_every_exception_is_exported_and_rooted() -> None:
    from runs_client import _exceptions

    for name in _exceptions.__all__:
        obj = getattr(runs_client, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, runs_client.RunsClientError)


def test_no_stray_public_names() -> None:
    public = {
        name
        for name in vars(runs_client)
        if not name.startswith("_") and not inspect.ismodule(getattr(runs_client, name))
    }
    assert public - {"annotations"} <= set(runs_client.__all__)
