"""Every setting in one place: its variable, default, help text and check; a bad value names its variable.

`SETTINGS` declares them (the README's table; docs/protocol.md, the contract, names those clients and
workers meet); `load_settings` reads the environment through those declarations for every command,
and `settings_help` turns them into the `--help` epilog, so the documentation of a setting cannot
drift from its parser.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from entrypoints import setting_checks as check
from entrypoints.jwt_settings import jwt_key
from entrypoints.setting_checks import Parse, SettingsError

Backend = Literal["real", "memory"]
RedisMode = Literal["standalone", "cluster"]
LogFormat = Literal["text", "json"]
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
    stalled_after_seconds: float = 120.0
    backend: Backend = "real"
    demo_page: bool = False


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: the `Settings` field it fills ("" for the JWT key, read as a
    whole), its default as text ("" when unset), and the check that turns text into a value."""

    variable: str
    field: str
    default: str
    help: str
    parse: Parse


SETTINGS: tuple[Setting, ...] = (
    Setting("REDIS_URL", "redis_url", "", "Redis: redis://, rediss:// or unix:// (serve, publish)",
            check.urls("redis://", "rediss://", "unix://")),
    Setting("REDIS_MODE", "redis_mode", "standalone", "standalone or cluster (Redis Cluster)",
            check.choice("standalone", "cluster")),
    Setting("REDIS_KEY_PREFIX", "redis_key_prefix", "", "prefix of every Redis key and channel", check.text),
    Setting("DATABASE_URL", "database_url", "", "PostgreSQL, postgresql+asyncpg://... (serve, init-db)",
            check.urls("postgresql+asyncpg://")),
    Setting("JWT_SECRET", "", "", "HS256 secret, at least 32 bytes (serve, token)", check.text),
    Setting("JWT_PUBLIC_KEY", "", "", "PEM public key for RS*/ES*/PS*/EdDSA, instead of a secret",
            check.text),
    Setting("JWT_ALGORITHMS", "", "", "comma list; default HS256 with a secret, RS256/ES256 with a key",
            check.text),
    Setting("JWT_AUDIENCE", "jwt_audience", "", "the audience tokens must name (unset: any `aud` is refused)",
            check.optional),
    Setting("JWT_ISSUER", "jwt_issuer", "", "checked when set", check.optional),
    Setting("HOST", "host", "127.0.0.1", "listen address", check.text),
    Setting("PORT", "port", "8000", "listen port", check.number(0, 65535, integer=True)),
    Setting("WORKERS", "workers", "1", "processes of serve on one port", check.number(1, integer=True)),
    Setting("ALLOWED_ORIGINS", "allowed_origins", "", "comma list of browser origins; empty: any",
            check.comma_list),
    Setting("KEEPALIVE_SECONDS", "keepalive_seconds", "30", "server ping after this long without a message",
            check.number(0.01)),
    Setting("SLOW_CLIENT_SECONDS", "slow_client_seconds", "30", "4008 when the client reads nothing so long",
            check.number(0.01)),
    Setting("SNAPSHOT_TTL_SECONDS", "snapshot_ttl_seconds", "604800", "TTL of story:{id}:progress",
            check.number(1, integer=True)),
    Setting("HANDSHAKE_TIMEOUT_SECONDS", "handshake_timeout_seconds", "5",
            "a request head not complete by then is closed", check.number(0.01)),
    Setting("MAX_CONNECTIONS", "max_connections", "50000",
            "open connections per process; beyond it HTTP 503", check.number(1, integer=True)),
    Setting("MAX_CONNECTIONS_PER_USER", "max_connections_per_user", "100",
            "open connections of one user per process; beyond it close 4029", check.number(1, integer=True)),
    Setting("OWNERSHIP_TTL_SECONDS", "ownership_ttl_seconds", "60",
            "a confirmed story owner is trusted so long, then asked again", check.number(0.1)),
    Setting("STALLED_AFTER_SECONDS", "stalled_after_seconds", "120",
            "a watched story with no update nor heartbeat so long is sent again with stalled: true",
            check.number(0.1)),
    Setting("LOG_FORMAT", "log_format", "text", "text or json (one object a line)",
            check.choice("text", "json")),
    Setting("LOG_LEVEL", "log_level", "INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL",
            check.choice(*_LEVELS, upper=True)),
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
    key, algorithms = jwt_key(env, required="JWT_SECRET" in needs)
    return Settings(jwt_key=key, jwt_algorithms=algorithms, **values)  # type: ignore[arg-type]


def settings_help() -> str:
    """The `--help` epilog: every variable with its default."""
    width = max(len(s.variable) for s in SETTINGS)
    lines = ["settings (environment variables, default in brackets):"]
    for setting in SETTINGS:
        default = f" [{setting.default}]" if setting.default else ""
        lines.append(f"  {setting.variable:<{width}}  {setting.help}{default}")
    return "\n".join(lines)
