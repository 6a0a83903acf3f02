"""load_settings: what `serve` needs from the environment, and one error naming each bad variable."""

from __future__ import annotations

from dataclasses import fields

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from entrypoints.setting_checks import SettingsError
from entrypoints.settings import SETTINGS, Settings, load_settings

SECRET = "s" * 32
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


PEM = public_pem(RSA_KEY)
VALID = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgresql+asyncpg://app@127.0.0.1:5432/app",
    "JWT_SECRET": SECRET,
}


def test_the_required_variables_are_enough_and_the_rest_has_contract_defaults() -> None:
    settings = load_settings(VALID)

    assert settings == Settings(
        jwt_key=SECRET, redis_url=VALID["REDIS_URL"], database_url=VALID["DATABASE_URL"]
    )
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert (settings.keepalive_seconds, settings.slow_client_seconds) == (30.0, 30.0)
    assert settings.snapshot_ttl_seconds == 604800
    assert settings.jwt_algorithms == ("HS256",)
    assert settings.allowed_origins == ()


def test_every_variable_is_read() -> None:
    settings = load_settings(
        {
            **VALID,
            "JWT_ALGORITHMS": "HS256, HS512",
            "JWT_AUDIENCE": "codestory",
            "JWT_ISSUER": "https://auth.example",
            "HOST": "10.1.2.3",
            "PORT": "9000",
            "ALLOWED_ORIGINS": "https://a.example, https://b.example,",
            "KEEPALIVE_SECONDS": "12.5",
            "SLOW_CLIENT_SECONDS": "7",
            "SNAPSHOT_TTL_SECONDS": "3600",
            "REDIS_KEY_PREFIX": "prod:",
        }
    )

    assert settings.jwt_algorithms == ("HS256", "HS512")
    assert (settings.jwt_audience, settings.jwt_issuer) == ("codestory", "https://auth.example")
    assert (settings.host, settings.port) == ("10.1.2.3", 9000)
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert (settings.keepalive_seconds, settings.slow_client_seconds) == (12.5, 7.0)
    assert (settings.snapshot_ttl_seconds, settings.redis_key_prefix) == (3600, "prod:")


def test_a_public_key_selects_rs256_or_es256_by_its_type() -> None:
    env = {k: v for k, v in VALID.items() if k != "JWT_SECRET"}

    rsa_settings = load_settings({**env, "JWT_PUBLIC_KEY": PEM})
    ec_settings = load_settings({**env, "JWT_PUBLIC_KEY": public_pem(EC_KEY)})

    assert (rsa_settings.jwt_key, rsa_settings.jwt_algorithms) == (PEM, ("RS256",))
    assert ec_settings.jwt_algorithms == ("ES256",)


@pytest.mark.parametrize(
    ("key", "algorithms"),
    [
        ("-----BEGIN PUBLIC KEY-----\nMFkw...\n-----END PUBLIC KEY-----", None),
        (RSA_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(), None),
        (public_pem(EC_KEY), "RS256"),
    ],
    ids=["malformed", "a private key", "EC key for RS256"],
)
def test_a_public_key_that_cannot_verify_stops_serve(key: str, algorithms: str | None) -> None:
    env = {k: v for k, v in VALID.items() if k != "JWT_SECRET"}
    extra = {"JWT_ALGORITHMS": algorithms} if algorithms else {}

    with pytest.raises(SettingsError, match=r"^JWT_PUBLIC_KEY is not a PEM public key for"):
        load_settings({**env, "JWT_PUBLIC_KEY": key, **extra})


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"REDIS_URL": "  "}, "REDIS_URL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://app@db/app"}, "DATABASE_URL"),
        ({"JWT_SECRET": None}, "JWT_SECRET"),
        ({"JWT_SECRET": "too-short"}, "JWT_SECRET"),
        ({"JWT_SECRET": "é" * 15}, "JWT_SECRET"),
        ({"JWT_ALGORITHMS": "RS256"}, "JWT_ALGORITHMS"),
        ({"JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
        ({"JWT_ALGORITHMS": " , "}, "JWT_ALGORITHMS"),
        ({"JWT_SECRET": None, "JWT_PUBLIC_KEY": PEM, "JWT_ALGORITHMS": "HS256"}, "JWT_ALGORITHMS"),
        ({"JWT_SECRET": None, "JWT_PUBLIC_KEY": "not a key"}, "JWT_PUBLIC_KEY"),
        ({"KEEPALIVE_SECONDS": "thirty"}, "KEEPALIVE_SECONDS"),
        ({"KEEPALIVE_SECONDS": "0"}, "KEEPALIVE_SECONDS"),
        ({"SLOW_CLIENT_SECONDS": "-1"}, "SLOW_CLIENT_SECONDS"),
        ({"SNAPSHOT_TTL_SECONDS": "week"}, "SNAPSHOT_TTL_SECONDS"),
        ({"SNAPSHOT_TTL_SECONDS": "0"}, "SNAPSHOT_TTL_SECONDS"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"PORT": "-1"}, "PORT"),
    ],
)
def test_a_missing_or_malformed_variable_is_named(changes: dict[str, str | None], variable: str) -> None:
    env = {**VALID, **changes}

    with pytest.raises(SettingsError) as refused:
        load_settings({k: v for k, v in env.items() if v is not None})

    assert variable in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "variable", ["KEEPALIVE_SECONDS", "SLOW_CLIENT_SECONDS", "SNAPSHOT_TTL_SECONDS", "PORT"]
)
def test_nan_is_a_malformed_number(variable: str) -> None:
    """float("nan") parses, but compares false with every bound: it must not slip through or crash."""
    with pytest.raises(SettingsError) as refused:
        load_settings({**VALID, variable: "nan"})

    assert variable in str(refused.value)


def test_the_secret_never_appears_in_the_error() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**VALID, "JWT_SECRET": "hunter2-secret"})

    assert "hunter2" not in str(refused.value)


def test_the_operational_settings_have_contract_defaults() -> None:
    settings = load_settings(VALID)

    assert (settings.redis_mode, settings.workers) == ("standalone", 1)
    assert (settings.log_format, settings.log_level) == ("text", "INFO")
    assert (settings.handshake_timeout_seconds, settings.max_connections) == (5.0, 50000)


def test_the_operational_settings_are_read() -> None:
    settings = load_settings(
        {
            **VALID,
            "REDIS_MODE": "cluster",
            "WORKERS": "4",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "debug",
            "HANDSHAKE_TIMEOUT_SECONDS": "1.5",
            "MAX_CONNECTIONS": "20",
        }
    )

    assert (settings.redis_mode, settings.workers) == ("cluster", 4)
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    assert (settings.handshake_timeout_seconds, settings.max_connections) == (1.5, 20)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_MODE", "sentinel"),
        ("WORKERS", "0"),
        ("WORKERS", "1.5"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("HANDSHAKE_TIMEOUT_SECONDS", "0"),
        ("MAX_CONNECTIONS", "many"),
        ("MAX_CONNECTIONS", "0"),
    ],
)
def test_a_bad_operational_setting_is_named(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**VALID, variable: value})

    assert str(refused.value).startswith(variable)


def test_every_settings_field_is_declared_once() -> None:
    """The declarations are the one place: a field without one could never be configured."""
    declared = [s.field for s in SETTINGS if s.field]
    internal = {"jwt_key", "jwt_algorithms", "backend", "demo_page"}

    assert len(declared) == len(set(declared))
    assert set(declared) == {f.name for f in fields(Settings)} - internal


def test_commands_other_than_serve_need_only_their_variables() -> None:
    settings = load_settings({"REDIS_URL": "redis://127.0.0.1:6379/0"}, needs={"REDIS_URL"})

    assert (settings.redis_url, settings.database_url, settings.jwt_key) == (
        "redis://127.0.0.1:6379/0",
        "",
        "",
    )


def test_ownership_ttl_is_sixty_seconds_by_default_and_must_be_positive() -> None:
    assert load_settings(VALID).ownership_ttl_seconds == 60.0
    assert load_settings({**VALID, "OWNERSHIP_TTL_SECONDS": "2.5"}).ownership_ttl_seconds == 2.5
    with pytest.raises(SettingsError, match="OWNERSHIP_TTL_SECONDS"):
        load_settings({**VALID, "OWNERSHIP_TTL_SECONDS": "0"})
