"""The listening sockets of `serve --workers N`: one per worker on one port, bound with SO_REUSEPORT."""

from __future__ import annotations

import socket


def check_port_free(host: str, port: int) -> int:
    """Bind once without SO_REUSEPORT: a port another server listens on fails here, not silently
    shared. Returns the port (the one chosen when `port` is 0)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])


def bind_listener(host: str, port: int) -> socket.socket:
    """Bound, not listening: the worker listens once its app is up, so no client waits on a
    worker that is still starting."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
