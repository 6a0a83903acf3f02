"""Every setting in one place: its variable, default, help text and check; a bad value names its variable.

`SETTINGS` declares them (the README's table; docs/protocol.md, the contract, names those clients and
workers meet); `load_settings` reads the environment through those declarations for every command,
and `settings_help` turns them into the `--help` epilog, so the documentation of a setting cannot
drift from its parser.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import jwt

Backend = Literal["real", "memory"]
RedisMode = Literal["standalone", "cluster"]
LogFormat = Literal["text", "json"]
_HMAC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
    redis_mode: RedisMode = "standalone"
    workers: int = 1
    log_format: LogFormat = "text"
    log_level: str = "INFO"
    handshake_timeout_seconds: float = 5.0
    max_connections: int = 50000
    max_connections_per_user: int = 100
    ownership_ttl_seconds: float = 60.0
    backend: Backend = "real"
    demo_page: bool = False


Parse = Callable[[str, str], object]


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: the `Settings` field it fills ("" for the JWT key, read as a
    whole), its default as text ("" when unset), and the check that turns text into a value."""

    variable: str
    field: str
    default: str
    help: str
    parse: Parse


def _text(name: str, raw: str) -> object:
    return raw


def _optional(name: str, raw: str) -> object:
    return raw or None


def _urls(*schemes: str) -> Parse:
    def parse(name: str, raw: str) -> object:
        if raw and not raw.startswith(schemes):
            raise SettingsError(f"{name} must start with {' or '.join(schemes)}")
        return raw

    return parse


def _number(minimum: float, maximum: float | None = None, *, integer: bool = False) -> Parse:
    def parse(name: str, raw: str) -> object:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {raw[:20]!r}") from None
        if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
            raise SettingsError(
                f"{name} must be between {minimum:g} and {'any' if maximum is None else maximum}"
            )
        if integer and value != int(value):
            raise SettingsError(f"{name} must be a whole number, not {raw[:20]!r}")
        return int(value) if integer else value

    return parse


def _choice(*options: str, upper: bool = False) -> Parse:
    def parse(name: str, raw: str) -> object:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise SettingsError(f"{name} must be one of {', '.join(options)}, not {raw[:20]!r}")
        return value

    return parse


def _comma_list(name: str, raw: str) -> object:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


SETTINGS: tuple[Setting, ...] = (
    Setting("REDIS_URL", "redis_url", "", "Redis: redis://, rediss:// or unix:// (serve, publish)",
            _urls("redis://", "rediss://", "unix://")),
    Setting("REDIS_MODE", "redis_mode", "standalone", "standalone or cluster (Redis Cluster)",
            _choice("standalone", "cluster")),
    Setting("REDIS_KEY_PREFIX", "redis_key_prefix", "", "prefix of every Redis key and channel", _text),
    Setting("DATABASE_URL", "database_url", "", "PostgreSQL, postgresql+asyncpg://... (serve, init-db)",
            _urls("postgresql+asyncpg://")),
    Setting("JWT_SECRET", "", "", "HS256 secret, at least 32 bytes (serve, token)", _text),
    Setting("JWT_PUBLIC_KEY", "", "", "PEM public key for RS*/ES*/PS*/EdDSA, instead of a secret", _text),
    Setting("JWT_ALGORITHMS", "", "", "comma list; default HS256 with a secret, RS256/ES256 with a key",
            _text),
    Setting("JWT_AUDIENCE", "jwt_audience", "", "the audience tokens must name (unset: any `aud` is refused)",
            _optional),
    Setting("JWT_ISSUER", "jwt_issuer", "", "checked when set", _optional),
    Setting("HOST", "host", "127.0.0.1", "listen address", _text),
    Setting("PORT", "port", "8000", "listen port", _number(0, 65535, integer=True)),
    Setting("WORKERS", "workers", "1", "processes of serve on one port", _number(1, integer=True)),
    Setting("ALLOWED_ORIGINS", "allowed_origins", "", "comma list of browser origins; empty: any",
            _comma_list),
    Setting("KEEPALIVE_SECONDS", "keepalive_seconds", "30", "server ping after this long without a message",
            _number(0.01)),
    Setting("SLOW_CLIENT_SECONDS", "slow_client_seconds", "30", "4008 when the client reads nothing so long",
            _number(0.01)),
    Setting("SNAPSHOT_TTL_SECONDS", "snapshot_ttl_seconds", "604800", "TTL of story:{id}:progress",
            _number(1, integer=True)),
    Setting("HANDSHAKE_TIMEOUT_SECONDS", "handshake_timeout_seconds", "5",
            "a request head not complete by then is closed", _number(0.01)),
    Setting("MAX_CONNECTIONS", "max_connections", "50000",
            "open connections per process; beyond it HTTP 503", _number(1, integer=True)),
    Setting("MAX_CONNECTIONS_PER_USER", "max_connections_per_user", "100",
            "open connections of one user per process; beyond it close 4029", _number(1, integer=True)),
    Setting("OWNERSHIP_TTL_SECONDS", "ownership_ttl_seconds", "60",
            "a confirmed story owner is trusted so long, then asked again", _number(0.1)),
    Setting("LOG_FORMAT", "log_format", "text", "text or json (one object a line)", _choice("text", "json")),
    Setting("LOG_LEVEL", "log_level", "INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL",
            _choice(*_LEVELS, upper=True)),
)  # fmt: skip

SERVE_NEEDS = frozenset({"REDIS_URL", "DATABASE_URL", "JWT_SECRET"})


def load_settings(env: Mapping[str, str], needs: Collection[str] = SERVE_NEEDS) -> Settings:
    """Every declared setting, checked; `needs` are the variables this command cannot do without
    (`JWT_SECRET` there means a secret or a public key)."""
    values: dict[str, object] = {}
    for setting in SETTINGS:
        raw = env.get(setting.variable, "").strip()
        if not raw and setting.variable in needs and setting.variable != "JWT_SECRET":
            raise SettingsError(f"{setting.variable} is required")
        if setting.field:
            values[setting.field] = setting.parse(setting.variable, raw or setting.default)
    key, algorithms = _jwt_key(env, required="JWT_SECRET" in needs)
    return Settings(jwt_key=key, jwt_algorithms=algorithms, **values)  # type: ignore[arg-type]


def settings_help() -> str:
    """The `--help` epilog: every variable with its default."""
    width = max(len(s.variable) for s in SETTINGS)
    lines = ["settings (environment variables, default in brackets):"]
    for setting in SETTINGS:
        default = f" [{setting.default}]" if setting.default else ""
        lines.append(f"  {setting.variable:<{width}}  {setting.help}{default}")
    return "\n".join(lines)


def _jwt_key(env: Mapping[str, str], *, required: bool) -> tuple[str, tuple[str, ...]]:
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
