"""The client distribution as a backend service gets it: its wheel, installed into a fresh venv,
brings `codestory_progress_client` and websockets' package, and nothing else (the `watch` extra
adds rich's); nothing of the gateway. The pip output is kept in artifacts/packaging/."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from testkit.processes import ROOT
from testkit.waiting import timeout

ARTIFACTS = ROOT / "artifacts" / "packaging"
GATEWAY_PACKAGES = {"domain", "adapters", "entrypoints", "progress_client"}
RICH = {"rich": {"rich"}, "markdown-it-py": {"markdown_it"}, "mdurl": {"mdurl"}, "pygments": {"pygments"}}

# Run inside the fresh venv: each distribution's top-level packages and modules, from its RECORD
# (scripts in ../bin, metadata, caches and .pth files are not importable names).
TOP_LEVELS = """
import json, importlib.metadata as md
def top(path):
    first = path.parts[0]
    skip = first in ("..", "__pycache__") or first.endswith((".dist-info", ".pth"))
    return None if skip else first.split(".")[0]
found = {d.metadata["Name"].lower().replace("_", "-"): sorted({top(f) for f in d.files or ()} - {None})
         for d in md.distributions()}
print(json.dumps(found))
"""


def run(*command: str | Path) -> str:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=timeout(180), check=False
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


def installed(python: Path) -> dict[str, set[str]]:
    found: dict[str, Any] = json.loads(run(python, "-c", TOP_LEVELS))
    return {name: set(tops) for name, tops in found.items()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--wheel-dir",
        dist,
        ROOT / "packages/client",
    )
    (built,) = dist.glob("codestory_progress_client-*.whl")
    return built


def test_the_wheel_holds_the_namespaced_package_alone(wheel: Path) -> None:
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}

    assert tops == {"codestory_progress_client", wheel.name.split("-py3")[0] + ".dist-info"}


def test_a_fresh_venv_gets_the_client_and_websockets_and_with_watch_rich(wheel: Path, tmp_path: Path) -> None:
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    before = installed(python)

    plain = run(python, "-m", "pip", "install", "--disable-pip-version-check", wheel)
    after_plain = installed(python)
    watch = tmp_path / "venv" / "bin" / "codestory-progress-watch"
    no_rich = subprocess.run(
        [watch, "some-story", "--token", "t"], capture_output=True, text=True, check=False
    )
    extra = run(python, "-m", "pip", "install", "--disable-pip-version-check", f"{wheel}[watch]")
    after_extra = installed(python)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "client-pip-install.txt").write_text(
        f"$ pip install {wheel.name}\n{plain}\n$ pip install '{wheel.name}[watch]'\n{extra}"
    )

    new_plain = {name: tops for name, tops in after_plain.items() if name not in before}
    new_extra = {name: tops for name, tops in after_extra.items() if name not in after_plain}
    assert new_plain == {
        "codestory-progress-client": {"codestory_progress_client"},
        "websockets": {"websockets"},
    }
    assert new_extra == RICH
    assert not set().union(*after_extra.values()) & GATEWAY_PACKAGES
    assert (no_rich.returncode, no_rich.stdout) == (2, "")
    assert "codestory-progress-client[watch]" in no_rich.stderr
    assert "--json" in run(watch, "--help")
