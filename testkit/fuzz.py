"""Hostile input for the fuzz test: malformed HTTP heads and WebSocket frames, from a seeded
`random.Random`, so that a failing run is reproduced by its seed (FUZZ_SEED)."""

from __future__ import annotations

import random
import struct

from testkit.wsframes import BINARY, CLOSE, CONT, PING, PONG, TEXT, masked, upgrade_request

HEAD_LINES = [
    b"Host: 127.0.0.1",
    b"Upgrade: websocket",
    b"Connection: Upgrade",
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    b"Sec-WebSocket-Version: 13",
    b"Sec-WebSocket-Protocol: bearer, x.y.z",
    b"Origin: http://evil.example",
    b"Content-Length: 5",
    b"Transfer-Encoding: chunked",
    b"Expect: 100-continue",
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
]
PATHS = [b"/ws/user/stories", b"/ws/stories/x/progress", b"/healthz", b"/metrics", b"/readyz", b"/", b"*"]


def http_head(rng: random.Random) -> bytes:
    """A request head that is wrong in one to three ways: method, path, version, lines, bytes."""
    method = rng.choice([b"GET", b"POST", b"OPTIONS", b"G\x00T", b"GET" * 50, b""])
    path = rng.choice(PATHS) + rng.choice([b"", b"?token=%00", b"?" + b"a" * rng.randrange(9000), b"%ff"])
    version = rng.choice([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 junk", b""])
    lines = rng.sample(HEAD_LINES, rng.randrange(len(HEAD_LINES)))
    lines += [rng.randbytes(rng.randrange(1, 40)) for _ in range(rng.randrange(3))]
    if rng.random() < 0.1:
        lines.append(b"X-Big: " + b"b" * rng.randrange(5000, 70000))
    head = b" ".join([method, path, version]) + b"\r\n" + b"".join(line + b"\r\n" for line in lines)
    head += rng.choice([b"\r\n", b"", b"\n", b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", b"\r\n" + rng.randbytes(64)])
    return _mangle(rng, head)


def frames(rng: random.Random) -> bytes:
    """One to eight client frames, most of them wrong: reserved opcodes or bits, no mask, control
    frames too long or fragmented, invalid UTF-8, bad close codes, lengths that lie."""
    return b"".join(_frame(rng) for _ in range(rng.randrange(1, 9)))


def upgrade(rng: random.Random, port: int, path: str) -> bytes:
    return upgrade_request(port, path) if rng.random() < 0.9 else _mangle(rng, upgrade_request(port, path))


def _frame(rng: random.Random) -> bytes:
    kind = rng.randrange(12)
    if kind == 0:  # a reserved opcode, or reserved bits
        return bytes([rng.choice([0x83, 0x87, 0x8B, 0x8F, 0xC1, 0xA1, 0x91])]) + masked(TEXT, b"x")[1:]
    if kind == 1:  # not masked
        return bytes([0x81, 5]) + b"hello"
    if kind == 2:  # a control frame over 125 bytes, or fragmented
        return masked(rng.choice([PING, PONG, CLOSE]), b"c" * rng.choice([126, 200]), fin=rng.random() < 0.5)
    if kind == 3:  # invalid UTF-8, whole or across fragments
        return masked(TEXT, b"ok \xc3", fin=False) + masked(CONT, b"\x28 not utf-8")
    if kind == 4:  # a close frame with a code no one may send, or a reason that is not UTF-8
        code = rng.choice([0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535])
        return masked(CLOSE, struct.pack("!H", code) + rng.choice([b"", b"\xff\xfe"]))
    if kind == 5:  # a length that lies: the header announces far more than follows
        return (
            bytes([0x81, 0xFF])
            + struct.pack("!Q", rng.choice([2**63 - 1, 2**40, 70000]))
            + b"mask"
            + b"x" * 10
        )
    if kind == 6:  # a continuation with nothing to continue
        return masked(CONT, b"orphan")
    if kind == 7:  # a message left unfinished
        return masked(TEXT, b"status", fin=False)
    if kind == 8:  # binary
        return masked(BINARY, rng.randbytes(rng.randrange(1, 200)))
    if kind == 9:  # big text
        return masked(TEXT, b"a" * rng.choice([4097, 65536]))
    if kind == 10:  # commands, some valid
        return masked(TEXT, rng.choice([b"ping", b"status", b"auth ", b"auth x.y.z", b"cancel", b"\x00"]))
    return rng.randbytes(rng.randrange(1, 64))  # noise


def _mangle(rng: random.Random, data: bytes) -> bytes:
    """Cut, flip or duplicate a few bytes."""
    mangled = bytearray(data)
    for _ in range(rng.randrange(3)):
        if not mangled:
            break
        at = rng.randrange(len(mangled))
        choice = rng.randrange(3)
        if choice == 0:
            mangled[at] = rng.randrange(256)
        elif choice == 1:
            del mangled[at:]
        else:
            mangled[at:at] = mangled[at : at + rng.randrange(1, 20)]
    return bytes(mangled)
