// The transports of the browser client (client.js), and the rule that picks one. Each transport is
// its connection's only contact with the network and reports through the same `events`:
// open(protocol), message(data), renewed(), close(code, reason). A cancel goes out over the
// transport too: in band on a WebSocket, as `POST /stories/{id}/cancel` beside SSE (`postCancel`).

/** In `auto` mode: WebSocket attempts in a row that failed like a blocked network, before SSE. */
export const FALLBACK_AFTER = 3;
const STATUS_CODES = { 401: 4001, 403: 4003, 429: 4029, 503: 1013 }; // an SSE refusal without a JSON code
/** Cancel requests of one WebSocket awaiting their answers; beyond, refused at once (`unavailable`). */
export const MAX_PENDING_CANCELS = 32;
const UNAVAILABLE = Object.freeze({ ok: false, reason: "unavailable" });
const CANCEL_REASONS = new Set(["terminal", "forbidden", "unavailable"]);
const CANCEL_STATUS = { 401: "forbidden", 403: "forbidden", 409: "terminal", 503: "unavailable" };
let pageFallback = null; // why this page left WebSocket for good: "websocket_missing" or "websocket_failed"

/**
 * Which transport the next attempt uses. "websocket" and "sse" are fixed. "auto" starts with
 * WebSocket and switches every auto connection of the page to SSE, for the page's life, where
 * WebSocket is missing or after FALLBACK_AFTER WebSocket attempts in a row that ended without a
 * close frame (1006) before they were healthy: an upgrade refused, or a tunnel cut by a proxy.
 */
export class TransportChoice {
  constructor(mode, hasWebSocket, canStream) {
    if (!["auto", "websocket", "sse"].includes(mode)) throw new TypeError(`unknown transport: ${mode}`);
    this.mode = mode;
    this._failures = 0;
    if (mode === "auto" && !hasWebSocket && canStream) pageFallback ??= "websocket_missing";
  }

  get kind() {
    if (this.mode !== "auto") return this.mode;
    return pageFallback ? "sse" : "websocket";
  }

  /** Why the page is on SSE in `auto` mode, or null. */
  get fallback() {
    return this.mode === "auto" ? pageFallback : null;
  }

  /** A WebSocket attempt ended with `code`, healthy or not: true if the page now goes to SSE. */
  ended(code, healthy) {
    if (this.mode !== "auto" || pageFallback) return false;
    this._failures = code === 1006 && !healthy ? this._failures + 1 : 0;
    if (this._failures < FALLBACK_AFTER) return false;
    pageFallback = "websocket_failed";
    return true;
  }
}

/** The WebSocket transport: it answers `ping` itself and renews in band (`auth <JWT>`). */
export class WebSocketTransport {
  kind = "websocket";

  constructor(url, token, WebSocketImpl, events) {
    const ws = new WebSocketImpl(url, ["bearer", token]); // throws on a bad URL or token
    this._ws = ws;
    this._cancels = []; // [storyId or null, resolve], answered in order per story
    ws.onopen = () => events.open(ws.protocol);
    ws.onmessage = (event) => {
      const answer = parseCancelAnswer(event.data);
      if (event.data === "ping") ws.send("pong");
      else if (event.data === "auth ok") events.renewed();
      else if (answer) this._answered(answer);
      else events.message(event.data);
    };
    ws.onclose = (event) => {
      this._settleAll();
      events.close(event.code, event.reason);
    };
  }

  /** Send `cancel` (or `cancel <id>` with `storyId`): resolves with the answer, or `unavailable`. */
  cancel(storyId, timeoutMs) {
    if (this._ws.readyState !== 1 || this._cancels.length >= MAX_PENDING_CANCELS) return Promise.resolve(UNAVAILABLE);
    return new Promise((resolve) => {
      const entry = [storyId, null];
      const timer = setTimeout(() => this._settle(entry, UNAVAILABLE), timeoutMs);
      entry[1] = (result) => { clearTimeout(timer); resolve(result); };
      this._cancels.push(entry);
      this._ws.send(storyId === null ? "cancel" : `cancel ${storyId}`);
    });
  }

  _answered({ storyId, result }) {
    const entry = this._cancels.find(([id]) => id === storyId);
    if (entry) this._settle(entry, result);
  }

  _settle(entry, result) {
    const at = this._cancels.indexOf(entry);
    if (at < 0) return;
    this._cancels.splice(at, 1);
    entry[1](result);
  }

  _settleAll() {
    for (const entry of [...this._cancels]) this._settle(entry, UNAVAILABLE);
  }

  /** Hand the server a new token in band; false when the socket is not open. */
  renew(token) {
    if (this._ws.readyState !== 1) return false;
    this._ws.send(`auth ${token}`);
    return true;
  }

  /** Close without telling the connection (it reports its own close). */
  close(code, reason) {
    const ws = this._ws;
    ws.onclose = ws.onmessage = null;
    this._settleAll();
    ws.close(code, reason);
  }
}

/**
 * Server-Sent Events over `fetch` streaming, with the token as `Authorization: Bearer`. A refusal
 * (401, 403, 429, 503) is a close with the code its JSON body names; the server's `event: close`
 * is a close with its code and reason; a stream that ends without one, or a network error, is 1006.
 * Heartbeats are comments, which it skips. Renewal is a new stream with the new token (client.js).
 */
export class SseTransport {
  kind = "sse";

  constructor(url, token, fetchImpl, events) {
    if (typeof fetchImpl !== "function") throw new TypeError("fetch is not available");
    const headers = new Headers({ Authorization: `Bearer ${token}`, Accept: "text/event-stream" }); // throws on a bad token
    this._events = events;
    this._abort = new AbortController();
    this._done = false;
    this._run(fetchImpl, url, { headers, cache: "no-store", signal: this._abort.signal });
  }

  /** Close without telling the connection (it reports its own close). */
  close() {
    this._done = true;
    this._abort.abort();
  }

  async _run(fetchImpl, url, init) {
    try {
      const response = await fetchImpl(url, init);
      if (response.status !== 200) return this._end(...(await refusal(response)));
      if (this._done) return;
      this._events.open("");
      await this._read(response.body.pipeThrough(new TextDecoderStream()).getReader());
    } catch { /* the network, or our own abort: a close without a frame */ }
    this._end(1006, "");
  }

  async _read(reader) {
    let buffer = "";
    while (!this._done) {
      const { value, done } = await reader.read();
      if (done) return;
      const blocks = (buffer + value).split("\n\n");
      buffer = blocks.pop();
      for (const block of blocks) this._dispatch(block);
    }
  }

  /** One event block of the gateway's stream: `progress` and `close` matter; comments are skipped. */
  _dispatch(block) {
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line === "" || line[0] === ":") continue;
      const at = line.indexOf(":");
      const name = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(line[at + 1] === " " ? at + 2 : at + 1);
      if (name === "event") type = value;
      else if (name === "data") data.push(value);
    }
    if (!data.length || this._done) return;
    if (type === "progress") this._events.message(data.join("\n"));
    else if (type === "close") this._end(...closeOf(data.join("\n")));
  }

  _end(code, reason) {
    if (this._done) return;
    this._done = true;
    this._abort.abort();
    this._events.close(code, reason);
  }
}

/** [code, reason] of an answer that is not a stream: from its JSON body, else from its status. */
async function refusal(response) {
  let body = null;
  try {
    body = await response.json();
  } catch { /* no JSON: the status decides */ }
  if (body && Number.isInteger(body.code)) return [body.code, String(body.reason ?? "")];
  return [STATUS_CODES[response.status] ?? 1006, ""];
}

function closeOf(data) {
  try {
    const { code, reason } = JSON.parse(data);
    if (Number.isInteger(code)) return [code, String(reason ?? "")];
  } catch { /* not what the gateway sends: treated as a lost stream */ }
  return [1006, ""];
}

/**
 * A cancel answer in a text frame, or null for any other text (an unknown reason included):
 * `cancel ok`, `cancel refused <reason>` (story socket), `cancel ok <id>`, `cancel refused <id> <reason>`.
 */
export function parseCancelAnswer(text) {
  if (typeof text !== "string") return null;
  const words = text.split(" ");
  if (words.length < 2 || words[0] !== "cancel") return null;
  if (words[1] === "ok" && words.length <= 3) return { storyId: words[2] ?? null, result: { ok: true } };
  if (words[1] !== "refused" || (words.length !== 3 && words.length !== 4)) return null;
  const reason = words[words.length - 1];
  if (!CANCEL_REASONS.has(reason)) return null;
  return { storyId: words.length === 4 ? words[2] : null, result: { ok: false, reason } };
}

/** SSE has no upstream: `POST /stories/{id}/cancel` with the token as `Authorization: Bearer`. */
export async function postCancel(fetchImpl, url, token, timeoutMs) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetchImpl(url, {
      method: "POST", headers: new Headers({ Authorization: `Bearer ${token}` }), cache: "no-store", signal: abort.signal,
    });
    const answer = parseCancelAnswer((await response.text()).trim());
    if (answer) return answer.result;
    return response.ok ? { ok: true } : { ok: false, reason: CANCEL_STATUS[response.status] ?? "unavailable" };
  } catch {
    return UNAVAILABLE;
  } finally {
    clearTimeout(timer);
  }
}
