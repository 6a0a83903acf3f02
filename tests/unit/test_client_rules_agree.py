"""The browser client (`packages/client/js/client.js`, run in Node) and the Python client follow
the same rules: what each close code means, which frames are updates (and which are `stalled`),
the seq rule, the cancel answers, and the backoff."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codestory_progress_client.cancel import parse_cancel_answer
from codestory_progress_client.rules import AUTH_CODES, RETRYABLE_CODES, Backoff, action_for, is_newer
from codestory_progress_client.updates import MalformedUpdate, parse_update
from testkit.node import CLIENT_JS, run_module

JUDGE_JS = f"""
const client = await import({json.dumps((CLIENT_JS / "client.js").as_uri())});
let text = "";
for await (const chunk of process.stdin) text += chunk;
const input = JSON.parse(text);
const judge = (frame) => {{
  try {{ return client.parseUpdate(frame) === null ? "control" : "update"; }} catch {{ return "malformed"; }}
}};
console.log(JSON.stringify({{
  retryable: [...client.RETRYABLE_CODES].sort(), auth: [...client.AUTH_CODES].sort(),
  actions: input.codes.map((code) => client.closeAction(code)),
  frames: input.frames.map(judge),
  delays: input.delays.map(([attempt, r]) => client.reconnectDelay(attempt, 500, 20000, () => r)),
  stalled: input.frames.map((frame) => {{
    try {{ return client.parseUpdate(frame)?.stalled ?? null; }} catch {{ return null; }}
  }}),
  newer: input.seqs.map(([held, seq, stalled]) =>
    client.isNewer(held === null ? undefined : {{seq: held[0], stalled: held[1]}}, seq, stalled)),
  answers: input.answers.map((text) => {{
    const a = client.parseCancelAnswer(text);
    return a === null ? null : [a.storyId, a.result.ok, a.result.reason ?? null];
  }}),
}}));
"""

CODES = [*range(1000, 1016), *range(3000, 3004), *range(4000, 4100), 4500, 4999]


def update(**fields: object) -> str:
    base: dict[str, object] = {"story_id": "s", "status": "generating", "progress_percent": 40, "seq": 3}
    return json.dumps({**base, **fields})


FRAMES = [
    "ping",
    "pong",
    "auth ok",
    "",
    " {}",
    "[1, 2]",
    update(),
    update(seq=None),
    update(current_step="Writing chapter 2", updated_at="2026-11-25T20:43:58+00:00"),
    update(progress_percent=40.0),
    update(stalled=True, unknown={"a": 1}),
    update(stalled=False),
    update(stalled=None),
    update(stalled="true"),
    update(stalled=1),
    update(seq=-1),
    '{"story_id": "s", "status": "generating", "progress_percent": 1e2}',
    "{",
    "{not json",
    "{}",
    update(story_id=5),
    update(status=None),
    update(progress_percent="40"),
    update(progress_percent=40.5),
    update(progress_percent=True),
    update(seq="3"),
    update(seq=2**53),
    update(seq=2**53 - 1),
    update(current_step=None),
    update(updated_at=7),
    update()[:-1] + ', "progress_percent": NaN}',
    update()[:-1] + ', "seq": 1e400}',
    update() + " trailing",
    '{"story_id": "s", "status": "complete"}',
]

SEQS = [
    (held, seq, stalled)
    for held in (None, (3, False), (3, True))
    for seq in (2, 3, 4)
    for stalled in (False, True)
]
ANSWERS = [
    "cancel ok",
    "cancel ok 1b2c",
    "cancel refused terminal",
    "cancel refused forbidden",
    "cancel refused unavailable",
    "cancel refused 1b2c forbidden",
    "cancel refused 1b2c nope",
    "cancel refused",
    "cancel ok a b",
    "cancel  ok",
    "cancel",
    "Cancel ok",
    "ping",
]

DELAYS = [(attempt, r) for attempt in (0, 1, 2, 3, 5, 8, 12, 40) for r in (0.0, 0.3, 0.7, 0.999, 1.0)]


def python_judgement(frame: str) -> str:
    try:
        return "control" if parse_update(frame) is None else "update"
    except MalformedUpdate:
        return "malformed"


@pytest.fixture(scope="module")
def js() -> dict[str, Any]:
    payload = {"codes": CODES, "frames": FRAMES, "delays": DELAYS, "seqs": SEQS, "answers": ANSWERS}
    result: dict[str, Any] = run_module(JUDGE_JS, payload)
    return result


def test_both_clients_hold_the_same_close_codes(js: dict[str, Any]) -> None:
    assert js["retryable"] == sorted(RETRYABLE_CODES)
    assert js["auth"] == sorted(AUTH_CODES)
    assert 4029 in RETRYABLE_CODES


def test_every_close_code_means_the_same_to_both_clients(js: dict[str, Any]) -> None:
    python = [action_for(code).value for code in CODES]

    assert dict(zip(CODES, js["actions"], strict=True)) == dict(zip(CODES, python, strict=True))
    assert {"reconnect", "auth_error", "stop"} == set(python)


def test_both_clients_judge_every_frame_alike(js: dict[str, Any]) -> None:
    python = [python_judgement(frame) for frame in FRAMES]

    assert dict(zip(FRAMES, js["frames"], strict=True)) == dict(zip(FRAMES, python, strict=True))
    assert {"control", "update", "malformed"} == set(python)


def test_both_clients_wait_the_same_backoff(js: dict[str, Any]) -> None:
    python = [Backoff(rng=lambda r=r: r).delay(attempt) * 1000 for attempt, r in DELAYS]

    differences = [abs(a - b) for a, b in zip(js["delays"], python, strict=True)]
    assert max(differences) <= 1, list(zip(DELAYS, js["delays"], python, strict=True))


def test_both_clients_read_stalled_alike(js: dict[str, Any]) -> None:
    def python(frame: str) -> bool | None:
        try:
            update = parse_update(frame)
        except MalformedUpdate:
            return None
        return None if update is None else update.stalled

    assert dict(zip(FRAMES, js["stalled"], strict=True)) == {frame: python(frame) for frame in FRAMES}
    assert {True, False} <= set(js["stalled"])


def test_both_clients_apply_the_same_seq_rule(js: dict[str, Any]) -> None:
    python = [is_newer(held, seq, stalled) for held, seq, stalled in SEQS]

    assert js["newer"] == python
    assert is_newer((3, False), 3, True)
    assert not is_newer((3, True), 3, True)


def test_both_clients_read_cancel_answers_alike(js: dict[str, Any]) -> None:
    def python(text: str) -> list[object] | None:
        answer = parse_cancel_answer(text)
        if answer is None:
            return None
        reason = answer.result.reason
        return [answer.story_id, answer.result.ok, None if reason is None else reason.value]

    assert dict(zip(ANSWERS, js["answers"], strict=True)) == {text: python(text) for text in ANSWERS}
    assert None in js["answers"]
