"""The package as users get it: the wheel scripts/test-python.sh built
($WARDEN_WHEEL) installed into fresh virtualenvs, the `warden` command it
ships, its user locations (no writes into site-packages, no HOME needed), the
pinned assessor tools, and what an ordinary (non-root) user can do."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

import warden
from conftest import under_ci

REPO = Path(__file__).resolve().parents[2]
TOOLS_VENV = Path(os.environ.get("WARDEN_TOOLS_VENV") or "/opt/warden/tools")


def missing(why: str) -> None:
    if under_ci():
        pytest.fail(why)
    pytest.skip(f"skipped: {why}")


@pytest.fixture(scope="module")
def wheel() -> Path:
    path = os.environ.get("WARDEN_WHEEL")
    if not path or not Path(path).is_file():
        missing("$WARDEN_WHEEL names no wheel: run these tests with scripts/test-python.sh")
    return Path(path)


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory) -> Path:
    """A new virtualenv with nothing but the wheel (and its dependencies)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "--quiet", str(wheel)],
        check=True,
    )
    return venv


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment without warden's variables or HOME, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WARDEN_", "XDG_")) and k not in ("HOME", "PYTHONPATH")
    }
    env.update(extra)
    return env


def files_under(folder: Path) -> List[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_the_wheel_installs_elsewhere_with_the_warden_command(fresh_venv: Path, tmp_path: Path):
    env = clean_env(HOME=str(tmp_path / "home"), XDG_STATE_HOME=str(tmp_path / "state"))
    version = subprocess.run(
        [str(fresh_venv / "bin" / "warden"), "--version"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert version.startswith(f"warden {warden.version()}")

    package = Path(
        subprocess.run(
            [str(fresh_venv / "bin" / "python"), "-c", "import warden, os; print(os.path.dirname(warden.__file__))"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()
    )
    assert package.is_relative_to(fresh_venv)
    installed = files_under(package)
    # The helper that runs third-party assessors out of process ships too, and the launcher.
    assert os.access(package / "lib" / "warden" / "warden-plugin-host", os.X_OK)
    assert os.access(package / "lib" / "warden" / "warden-launch", os.X_OK)

    # The default configuration of the installed package, as a user gets it.
    script = (
        "import json, warden.mai\n"
        "with warden.mai.SafetyAPI() as api:\n"
        "    a = api.assess_code_only('print(1)')\n"
        "    s = api.get_security_status()\n"
        "print(json.dumps({'level': a['security_level'], 'assessors': a['findings']['assessors'],\n"
        "                  'integrity': s['audit_integrity']['valid']}))\n"
    )
    out = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", script],
        env=env, capture_output=True, text=True, check=True,
    )
    answer = json.loads(out.stdout)
    assert answer["integrity"] is True
    statuses = {a["name"]: a["status"] for a in answer["assessors"]}
    assert statuses["heuristics"] == "ok"
    if statuses.get("bandit") == "ok" and statuses.get("semgrep") == "ok":
        assert answer["level"] == "LOW"  # the default configuration works as shipped
    else:
        assert "is not available" in out.stderr  # and says why it does not
    # The audit log went to the XDG state folder, nothing into the package.
    assert list((tmp_path / "state" / "warden" / "audit").glob("seg-*.wal"))
    assert files_under(package) == installed

    # The command finds the same configuration and log.
    verify = subprocess.run(
        [str(fresh_venv / "bin" / "warden"), "audit", "verify"],
        env=env, capture_output=True, text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_users_own_warden_yaml_is_found(fresh_venv: Path, tmp_path: Path):
    config_home = tmp_path / "config"
    (config_home / "warden").mkdir(parents=True)
    (config_home / "warden" / "warden.yaml").write_text(
        "log_level: warn\nassessors: {enabled: [heuristics]}\nbackends: {enabled: [native]}\n"
        f"audit: {{directory: {tmp_path / 'my-audit'}, signing_key: {tmp_path / 'k' / 'a.key'}}}\n"
    )
    env = clean_env(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(config_home))
    script = "import warden\nwith warden.SafetyAPI() as api:\n    print(api.assess_code_only('print(1)')['level'])\n"
    out = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", script],
        env=env, capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "LOW"
    assert list((tmp_path / "my-audit").glob("seg-*.wal"))
    status = subprocess.run(
        [str(fresh_venv / "bin" / "warden"), "audit", "verify"],
        env=env, capture_output=True, text=True,
    )
    assert status.returncode == 0, status.stderr
    # It verified the user's log, not an empty default one.
    assert re.match(r"intact: [1-9][0-9]* records", status.stdout), status.stdout


def test_the_assessors_extra_pins_the_tools_of_python_tools_txt():
    pins = {
        line.split("==")[0]: line.strip()
        for line in (REPO / "scripts" / "python-tools.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    extra = sorted(
        re.sub(r"\s*;.*", "", r).replace(" ", "")
        for r in metadata.requires("warden") or []
        if 'extra == "assessors"' in r
    )
    assert extra == sorted(pins.values())


def test_pip_installed_bandit_is_used_without_settings(wheel: Path, tmp_path: Path):
    """What `pip install 'warden[assessors]'` does, with Bandit only (Semgrep
    is hundreds of megabytes): the package finds the tool in its own venv."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bandit_pin = next(
        r.split(";")[0].replace(" ", "")
        for r in metadata.requires("warden") or []
        if r.startswith("bandit")
    )
    try:
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "--quiet",
             str(wheel), bandit_pin],
            check=True, timeout=300,
        )
    except subprocess.CalledProcessError:
        missing(f"could not install {bandit_pin} from the package index")
    (tmp_path / "warden.yaml").write_text(
        "log_level: warn\nassessors: {enabled: [heuristics, bandit]}\nbackends: {enabled: [native]}\n"
        f"audit: {{directory: {tmp_path / 'audit'}, signing_key: {tmp_path / 'k' / 'a.key'}}}\n"
    )
    script = (
        "import json, os, warden\n"
        f"with warden.SafetyAPI({str(tmp_path / 'warden.yaml')!r}) as api:\n"
        "    r = api.assess_code_only('import pickle\\npickle.loads(b\"\")\\n')\n"
        "print(json.dumps({'venv': os.environ.get('WARDEN_TOOLS_VENV'),\n"
        "                  'assessors': r['assessors'], 'findings': r['findings']}))\n"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        env=clean_env(HOME=str(tmp_path)), capture_output=True, text=True, check=True,
    )
    answer = json.loads(out.stdout)
    assert answer["venv"] == str(venv)
    bandit = next(a for a in answer["assessors"] if a["name"] == "bandit")
    assert bandit["status"] == "ok", bandit
    reported = [f["assessor"] for f in answer["findings"]] + [
        a for f in answer["findings"] for a in f.get("also_reported_by", [])
    ]
    assert any(r.startswith("bandit") for r in reported), answer["findings"]


@pytest.fixture
def ordinary_user() -> Iterator[pwd.struct_passwd]:
    """A new unprivileged user with a home folder of its own, removed after."""
    if os.geteuid() != 0:
        pytest.skip("skipped: making an unprivileged user needs root (the tests run as "
                    f"{pwd.getpwuid(os.geteuid()).pw_name}, run them as root to test this)")
    if shutil.which("useradd") is None or shutil.which("runuser") is None:
        missing("useradd and runuser are needed to test as an ordinary user")
    name = f"wardent{uuid.uuid4().hex[:8]}"
    home = Path(tempfile.mkdtemp(prefix="warden-user-"))
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", name],
        check=True,
    )
    try:
        user = pwd.getpwnam(name)
        os.chown(home, user.pw_uid, user.pw_gid)
        yield user
    finally:
        subprocess.run(["userdel", name], check=False)
        shutil.rmtree(home, ignore_errors=True)


def as_user(user: pwd.struct_passwd, argv: List[str]) -> subprocess.CompletedProcess:
    """``argv`` run as ``user``, with neither HOME nor XDG folders set (a
    service account's environment)."""
    return subprocess.run(
        ["runuser", "-u", user.pw_name, "--", "env", "-i", "PATH=/usr/bin:/bin", *argv],
        capture_output=True, text=True, cwd="/",
    )


def test_an_ordinary_user_assesses_and_audits_and_runs_are_refused_clearly(ordinary_user):
    python = str(Path(sys.prefix) / "bin" / "python")
    script = (
        "import json, warden.mai\n"
        "with warden.mai.SafetyAPI() as api:\n"
        "    a = api.assess_code_only('print(1)')\n"
        "    r = api.assess_and_execute('print(1)')\n"
        "    s = api.get_security_status()\n"
        "print(json.dumps({'assessed': a['security_level'], 'run': r,\n"
        "                  'sandbox': s['components']['sandbox_executor'],\n"
        "                  'native': s['components']['details']['sandbox:native'],\n"
        "                  'integrity': s['audit_integrity']['valid']}))\n"
    )
    out = as_user(ordinary_user, [python, "-c", script])
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    # Assessment, policy and the audit log work, the log in the user's home
    # folder (from passwd: HOME is not set).
    assert answer["assessed"] in ("LOW", "MEDIUM", "HIGH")
    assert answer["integrity"] is True
    audit = Path(ordinary_user.pw_dir) / ".local" / "state" / "warden" / "audit"
    segments = list(audit.glob("seg-*.wal"))
    assert segments and all(p.stat().st_uid == ordinary_user.pw_uid for p in segments)
    # Running is refused, saying why, and nothing ran.
    assert answer["sandbox"] == "degraded"
    assert answer["native"]["available"] is False
    assert "root" in answer["native"]["reason"]
    run = answer["run"]
    assert run["success"] is False
    assert "execution" not in run or run["execution"] == {}
    assert run.get("error") or run.get("reason")

    verify = as_user(ordinary_user, [str(Path(sys.prefix) / "bin" / "warden"), "audit", "verify"])
    assert verify.returncode == 0, verify.stdout + verify.stderr
