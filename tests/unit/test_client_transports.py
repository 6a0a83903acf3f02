"""The browser client's transports and their choice, run in Node with stand-ins for the network
(a `fetch` that answers a scripted stream, a WebSocket that is cut): SSE events and refusals become
the same events a WebSocket gives; `auto` moves to SSE where WebSocket is missing or after 3
attempts in a row cut without a close frame, and stays there; renewal over SSE is a new stream."""

from __future__ import annotations

import json
from typing import Any

from testkit.node import CLIENT_JS, run_module

PRELUDE = """
const client = await import(__CLIENT__);
const transports = await import(__TRANSPORTS__);
const input = JSON.parse(await new Promise((done) => {
  let text = ""; process.stdin.on("data", (c) => text += c); process.stdin.on("end", () => done(text));
}));
const enc = new TextEncoder();
const requests = [];
// A fetch that answers each request with the next scripted answer: {status, body?, chunks?, json?}.
const scripted = (answers) => async (url, init) => {
  requests.push({url, authorization: init.headers.get("authorization"), kind: "sse"});
  const a = answers.length > 1 ? answers.shift() : answers[0];
  if (a.error) throw new TypeError("network");
  const body = a.json ? JSON.stringify(a.json) : (a.body ?? null);
  if (a.status !== 200) return new Response(body, {status: a.status});
  return new Response(new ReadableStream({start(c) {
    for (const chunk of a.chunks) c.enqueue(enc.encode(chunk));
    if (a.end) c.close();
  }}), {status: 200});
};
// A WebSocket that opens (or not) and is cut with 1006 after `cutMs`.
const cutSocket = (opens, cutMs, frames = []) => class {
  constructor(url) {
    requests.push({url, kind: "websocket"}); this.readyState = 0;
    setTimeout(() => { if (opens) { this.readyState = 1; this.protocol = "bearer"; this.onopen?.();
      for (const f of frames) this.onmessage?.({data: f}); } }, 1);
    setTimeout(() => { this.readyState = 3; this.onclose?.({code: 1006, reason: ""}); }, cutMs);
  }
  send() {} close() {}
};
const follow = (conn) => {
  const seen = [];
  for (const t of ["open", "update", "close", "transport", "renewed", "malformed"]) {
    conn.addEventListener(t, (e) => seen.push([t, e.detail]));
  }
  return seen;
};
const until = async (check, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
};
const update = (seq, status = "generating") => JSON.stringify(
  {story_id: "s1", status, progress_percent: seq * 10, current_step: "x", updated_at: "t", seq});
"""
PRELUDE = PRELUDE.replace("__CLIENT__", json.dumps((CLIENT_JS / "client.js").as_uri())).replace(
    "__TRANSPORTS__", json.dumps((CLIENT_JS / "client-transports.js").as_uri())
)


def run(body: str, payload: object = None) -> Any:
    return run_module(PRELUDE + body, payload)


def test_an_sse_stream_gives_updates_skips_comments_and_ends_with_the_close_event_s_code() -> None:
    got = run("""
const split = `event: progress\\nid: 1\\ndata: ${update(1)}\\n\\n`;
const answers = [{status: 200, end: true, chunks: ["retry: 2000\\n\\n: ping\\n\\n", split.slice(0, 20),
  split.slice(20), `event: progress\\nid: 2\\ndata: ${update(2)}\\n\\nevent: clo`,
  'se\\ndata: {"code": 4001, "reason": "token_expired"}\\n\\n']}];
const opts = {token: "tok", transport: "sse", fetch: scripted(answers)};
const conn = client.connectStory("ws://h:1", "s1", opts);
const seen = follow(conn);
await until(() => seen.some(([t]) => t === "close"));
console.log(JSON.stringify({seen, requests, state: conn.state, transport: conn.transport}));
""")
    assert got["requests"] == [
        {"url": "http://h:1/sse/stories/s1/progress", "authorization": "Bearer tok", "kind": "sse"}
    ]
    assert [t for t, _ in got["seen"]] == ["open", "update", "update", "close"]
    assert got["seen"][0][1] == {"protocol": "", "transport": "sse"}
    assert got["seen"][-1][1] == {"code": 4001, "reason": "token_expired", "willReconnect": False}
    assert (got["state"]["seq"], got["transport"]) == (2, "sse")


def test_refusals_are_closes_with_the_code_of_their_body_or_status() -> None:
    got = run(
        """
const out = {};
for (const [name, answer] of Object.entries(input)) {
  const opts = {token: "tok", transport: "sse", fetch: scripted([answer]), minDelayMs: 60000};
  const conn = client.connectDashboard("http://h:1", opts);
  const seen = follow(conn);
  await until(() => seen.some(([t]) => t === "close"));
  out[name] = seen.find(([t]) => t === "close")[1];
  conn.close();
}
console.log(JSON.stringify(out));
""",
        {
            "401": {"status": 401, "json": {"code": 4001, "reason": "invalid_token"}},
            "403": {"status": 403, "json": {"code": 4003, "reason": "forbidden"}},
            "429": {"status": 429, "json": {"code": 4029, "reason": "too_many_connections"}},
            "503 from a proxy": {"status": 503, "body": "busy"},
            "502": {"status": 502, "body": "bad gateway"},
            "network": {"error": True},
            "stream ends": {"status": 200, "chunks": [], "end": True},
        },
    )
    codes = {name: (close["code"], close["reason"], close["willReconnect"]) for name, close in got.items()}
    assert codes == {
        "401": (4001, "invalid_token", False),
        "403": (4003, "forbidden", False),
        "429": (4029, "too_many_connections", True),
        "503 from a proxy": (1013, "", True),
        "502": (1006, "", True),
        "network": (1006, "", True),
        "stream ends": (1006, "", True),
    }


def test_auto_moves_to_sse_after_three_cut_attempts_even_with_a_snapshot_each_time_and_stays() -> None:
    got = run("""
const answers = [{status: 200, chunks: [`event: progress\\nid: 1\\ndata: ${update(1)}\\n\\n`]}];
const opts = {token: "tok", WebSocket: cutSocket(true, 30, [update(1)]), fetch: scripted(answers),
  minDelayMs: 5, maxDelayMs: 10};
const conn = client.connectStory("ws://h:1", "s1", opts);
const seen = follow(conn);
await until(() => seen.filter(([t]) => t === "open").length === 4);
const later = client.connectDashboard("ws://h:1", opts);  // the page stays on SSE
const laterSeen = follow(later);
await until(() => laterSeen.some(([t]) => t === "open"));
const kinds = requests.map((r) => r.kind);
console.log(JSON.stringify({kinds, seen, laterSeen, transport: later.transport}));
conn.close(); later.close();
""")
    assert got["kinds"] == ["websocket", "websocket", "websocket", "sse", "sse"]
    transports = [d for t, d in got["seen"] if t == "transport"]
    assert transports == [{"transport": "sse", "reason": "websocket_failed"}]
    assert [d["transport"] for t, d in got["seen"] if t == "open"] == ["websocket"] * 3 + ["sse"]
    assert [d["seq"] for t, d in got["seen"] if t == "update"] == [1, 1, 1, 1]
    closes = [d for t, d in got["seen"] if t == "close"]
    assert closes[2]["delayMs"] == 0, "the first SSE attempt follows the third cut at once"
    assert closes[0]["delayMs"] > 0
    assert [t for t, _ in got["laterSeen"]][:2] == ["transport", "open"]
    assert got["transport"] == "sse"


def test_closes_with_a_code_reset_the_count_and_fixed_modes_never_switch() -> None:
    got = run("""
const choice = new transports.TransportChoice("auto", true, true);
const steps = [choice.ended(1006, false), choice.ended(1006, false), choice.ended(1001, false),
  choice.ended(1006, false), choice.ended(1006, true), choice.ended(1006, false), choice.ended(1006, false)];
const fixed = new transports.TransportChoice("websocket", true, true);
const fixedSteps = [1, 2, 3, 4].map(() => fixed.ended(1006, false));
let bad = null;
try { new transports.TransportChoice("carrier-pigeon", true, true); } catch (e) { bad = e.name; }
console.log(JSON.stringify({steps, kind: choice.kind, fixed: fixed.kind, fixedSteps, bad}));
""")
    assert got["steps"] == [False, False, False, False, False, False, False]
    assert got["kind"] == "websocket", "never 3 unhealthy 1006 closes in a row"
    assert (got["fixed"], got["fixedSteps"]) == ("websocket", [False] * 4)
    assert got["bad"] == "TypeError"


def test_where_websocket_is_missing_auto_starts_on_sse() -> None:
    got = run("""
delete globalThis.WebSocket;
const answers = [{status: 200, chunks: [`event: progress\\ndata: ${update(3)}\\n\\n`]}];
const conn = client.connectDashboard("wss://h", {token: "tok", fetch: scripted(answers)});
const seen = follow(conn);
await until(() => seen.some(([t]) => t === "update"));
console.log(JSON.stringify({seen, requests}));
conn.close();
""")
    assert got["requests"][0]["url"] == "https://h/sse/user/stories"
    assert [t for t, _ in got["seen"]][:3] == ["transport", "open", "update"]
    assert got["seen"][0][1] == {"transport": "sse", "reason": "websocket_missing"}


def test_renewal_over_sse_is_a_new_stream_with_the_new_token_and_a_renewed_event() -> None:
    got = run("""
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (exp) => `${b64({alg: "HS256"})}.${b64({exp})}.sig`;
const first = jwt(Math.floor(Date.now() / 1000) + 2), second = jwt(Math.floor(Date.now() / 1000) + 3600);
const answers = [{status: 200, chunks: [`event: progress\\nid: 1\\ndata: ${update(1)}\\n\\n`]}];
const conn = client.connectStory("ws://h:1", "s1", {token: first, transport: "sse", fetch: scripted(answers),
  getToken: async () => second, renewBeforeMs: 1500});
const seen = follow(conn);
await until(() => seen.some(([t]) => t === "renewed"), 5000);
console.log(JSON.stringify({seen: seen.map(([t]) => t), auth: requests.map((r) => r.authorization),
  second}));
conn.close();
""")
    assert got["auth"] == [f"Bearer {t}" for t in (got["auth"][0].split(" ")[1], got["second"])]
    assert got["seen"][:4] == ["open", "update", "renewed", "update"]
    assert "close" not in got["seen"][:4], "the old stream ends silently"
