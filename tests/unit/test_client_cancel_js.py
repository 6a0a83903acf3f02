"""The browser client's `cancel()` and `stalled`, run in Node with stand-ins for the network: in
band on a WebSocket (`cancel`, or `cancel <id>` on a dashboard; answers matched per story; none in
time, or a socket that closes first, is `unavailable`), as `POST /stories/{id}/cancel` beside SSE
(the answer's text, else its status), and a repeat of the held `seq` that only changes `stalled`."""

from __future__ import annotations

from tests.unit.test_client_transports import run

# A WebSocket that opens, sends `frames`, and answers each `cancel` text from `answers` (none: silent).
ANSWERING = """
const sent = [];
const answering = (answers, frames = []) => class {
  constructor(url) {
    requests.push({url, kind: "websocket"}); this.readyState = 0;
    setTimeout(() => { this.readyState = 1; this.protocol = "bearer"; this.onopen?.();
      for (const f of frames) this.onmessage?.({data: f}); }, 1);
  }
  send(text) {
    sent.push(text);
    const answer = answers[text];
    const cut = () => { this.readyState = 3; this.onclose?.({code: 1006, reason: ""}); };
    if (answer === "close") setTimeout(cut, 1);
    else if (answer) setTimeout(() => this.onmessage?.({data: answer}), 1);
  }
  close() {}
};
"""


def test_a_story_cancels_in_band_and_hears_its_answer() -> None:
    got = run(
        ANSWERING
        + """
const ws = answering({"cancel": "cancel ok"}, [update(1)]);
const conn = client.connectStory("ws://h:1", "s1", {token: "t", transport: "websocket", WebSocket: ws});
const seen = follow(conn);
const early = await conn.cancel();
await until(() => seen.some(([t]) => t === "open"));
const result = await conn.cancel();
conn.close();
const late = await conn.cancel();
console.log(JSON.stringify({early, result, late, sent}));
"""
    )
    assert got == {
        "early": {"ok": False, "reason": "unavailable"},
        "result": {"ok": True},
        "late": {"ok": False, "reason": "unavailable"},
        "sent": ["cancel"],
    }


def test_a_dashboard_names_the_story_and_answers_are_matched_per_story() -> None:
    got = run(
        ANSWERING
        + """
const ws = answering({"cancel s1": "cancel refused s1 terminal", "cancel s2": "cancel ok s2"});
const conn = client.connectDashboard("ws://h:1", {token: "t", transport: "websocket", WebSocket: ws});
const seen = follow(conn);
await until(() => seen.some(([t]) => t === "open"));
const [one, two] = await Promise.all([conn.cancel("s1"), conn.cancel("s2")]);
console.log(JSON.stringify({one, two, sent, updates: seen.filter(([t]) => t === "update").length}));
conn.close();
"""
    )
    assert got == {
        "one": {"ok": False, "reason": "terminal"},
        "two": {"ok": True},
        "sent": ["cancel s1", "cancel s2"],
        "updates": 0,
    }


def test_no_answer_in_time_or_a_socket_that_closes_first_is_unavailable() -> None:
    got = run(
        ANSWERING
        + """
const ws = answering({"cancel s1": "close"});
const opts = {token: "t", transport: "websocket", WebSocket: ws, cancelTimeoutMs: 50, minDelayMs: 60000};
const conn = client.connectDashboard("ws://h:1", opts);
const seen = follow(conn);
await until(() => seen.some(([t]) => t === "open"));
const silent = await conn.cancel("s9");
const closed = await conn.cancel("s1");
console.log(JSON.stringify({silent, closed}));
conn.close();
"""
    )
    assert got == {
        "silent": {"ok": False, "reason": "unavailable"},
        "closed": {"ok": False, "reason": "unavailable"},
    }


def test_over_sse_cancel_posts_with_the_token_and_reads_the_answer() -> None:
    got = run(
        """
const posts = [];
const out = {};
for (const [name, answer] of Object.entries(input)) {
  const fetchImpl = async (url, init) => {
    if (init.method !== "POST") return new Response(new ReadableStream({start() {}}), {status: 200});
    posts.push({url, auth: init.headers.get("authorization")});
    if (answer.error) throw new TypeError("network");
    return new Response(answer.body ?? "", {status: answer.status});
  };
  const conn = client.connectStory("ws://h:1/", "s 1", {token: "tok", transport: "sse", fetch: fetchImpl});
  out[name] = await conn.cancel();
  conn.close();
}
console.log(JSON.stringify({out, posts: posts.slice(0, 1), count: posts.length}));
""",
        {
            "ok": {"status": 200, "body": "cancel ok"},
            "terminal": {"status": 409, "body": "cancel refused terminal"},
            "forbidden": {"status": 403, "body": "cancel refused forbidden"},
            "unavailable": {"status": 503, "body": "cancel refused unavailable"},
            "bad token": {"status": 401, "body": '{"code": 4001}'},
            "proxy 502": {"status": 502, "body": "bad gateway"},
            "network": {"error": True},
        },
    )
    assert got["posts"] == [{"url": "http://h:1/stories/s%201/cancel", "auth": "Bearer tok"}]
    assert got["count"] == 7
    reasons = {name: result.get("reason", "ok") for name, result in got["out"].items()}
    assert reasons == {
        "ok": "ok",
        "terminal": "terminal",
        "forbidden": "forbidden",
        "unavailable": "unavailable",
        "bad token": "forbidden",
        "proxy 502": "unavailable",
        "network": "unavailable",
    }


def test_a_repeat_that_only_changes_stalled_is_an_update() -> None:
    got = run(
        ANSWERING
        + """
const stalled = (seq, flag) => JSON.stringify({...JSON.parse(update(seq)), stalled: flag});
const frames = [update(1), stalled(1, true), stalled(1, true), update(1), update(1), stalled(0, true),
  update(2)];
const ws = answering({}, frames);
const conn = client.connectStory("ws://h:1", "s1", {token: "t", transport: "websocket", WebSocket: ws});
const seen = follow(conn);
await until(() => seen.filter(([t]) => t === "update").length >= 4);
const updates = seen.filter(([t]) => t === "update").map(([, u]) => [u.seq, u.stalled]);
console.log(JSON.stringify({updates, state: [conn.state.seq, conn.state.stalled]}));
conn.close();
"""
    )
    assert got == {"updates": [[1, False], [1, True], [1, False], [2, False]], "state": [2, False]}
