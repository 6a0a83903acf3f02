"""The Python client's pure rules: close codes, backoff, the `seq` filter, renewal time, the parser,
and its independence from the gateway's own packages (websockets alone; rich only for `watch`)."""

from __future__ import annotations

import ast
import base64
import json
import sys
from pathlib import Path

import pytest

import codestory_progress_client
from codestory_progress_client.rules import (
    Backoff,
    CloseAction,
    SeqFilter,
    action_for,
    renewal_delay,
    token_expiry,
)
from codestory_progress_client.updates import MalformedUpdate, parse_update


@pytest.mark.parametrize("code", [1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4008, 4029])
def test_retryable_codes_reconnect(code: int) -> None:
    assert action_for(code) is CloseAction.RECONNECT


@pytest.mark.parametrize("code", [4001, 4003])
def test_auth_codes_stop_with_an_auth_error(code: int) -> None:
    assert action_for(code) is CloseAction.AUTH_ERROR


@pytest.mark.parametrize("code", [1002, 1003, 1007, 1008, 1009, 4000, 4500])
def test_client_faults_and_unknown_codes_stop(code: int) -> None:
    assert action_for(code) is CloseAction.STOP


def test_backoff_window_doubles_from_min_and_is_capped() -> None:
    top = Backoff(min_delay=0.5, max_delay=20.0, rng=lambda: 1.0)
    bottom = Backoff(min_delay=0.5, max_delay=20.0, rng=lambda: 0.0)

    assert [top.delay(n) for n in range(7)] == [1.0, 1.5, 2.5, 4.5, 8.5, 16.5, 20.0]
    assert {bottom.delay(n) for n in range(50)} == {0.5}
    assert top.delay(10_000) == 20.0


def test_backoff_first_retry_is_within_a_second_and_jittered() -> None:
    backoff = Backoff()
    first = [backoff.delay(0) for _ in range(200)]

    assert all(0.5 <= d <= 1.0 for d in first)
    assert len(set(first)) > 150


def test_seq_filter_drops_stale_and_repeated_updates() -> None:
    seqs = SeqFilter()

    kept = [seqs.accept("a", seq) for seq in (3, 4, 4, 2, 5)]

    assert kept == [True, True, False, False, True]


def test_seq_filter_takes_the_first_update_of_each_story_after_a_reconnect() -> None:
    seqs = SeqFilter()
    assert seqs.accept("a", 9)
    assert seqs.accept("b", 4)

    seqs.reconnected()

    assert seqs.accept("a", 1)  # Redis lost its counters: seq restarted, the snapshot is taken
    assert not seqs.accept("a", 1)
    assert seqs.accept("a", 2)
    assert seqs.accept("b", 4)  # the first of b after the reconnect, even with the seq held
    assert not seqs.accept("b", 4)


def test_seq_filter_keeps_legacy_updates_without_seq_in_arrival_order() -> None:
    seqs = SeqFilter()

    assert [seqs.accept("a", None) for _ in range(3)] == [True, True, True]


def jwt_with(claims: object) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


def test_token_expiry_reads_exp_without_verifying() -> None:
    assert token_expiry(jwt_with({"sub": "u", "exp": 1_900_000_000})) == 1_900_000_000
    assert token_expiry(jwt_with({"sub": "u"})) is None
    assert token_expiry(jwt_with(["not", "claims"])) is None
    assert token_expiry("not-a-jwt") is None
    assert token_expiry("a.!!!.c") is None


def test_renewal_is_ahead_of_exp_and_half_way_for_short_tokens() -> None:
    assert renewal_delay(exp=1000.0, now=900.0, renew_before=15) == 85.0
    assert renewal_delay(exp=1000.0, now=996.0, renew_before=15) == 2.0
    assert renewal_delay(exp=1000.0, now=1001.0, renew_before=15) == 0.0


def test_parse_update_reads_progress_and_skips_control_texts() -> None:
    text = json.dumps(
        {
            "story_id": "s",
            "status": "complete",
            "progress_percent": 100,
            "current_step": "done",
            "updated_at": "2026-11-25T20:43:58+00:00",
            "seq": 7,
        }
    )

    update = parse_update(text)

    assert update is not None
    assert (update.story_id, update.status, update.progress_percent, update.seq) == ("s", "complete", 100, 7)
    assert update.final
    assert json.loads(update.to_json()) == json.loads(text)
    assert parse_update("ping") is None
    assert parse_update("auth ok") is None


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ("{not json", "not JSON"),
        ('{"status": "complete", "progress_percent": 100}', "story_id"),
        ('{"story_id": "s", "progress_percent": 100}', "status"),
        ('{"story_id": "s", "status": "complete", "progress_percent": "100"}', "progress_percent"),
        ('{"story_id": "s", "status": "complete", "progress_percent": 99.5}', "progress_percent"),
        ('{"story_id": "s", "status": "complete", "progress_percent": 100, "seq": "7"}', "seq"),
        (
            '{"story_id": "s", "status": "complete", "progress_percent": 100, "current_step": null}',
            "current_step",
        ),
    ],
)
def test_a_malformed_frame_raises_a_typed_error_naming_what_is_wrong(frame: str, why: str) -> None:
    with pytest.raises(MalformedUpdate, match=why) as raised:
        parse_update(frame)

    assert isinstance(raised.value, ValueError)


def test_an_integral_float_is_read_as_an_integer_as_the_browser_reads_it() -> None:
    update = parse_update('{"story_id": "s", "status": "generating", "progress_percent": 40.0, "seq": 2.0}')

    assert update is not None
    assert (update.progress_percent, update.seq) == (40, 2)
    assert (type(update.progress_percent), type(update.seq)) == (int, int)


def _top_level_imports(module: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
    return imported


def test_the_client_imports_nothing_of_the_gateway() -> None:
    gateway_packages = {"domain", "adapters", "entrypoints", "progress_client", "testkit", "tests"}
    package = Path(codestory_progress_client.__file__).parent
    imported = {
        name: _top_level_imports(module) for name, module in ((m.stem, m) for m in package.glob("*.py"))
    }
    third_party = {
        name: found - set(sys.stdlib_module_names) - {"codestory_progress_client"}
        for name, found in imported.items()
    }

    assert not set().union(*imported.values()) & gateway_packages
    assert third_party.pop("watch") == {"rich"}  # the `watch` extra, imported only for the bars
    assert set().union(*third_party.values()) == {"websockets"}, third_party
