"""The worker SDK as a worker installs it: its wheel, built from packages/worker and installed into a
fresh virtualenv, brings two top-level packages, `codestory_progress_worker` and redis-py's `redis`,
and none of the gateway's generic ones (`domain`, `adapters`, `entrypoints`, `progress_client`)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from testkit.processes import ROOT
from testkit.waiting import timeout

logger = logging.getLogger(__name__)

SDK = ROOT / "packages" / "worker"
GATEWAY_PACKAGES = ("domain", "adapters", "entrypoints", "progress_client")
PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]


def run(*command: str | Path) -> str:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=timeout(240), check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_brings_only_the_sdk_and_redis_into_a_fresh_environment(tmp_path: Path) -> None:
    run(sys.executable, *PIP, "wheel", "--no-deps", "--wheel-dir", tmp_path / "dist", SDK)
    (wheel,) = (tmp_path / "dist").glob("codestory_progress_worker-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    before = {entry.name for entry in site.iterdir()}

    logger.info("pip install %s:\n%s", wheel.name, run(python, *PIP, "install", wheel))

    new = {entry.name for entry in site.iterdir()} - before
    assert {name for name in new if not name.endswith(".dist-info")} == {"codestory_progress_worker", "redis"}
    assert {name.split("-")[0] for name in new if name.endswith(".dist-info")} == {
        "codestory_progress_worker",
        "redis",
    }
    probe = (
        "import importlib.util, codestory_progress_worker, codestory_progress_worker.aio;"
        f"print([n for n in {GATEWAY_PACKAGES!r} if importlib.util.find_spec(n)])"
    )
    assert run(python, "-I", "-c", probe).strip() == "[]"
