"""The command line: `serve` with a bad environment stops at once with one line naming the variable."""

from __future__ import annotations

import os

import pytest

from adapters.jwt_tokens import JwtTokenVerifier
from entrypoints.cli import main
from entrypoints.settings import SETTINGS

STORY = "6f1c2c4e-0000-4000-8000-000000000000"

VALID = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgresql+asyncpg://app@127.0.0.1:5432/app",
    "JWT_SECRET": "s" * 32,
}


@pytest.fixture
def empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        monkeypatch.delenv(name)


@pytest.mark.usefixtures("empty_environment")
def test_serve_without_any_setting_exits_2_naming_the_first_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve"]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["codestory-progress serve: REDIS_URL is required"]


@pytest.mark.usefixtures("empty_environment")
@pytest.mark.parametrize(
    ("missing", "malformed", "variable"),
    [
        ("DATABASE_URL", {}, "DATABASE_URL"),
        ("JWT_SECRET", {}, "JWT_SECRET"),
        ("", {"KEEPALIVE_SECONDS": "soon"}, "KEEPALIVE_SECONDS"),
        ("", {"JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
        ("", {"PORT": "nan"}, "PORT"),
        ("", {"WORKERS": "two"}, "WORKERS"),
        ("", {"WORKERS": "0"}, "WORKERS"),
    ],
    ids=[
        "no-database-url",
        "no-jwt-secret",
        "keepalive-not-a-number",
        "algorithm-none",
        "port-nan",
        "workers-not-a-number",
        "workers-zero",
    ],
)
def test_serve_names_the_one_bad_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    missing: str,
    malformed: dict[str, str],
    variable: str,
) -> None:
    for name, value in {**VALID, **malformed}.items():
        if name != missing:
            monkeypatch.setenv(name, value)

    assert main(["serve"]) == 2

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("codestory-progress serve: ")
    assert variable in lines[0]


@pytest.mark.usefixtures("empty_environment")
def test_token_without_a_secret_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "6f1c2c4e-0000-4000-8000-000000000000"]) == 2

    assert "JWT_SECRET" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["launch"])

    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "two"])
def test_serve_workers_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", value])

    assert exited.value.code == 2
    assert "--workers: a whole number, at least 1" in capsys.readouterr().err


def test_serve_help_lists_every_setting_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    for setting in SETTINGS:
        line = next((line for line in out.splitlines() if line.split()[:1] == [setting.variable]), None)
        assert line is not None, f"{setting.variable} missing from serve --help"
        if setting.default:
            assert line.endswith(f"[{setting.default}]"), line


@pytest.mark.usefixtures("empty_environment")
@pytest.mark.parametrize(
    ("argv", "env", "variable"),
    [
        (
            ["publish", STORY, "generating", "5", "x"],
            {"REDIS_URL": "redis://h", "SNAPSHOT_TTL_SECONDS": "week"},
            "SNAPSHOT_TTL_SECONDS",
        ),
        (["publish", STORY, "generating", "5", "x"], {}, "REDIS_URL"),
        (["publish", STORY, "generating", "5", "x"], {"REDIS_URL": "http://x"}, "REDIS_URL"),
        (["publish", "not-a-uuid", "generating", "5", "x"], {"REDIS_URL": "redis://h"}, "story_id"),
        (["publish", STORY, "generating", "5", "x" * 1001], {"REDIS_URL": "redis://h"}, "current_step"),
        (["publish", STORY, "generating", "5", "x", "--user", "me"], {"REDIS_URL": "redis://h"}, "--user"),
        (
            ["publish", STORY, "generating", "5", "x"],
            {"REDIS_URL": "redis://h", "REDIS_MODE": "cluster"},
            "--user",
        ),
        (["revoke", STORY], {}, "REDIS_URL"),
        (["revoke", "not-a-uuid"], {"REDIS_URL": "redis://h"}, "story_id"),
        (["token", STORY], {"JWT_SECRET": "short"}, "JWT_SECRET"),
        (["token", STORY], {"JWT_SECRET": "s" * 32, "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        (["init-db"], {}, "DATABASE_URL"),
        (["init-db"], {"DATABASE_URL": "postgresql://x/y"}, "DATABASE_URL"),
        (["demo"], {"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
    ids=[
        "publish-bad-ttl",
        "publish-no-redis",
        "publish-bad-redis",
        "publish-bad-story",
        "publish-step-too-long",
        "publish-bad-user",
        "publish-cluster-without-user",
        "revoke-no-redis",
        "revoke-bad-story",
        "token-short-secret",
        "token-bad-level",
        "init-db-no-url",
        "init-db-bad-url",
        "demo-bad-format",
    ],
)
def test_every_command_names_the_bad_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    variable: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert main(argv) == 2

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"codestory-progress {argv[0]}: ")
    assert variable in lines[0]


@pytest.mark.usefixtures("empty_environment")
def test_token_signs_with_the_declared_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", "s" * 32)

    assert main(["token", STORY, "--ttl", "60"]) == 0

    principal = JwtTokenVerifier("s" * 32).verify(capsys.readouterr().out.strip())
    assert str(principal.user_id) == STORY


@pytest.mark.parametrize("ttl", ["nan", "-5", "soon"])
def test_token_refuses_a_bad_lifetime(capsys: pytest.CaptureFixture[str], ttl: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", STORY, "--ttl", ttl])

    assert exited.value.code == 2
    assert "--ttl" in capsys.readouterr().err
