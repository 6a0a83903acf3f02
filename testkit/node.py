"""Node.js for the tests of the JavaScript client: its rules run in Node, its package built by npm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testkit.processes import ROOT
from testkit.waiting import timeout

CLIENT_JS = ROOT / "packages" / "client" / "js"
# npm without the network: no update check, no audit, no funding message.
NPM_ENV = {"npm_config_update_notifier": "false", "npm_config_audit": "false", "npm_config_fund": "false"}


def tool(name: str) -> str:
    """The path of `node` or `npm`; a missing one fails the test (`make unit` installs Debian's)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for the JavaScript client's tests (scripts/ensure-node.sh)")
    return path


def run_module(source: str, payload: object, cwd: Path | None = None) -> Any:
    """Run the ES module `source` in Node (bare imports resolved from `cwd`'s node_modules) with
    `payload` as JSON on stdin; its stdout, as JSON."""
    done = subprocess.run(
        [tool("node"), "--input-type=module", "-e", source],
        input=json.dumps(payload),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout(30),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def npm_pack(destination: Path) -> tuple[Path, list[str]]:
    """`npm pack` of the JavaScript client into `destination`: the tarball and the files it holds."""
    done = subprocess.run(
        [tool("npm"), "pack", "--json", "--pack-destination", str(destination)],
        cwd=CLIENT_JS,
        env={**os.environ, **NPM_ENV},
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (packed,) = json.loads(done.stdout)
    return destination / packed["filename"], sorted(f["path"] for f in packed["files"])
