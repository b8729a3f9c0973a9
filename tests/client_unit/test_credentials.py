"""Settings precedence: argument > WANDB_* environment > netrc > default."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import httpx
import pytest

from runs_client._exceptions import InvalidArgumentError
from runs_client.transport.constants import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, NOT_GIVEN
from runs_client.transport.credentials import (
    netrc_api_key,
    netrc_path,
    resolve_api_key,
    resolve_base_url,
    resolve_timeout,
    resolve_verify,
)


def write_netrc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "netrc"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_base_url(None) == DEFAULT_BASE_URL
    monkeypatch.setenv("WANDB_BASE_URL", "http://localhost:8080/")
    assert resolve_base_url(None) == "http://localhost:8080"
    assert (
        resolve_base_url("https://wandb.corp.example/") == "https://wandb.corp.example"
    )


def test_base_url_with_the_endpoint_means_the_server() -> None:
    assert resolve_base_url("http://localhost:8080/graphql") == "http://localhost:8080"
    assert resolve_base_url("https://h.example/w/graphql/") == "https://h.example/w"


@pytest.mark.parametrize(
    "url", ["localhost:8080", "ftp://host", "https://", "not a url", "https://api:k@h"]
)
def test_bad_base_url(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="base_url"):
        resolve_base_url(url)


def test_bad_base_url_from_env_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "wandb.corp")
    with pytest.raises(InvalidArgumentError, match="WANDB_BASE_URL"):
        resolve_base_url(None)


@pytest.mark.parametrize(
    "url",
    [
        "https://api:sekrit-key@wandb.corp",
        "htps://api:sekrit-key@wandb.corp",  # a typo in the scheme, too
        "https://api:sekrit-key@wandb.corp:99999",  # and a malformed URL
    ],
)
def test_credentials_in_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="base_url") as info:
        resolve_base_url(url)
    assert "sekrit-key" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["https://wandb.corp/?api_key=sekrit-key", "https://wandb.corp/#sekrit-key"]
)
def test_query_or_fragment_in_url_refused_without_echoing_it(url: str) -> None:
    # The endpoint is base_url + "/graphql": a query or fragment would end up
    # in the middle of it (and in every message).
    with pytest.raises(InvalidArgumentError, match="base_url") as info:
        resolve_base_url(url)
    assert "sekrit-key" not in str(info.value)


def test_api_key_precedence(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "NETRC",
        str(
            write_netrc(
                tmp_path, "machine api.wandb.ai login user password fromnetrc\n"
            )
        ),
    )
    url = DEFAULT_BASE_URL
    assert resolve_api_key(None, url) == "fromnetrc"
    monkeypatch.setenv("WANDB_API_KEY", "fromenv")
    assert resolve_api_key(None, url) == "fromenv"
    assert resolve_api_key("fromarg", url) == "fromarg"
    # An explicit empty key means "no key", not "look elsewhere".
    assert resolve_api_key("", url) is None


def test_no_key_anywhere_is_none() -> None:
    assert resolve_api_key(None, DEFAULT_BASE_URL) is None


def test_netrc_host_match(tmp_path: Path) -> None:
    path = write_netrc(
        tmp_path,
        "machine api.wandb.ai login user password hosted\n"
        "machine localhost:8080 login user password withport\n"
        "machine wandb.corp login user password corp\n",
    )
    assert netrc_api_key("https://api.wandb.ai", path) == "hosted"
    assert netrc_api_key("http://localhost:8080", path) == "withport"
    assert netrc_api_key("https://wandb.corp:8443", path) == "corp"  # host fallback
    assert netrc_api_key("https://other.example", path) is None


def test_netrc_from_home_by_default(monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine api.wandb.ai login u password homekey\n")
    (home / ".netrc").chmod(0o600)
    assert netrc_path() == home / ".netrc"
    assert resolve_api_key(None, DEFAULT_BASE_URL) == "homekey"


def test_unreadable_netrc_is_ignored(tmp_path: Path, caplog) -> None:
    path = write_netrc(tmp_path, "machine api.wandb.ai login u password\n")
    caplog.set_level("DEBUG")
    assert netrc_api_key(DEFAULT_BASE_URL, path) is None
    assert netrc_api_key(DEFAULT_BASE_URL, tmp_path / "missing") is None


def test_netrc_that_is_not_utf8_is_ignored(tmp_path: Path, caplog) -> None:
    path = tmp_path / "netrc"
    path.write_bytes(b"machine api.wandb.ai login u password k\xff\xfe\n")
    path.chmod(0o600)
    caplog.set_level("DEBUG")
    assert netrc_api_key(DEFAULT_BASE_URL, path) is None
    assert "\xff" not in caplog.text


def test_timeout_resolution(monkeypatch) -> None:
    assert resolve_timeout(NOT_GIVEN) == DEFAULT_TIMEOUT
    assert resolve_timeout(5) == httpx.Timeout(5.0)
    assert resolve_timeout(None) == httpx.Timeout(None)
    custom = httpx.Timeout(3.0, connect=1.0)
    assert resolve_timeout(custom) == custom
    monkeypatch.setenv("WANDB_HTTP_TIMEOUT", "12")
    assert resolve_timeout(NOT_GIVEN) == httpx.Timeout(12.0)
    assert resolve_timeout(2.5) == httpx.Timeout(2.5)  # the argument wins


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "10", [1]])
def test_bad_timeout(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="positive number of seconds"):
        resolve_timeout(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["soon", "0", "-3", "nan"])
def test_bad_timeout_env(monkeypatch, bad: str) -> None:
    monkeypatch.setenv("WANDB_HTTP_TIMEOUT", bad)
    with pytest.raises(InvalidArgumentError, match="WANDB_HTTP_TIMEOUT"):
        resolve_timeout(NOT_GIVEN)


def test_verify_settings(monkeypatch, tmp_path: Path) -> None:
    assert resolve_verify(True) is True
    assert resolve_verify(False) is False
    ctx = ssl.create_default_context()
    assert resolve_verify(ctx) is ctx
    import certifi

    bundle = certifi.where()
    assert isinstance(resolve_verify(bundle), ssl.SSLContext)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    assert isinstance(resolve_verify(True), ssl.SSLContext)
    assert resolve_verify(False) is False
    with pytest.raises(InvalidArgumentError, match="CA certificates"):
        resolve_verify(os.fspath(tmp_path / "missing.pem"))
    with pytest.raises(InvalidArgumentError, match="verify"):
        resolve_verify(3)  # type: ignore[arg-type]
