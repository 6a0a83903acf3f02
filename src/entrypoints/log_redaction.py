"""What a log line may not hold: a token in any form a client can send one, or a control character.

`redact` works on what a request means, not on one spelling of it: a query parameter counts by its
percent-decoded name (`?%74oken=`, `?TOKEN=`), the subprotocol list by its items however spaced
(`bearer ,<JWT>`, or the JWT on a header line of its own), a client's `auth <JWT>`, a fragment of a
client's message (a token may be cut across fragments), and anything shaped like a JWT. `escape`
writes every control character (newlines, C1 controls, Unicode line separators, bidi overrides) as
an escape, so that text from a client or the broker can never forge or hide a line.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"

# name=value anywhere: in a request target, a query string, or `TOKEN=` in free text. The name
# starts where no name character precedes it, so `a_token=` is one name, not `token=`.
_PARAMETER = re.compile(r"(?<![A-Za-z0-9%._~+\-])([A-Za-z0-9%._~+\-]+)=([^&;#?\s\"'<>\\]*)")
_SUBPROTOCOLS = re.compile(r"(sec-websocket-protocol\s*:\s*)([^\r\n]*)", re.IGNORECASE)
_BEARER = re.compile(r"(\bbearer\b[\s,]+)([^\s,'\"\\\[\]]+)", re.IGNORECASE)
_AUTH = re.compile(r"(\bauth\s+)(?!ok\b)([^\s'\"\\\[\]]+)", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
# websockets' DEBUG line of a received frame: `< TEXT 'payload' [12 bytes, continued]`.
_FRAGMENT = re.compile(r"^(< (?:TEXT|BINARY|CONT)) .* (\[[^\]]*\])$", re.DOTALL)


def redact(text: str) -> str:
    """`text` without any token in it; text without one comes back as it was."""
    if (fragment := _FRAGMENT.match(text)) and (fragment[1].endswith("CONT") or "continued" in fragment[2]):
        return f"{fragment[1]} {REDACTED} {fragment[2]}"
    lowered = text.lower()  # each rule runs only where its keyword occurs: most lines have none
    if "=" in text:
        text = _PARAMETER.sub(_parameter, text)
    if "sec-websocket-protocol" in lowered:
        text = _SUBPROTOCOLS.sub(_subprotocols, text)
    if "bearer" in lowered:
        text = _BEARER.sub(rf"\1{REDACTED}", text)
    if "auth" in lowered:
        text = _AUTH.sub(rf"\1{REDACTED}", text)
    return _JWT.sub(REDACTED, text) if "eyJ" in text else text


def _parameter(match: re.Match[str]) -> str:
    name, value = match[1], match[2]
    if "token" in _decoded(name).strip().casefold() or _JWT.search(_decoded(value)):
        return f"{name}={REDACTED}"
    return match[0]


def _decoded(text: str) -> str:
    """Percent-decoded until it no longer changes (at most three rounds: `%2574` is `%74` is `t`)."""
    if "%" not in text and "+" not in text:
        return text
    for _ in range(3):
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text


def _subprotocols(match: re.Match[str]) -> str:
    """Every item of the list but `bearer` itself: the token is whichever item is not."""
    items = [item if item.strip().casefold() == "bearer" else REDACTED for item in match[2].split(",")]
    return match[1] + ",".join(items)


_CONTROLS = [*range(0x20), *range(0x7F, 0xA0)]
_SEPARATORS = [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_TEXT_ESCAPES = {
    **{c: f"\\x{c:02x}" for c in _CONTROLS},
    **{c: f"\\u{c:04x}" for c in _SEPARATORS},
    0x09: "\\t",
    0x0A: "\\n",
    0x0D: "\\r",
}
# JSON text: json.dumps already escapes C0; these may appear raw in its strings, and only there.
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), *_SEPARATORS]}


def escape(text: str) -> str:
    """Every control character as a visible escape (`\\n`, `\\x1b`, `\\u2028`): one line stays one."""
    return text.translate(_TEXT_ESCAPES) if _UNSAFE.search(text) else text


def escape_json(text: str) -> str:
    """A JSON text with the characters json.dumps leaves raw but line readers split on, escaped."""
    return text.translate(_JSON_ESCAPES) if _UNSAFE.search(text) else text
