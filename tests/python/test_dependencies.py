"""Programs that need packages, from Python (docs/dependencies.md): the
``dependencies=`` keyword beside PEP 723, against the tests' local package
index (tests/deps/package_index.py; no internet)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

import warden

INDEX_SCRIPT = Path(__file__).resolve().parents[1] / "deps" / "package_index.py"


@pytest.fixture(scope="module")
def package_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    folder = tmp_path_factory.mktemp("index")
    server = subprocess.Popen(
        [sys.executable, str(INDEX_SCRIPT), str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    ports = json.loads(server.stdout.readline())
    yield ports
    server.terminate()
    server.wait()


def dependencies_yaml(ports: Dict[str, Any], cache: Path) -> str:
    return (
        "dependencies:\n"
        f"  indexes: [https://index.test:{ports['index_https']}/simple]\n"
        "  packages: {wardendemo: '', wardendep: '>=2'}\n"
        f"  cache: {cache}\n"
        f"  ca_file: {ports['ca']}\n"
        "  egress:\n"
        "    resolve: {index.test: 127.0.0.1}\n"
        "    allow_networks: [127.0.0.0/8]\n"
    )


def test_dependencies_keyword_installs_then_reuses(
    open_api: Callable[..., warden.SafetyAPI], package_index: Dict[str, Any], tmp_path: Path
) -> None:
    api = open_api(dependencies_yaml(package_index, tmp_path / "cache"))
    native = api.get_security_status()["components"].get("sandbox:native", {})
    if not native.get("available"):
        pytest.skip(f"skipped: the native backend is unavailable: {native.get('reason')}")
    code = "import wardendemo\nprint(wardendemo.greet())\n"
    first = api.assess_and_execute(code, dependencies=["wardendemo"])
    assert first["decision"] == "ran", first["reason"]
    assert first["stdout"] == "hello from wardendemo 42\n"
    deps = first["dependencies"]
    assert deps is not None and deps["cached"] is False
    assert [p["name"] for p in deps["packages"]] == ["wardendemo", "wardendep"]
    assert all(e["allowed"] and e["host"] == "index.test" for e in deps["egress"])

    again = api.assess_and_execute(code, dependencies=["wardendemo"])
    assert again["dependencies"]["cached"] is True
    assert again["dependencies"]["egress"] == []

    plain = api.assess_and_execute("print(1)\n")
    assert plain["dependencies"] is None


def test_dependencies_refused_and_malformed(
    open_api: Callable[..., warden.SafetyAPI], package_index: Dict[str, Any], tmp_path: Path
) -> None:
    api = open_api(dependencies_yaml(package_index, tmp_path / "cache"))
    refused = api.assess_and_execute("print(1)\n", dependencies=["wardenextra"])
    assert refused["decision"] == "refused"
    assert "wardenextra is not on the allow-list" in refused["reason"]
    with pytest.raises(TypeError):
        api.assess_and_execute("print(1)\n", dependencies="wardendemo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="URLs and paths"):
        api.assess_and_execute("print(1)\n", dependencies=["x @ https://evil.test/x.whl"])
    with pytest.raises(ValueError, match="main.py:2"):
        api.assess_and_execute("# /// script\n# dependencies = 'x'\n# ///\n")
