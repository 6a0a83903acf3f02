"""The JWT key and algorithms from `JWT_SECRET`, `JWT_PUBLIC_KEY` and `JWT_ALGORITHMS`: checked as the
verifier will use them, so a bad key stops a command at start instead of failing every client."""

from __future__ import annotations

from collections.abc import Mapping

import jwt

from entrypoints.setting_checks import SettingsError

_HMAC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}


def jwt_key(env: Mapping[str, str], *, required: bool) -> tuple[str, tuple[str, ...]]:
    secret, public_key = env.get("JWT_SECRET", ""), env.get("JWT_PUBLIC_KEY", "")
    if not secret and not public_key:
        if required:
            raise SettingsError("JWT_SECRET (or JWT_PUBLIC_KEY) is required")
        return "", ("HS256",)
    default = _key_algorithm(public_key) if public_key else "HS256"
    algorithms = tuple(a.strip() for a in env.get("JWT_ALGORITHMS", default).split(",") if a.strip())
    allowed = _ASYMMETRIC if public_key else _HMAC
    if not algorithms or not set(algorithms) <= allowed:
        kind = "JWT_PUBLIC_KEY" if public_key else "JWT_SECRET"
        raise SettingsError(f"JWT_ALGORITHMS must be among {sorted(allowed)} with {kind}")
    if public_key:
        for algorithm in algorithms:
            if not _public_key_fits(public_key, algorithm):
                raise SettingsError(f"JWT_PUBLIC_KEY is not a PEM public key for {algorithm}")
        return public_key, algorithms
    if len(secret.encode()) < 32:
        raise SettingsError("JWT_SECRET must be at least 32 bytes long")
    return secret, algorithms


def _key_algorithm(public_key: str) -> str:
    """The default algorithm for a public key: RS256 for RSA, ES256 for EC (what docs/protocol.md names)."""
    return "ES256" if _public_key_fits(public_key, "ES256") else "RS256"


def _public_key_fits(public_key: str, algorithm: str) -> bool:
    """Load the key as the verifier will, so a bad key stops `serve` instead of failing every client."""
    try:
        key = jwt.get_algorithm_by_name(algorithm).prepare_key(public_key)
    except (jwt.PyJWTError, ValueError, TypeError):
        return False
    return not hasattr(key, "private_bytes")
