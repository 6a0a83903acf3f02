"""Configuration from the environment, as CONTRACT.md lists it; a bad value names its variable."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import jwt

Backend = Literal["real", "memory"]
_HMAC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}


class SettingsError(ValueError):
    """One line that names the variable at fault."""


@dataclass(frozen=True, slots=True)
class Settings:
    jwt_key: str
    redis_url: str = ""
    database_url: str = ""
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_origins: tuple[str, ...] = ()
    keepalive_seconds: float = 30.0
    slow_client_seconds: float = 30.0
    snapshot_ttl_seconds: int = 604800
    redis_key_prefix: str = ""
    backend: Backend = "real"
    demo_page: bool = False


def load_settings(env: Mapping[str, str]) -> Settings:
    """Settings for `serve`: Redis, PostgreSQL and a JWT key are required."""
    redis_url = _required(env, "REDIS_URL")
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("REDIS_URL must start with redis://, rediss:// or unix://")
    database_url = _required(env, "DATABASE_URL")
    if not database_url.startswith("postgresql+asyncpg://"):
        raise SettingsError("DATABASE_URL must start with postgresql+asyncpg://")
    key, algorithms = _jwt_key(env)
    return Settings(
        jwt_key=key,
        redis_url=redis_url,
        database_url=database_url,
        jwt_algorithms=algorithms,
        jwt_audience=env.get("JWT_AUDIENCE") or None,
        jwt_issuer=env.get("JWT_ISSUER") or None,
        host=env.get("HOST", "127.0.0.1"),
        port=int(_number(env, "PORT", 8000, minimum=0, maximum=65535)),
        allowed_origins=tuple(o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip()),
        keepalive_seconds=_number(env, "KEEPALIVE_SECONDS", 30.0, minimum=0.01),
        slow_client_seconds=_number(env, "SLOW_CLIENT_SECONDS", 30.0, minimum=0.01),
        snapshot_ttl_seconds=int(_number(env, "SNAPSHOT_TTL_SECONDS", 604800, minimum=1)),
        redis_key_prefix=env.get("REDIS_KEY_PREFIX", ""),
    )


def _jwt_key(env: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    secret, public_key = env.get("JWT_SECRET", ""), env.get("JWT_PUBLIC_KEY", "")
    if not secret and not public_key:
        raise SettingsError("JWT_SECRET (or JWT_PUBLIC_KEY) is required")
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
    """The default algorithm for a public key: RS256 for RSA, ES256 for EC (what CONTRACT.md names)."""
    return "ES256" if _public_key_fits(public_key, "ES256") else "RS256"


def _public_key_fits(public_key: str, algorithm: str) -> bool:
    """Load the key as the verifier will, so a bad key stops `serve` instead of failing every client."""
    try:
        key = jwt.get_algorithm_by_name(algorithm).prepare_key(public_key)
    except (jwt.PyJWTError, ValueError, TypeError):
        return False
    return not hasattr(key, "private_bytes")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required")
    return value


def _number(
    env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float | None = None
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw[:20]!r}") from None
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        raise SettingsError(f"{name} must be between {minimum} and {maximum or 'any'}")
    return value
