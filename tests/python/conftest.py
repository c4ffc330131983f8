"""Fixtures for the Python module's tests (scripts/test-python.sh runs them
against the `warden` package pip installed from this repository).

Each test gets its own warden.yaml in tmp_path: the audit log and its key
there, plugins and policies from the installed package (the defaults, so the
wheel's layout is what is tested), the heuristics assessor and the native
backend. Nothing of warden is mocked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

import warden

def under_ci() -> bool:
    """CI=true: a component the tests need that is missing fails the test."""
    return os.environ.get("CI") == "true"


def write_config(directory: Path, extra: str = "") -> Path:
    """A warden.yaml whose audit log and keys live in `directory`."""
    config = directory / "warden.yaml"
    config.write_text(
        "log_level: warn\n"
        "assessors: {enabled: [heuristics]}\n"
        "backends: {enabled: [native]}\n"
        "audit:\n"
        f"  directory: {directory / 'audit'}\n"
        f"  signing_key: {directory / 'keys' / 'audit.key'}\n" + extra
    )
    return config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def open_api(tmp_path: Path) -> Iterator[Callable[..., warden.SafetyAPI]]:
    """open_api(extra_yaml="") -> a SafetyAPI on a fresh config in tmp_path."""
    opened = []

    def make(extra: str = "") -> warden.SafetyAPI:
        api = warden.SafetyAPI(write_config(tmp_path, extra))
        opened.append(api)
        return api

    yield make
    for api in opened:
        api.close()


@pytest.fixture
def api(open_api: Callable[..., warden.SafetyAPI]) -> warden.SafetyAPI:
    """A SafetyAPI whose native backend can run code; skipped (failed under
    CI=true) when it cannot, e.g. bubblewrap is missing."""
    api = open_api()
    native = api.get_security_status()["components"].get("sandbox:native", {})
    if not native.get("available"):
        why = f"the native sandbox backend is unavailable: {native.get('reason', 'not loaded')}"
        if under_ci():
            pytest.fail(why)
        pytest.skip(f"skipped: {why}")
    return api
