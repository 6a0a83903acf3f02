"""A private nginx in front of a gateway, running the configuration documented in docs/operations.md.

Debian's nginx is installed by `scripts/ensure-nginx.sh` where it is missing (the package's service is
never started). Each `NginxProxy` is its own master process: its own prefix directory, pid file,
logs and free port, stopped by its pid; the system's nginx, if any, is never touched.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testkit.processes import ROOT, OnLoopback, free_port, port_open
from testkit.waiting import timeout, wait_until

NGINX = Path("/usr/sbin/nginx")
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
# What the test replaces in the documented block: the listen port, the upstream, the log directory,
# and the sizes of the per-address limits (small enough to pass in a test, large enough for the
# browser test's sockets: at most 4 open at once, 4 opened).
DOC_LISTEN = "listen 80;"
DOC_UPSTREAM = "server 127.0.0.1:8000;"
DOC_LOG_DIR = "/var/log/nginx/"
DOC_STREAMS = "limit_conn gateway_streams_per_ip 200;"
DOC_RATE = "rate=20r/s;"
DOC_BURST = "burst=100 nodelay;"
STREAMS_PER_ADDRESS = 5
OPENS_BURST = 10  # with a rate of 1 a minute: 1 + OPENS_BURST opens pass, then 429
STREAM_LOCATIONS = 2  # /ws/ and /sse/ hold the same two limit lines


def nginx_binary() -> Path:
    """Debian's nginx, installed on first use where missing; a failure names what is missing."""
    if not NGINX.is_file():
        result = subprocess.run(
            [str(ROOT / "scripts" / "ensure-nginx.sh")], capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not NGINX.is_file():
            pytest.fail(f"nginx is required at {NGINX} (Debian package `nginx`): {result.stderr.strip()}")
    return NGINX


def documented_config(doc: Path = OPERATIONS_DOC) -> str:
    """The ```nginx block of the "Behind nginx" section, exactly as operators read it."""
    section = doc.read_text().split("## Behind nginx", 1)
    if len(section) != 2:
        pytest.fail(f"{doc} has no '## Behind nginx' section")
    blocks = re.findall(r"```nginx\n(.*?)```", section[1].split("\n## ", 1)[0], re.DOTALL)
    if len(blocks) != 1:
        pytest.fail(f"expected one nginx block under 'Behind nginx' in {doc}, found {len(blocks)}")
    return str(blocks[0])


def _replace_once(text: str, old: str, new: str, times: int = 1) -> str:
    if text.count(old) != times:
        pytest.fail(f"the documented nginx configuration should hold {old!r} exactly {times} time(s)")
    return text.replace(old, new)


@dataclass
class NginxProxy(OnLoopback):
    """nginx on a free port, proxying to the gateway on `upstream_port` with the documented config."""

    upstream_port: int
    tls: tuple[Path, Path] | None = None  # a certificate and its key: TLS and HTTP/2 on the port
    port: int = field(default_factory=free_port)
    prefix: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nginx-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "codestory-gateway.access.log"

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    def config(self) -> str:
        site = documented_config()
        listen = f"listen 127.0.0.1:{self.port};"
        if self.tls is not None:
            cert, key = self.tls
            listen = f"listen 127.0.0.1:{self.port} ssl http2;\n    ssl_certificate {cert};\n"
            listen += f"    ssl_certificate_key {key};"
        site = _replace_once(site, DOC_LISTEN, listen)
        site = _replace_once(site, DOC_UPSTREAM, f"server 127.0.0.1:{self.upstream_port};")
        site = _replace_once(site, DOC_LOG_DIR, f"{self.prefix}/logs/")
        streams = f"limit_conn gateway_streams_per_ip {STREAMS_PER_ADDRESS};"
        site = _replace_once(site, DOC_STREAMS, streams, STREAM_LOCATIONS)
        site = _replace_once(site, DOC_RATE, "rate=1r/m;")
        site = _replace_once(site, DOC_BURST, f"burst={OPENS_BURST} nodelay;", STREAM_LOCATIONS)
        temp = "\n".join(
            f"    {kind}_temp_path {self.prefix / 'temp' / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            f"{user}daemon off;\nworker_processes 1;\npid {self.prefix}/nginx.pid;\n"
            f"error_log {self.error_log} info;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n{temp}\n{site}}}\n"
        )

    def start(self) -> NginxProxy:
        binary = nginx_binary()
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        (self.prefix / "temp").mkdir(exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config())
        command = [str(binary), "-p", str(self.prefix), "-c", str(conf), "-e", str(self.error_log)]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            pytest.fail(f"nginx refused the documented configuration:\n{checked.stderr}\n{conf.read_text()}")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: port_open("127.0.0.1", self.port), 10, f"nginx on port {self.port}")
        return self

    def stop(self) -> None:
        """Stop this nginx by its own pid (SIGQUIT: finish requests, close logs)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=timeout(10))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
