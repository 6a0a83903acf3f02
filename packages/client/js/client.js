// The progress gateway's browser client: a dependency-free ES module (types: client.d.ts; its
// transports in client-transports.js), with the contract's rules (docs/protocol.md): the token as the
// `bearer` subprotocol (or `Authorization` over SSE); retryable closes reconnect with capped
// exponential backoff and full jitter; 4001/4003 stop (one retry with a token from `onAuthError`);
// renewal before `exp`; stale `seq`s dropped; a malformed frame skipped and reported; WebSocket, SSE,
// or `auto` (WebSocket, then SSE for good where it cannot pass). The Python client
// (codestory_progress_client) has the same rules; a test holds them equal. `cancel()` asks the
// gateway to end a story (`cancel` in band, or `POST /stories/{id}/cancel` beside SSE).
import { parseCancelAnswer, postCancel, SseTransport, TransportChoice, WebSocketTransport } from "./client-transports.js";

export { parseCancelAnswer };

/** Closes after which the client reconnects; 1000 and 1005 only when the client did not close. */
export const RETRYABLE_CODES = new Set([1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4008, 4029]);
/** Closes that need a new token (4001) or another story (4003). */
export const AUTH_CODES = new Set([4001, 4003]);

const DEFAULTS = { minDelayMs: 500, maxDelayMs: 20000, healthyAfterMs: 5000, renewBeforeMs: 15000, cancelTimeoutMs: 10000 };

/** What a close means: "auth_error" (4001/4003), "reconnect" (retryable) or "stop" (a client fault). */
export function closeAction(code) {
  if (AUTH_CODES.has(code)) return "auth_error";
  return RETRYABLE_CODES.has(code) ? "reconnect" : "stop";
}

/** The delay before reconnect attempt `attempt` (0 first): min + full jitter, capped at max. */
export function reconnectDelay(attempt, minMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.min(maxMs, minMs + Math.floor(random() * ceiling));
}

/** The token's `exp` in milliseconds since the epoch, or null when it has none or is no JWT. */
export function tokenExpiry(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "="))).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * The seq rule against what is held (`{seq, stalled}`, or undefined): a higher seq, or the same seq
 * with only `stalled` changed (the gateway's judgement of the state held, not a new state).
 */
export function isNewer(held, seq, stalled) {
  if (held === undefined) return true;
  return seq > held.seq || (seq === held.seq && stalled !== held.stalled);
}

const isText = (value) => value === undefined || typeof value === "string";
const isCount = Number.isSafeInteger;

/**
 * The update in a text frame; null for anything else (control texts, binary data). A frame that
 * starts with `{` but is no progress message throws (SyntaxError or TypeError).
 */
export function parseUpdate(data) {
  if (typeof data !== "string" || data[0] !== "{") return null;
  const update = JSON.parse(data);
  const wrong = [
    typeof update.story_id !== "string" && "story_id",
    typeof update.status !== "string" && "status",
    !isCount(update.progress_percent) && "progress_percent",
    !(update.seq === undefined || update.seq === null || isCount(update.seq)) && "seq",
    !isText(update.current_step) && "current_step",
    !isText(update.updated_at) && "updated_at",
  ].filter(Boolean);
  if (wrong.length) throw new TypeError(`not a progress update: ${wrong.join(", ")}`);
  update.stalled = update.stalled === true; // the gateway's judgement: only `true` counts
  return update;
}

class ProgressConnection extends EventTarget {
  constructor(urls, options) {
    super();
    if (!options || !options.token) throw new TypeError("options.token is required");
    this._urls = urls; // {websocket, sse}
    this._options = { ...DEFAULTS, ...options };
    this._token = options.token;
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._fetch = options.fetch || globalThis.fetch?.bind(globalThis);
    const canStream = Boolean(this._fetch && globalThis.TextDecoderStream);
    this._choice = new TransportChoice(options.transport ?? "auto", Boolean(this._WebSocket), canStream);
    this._announced = false;
    this._attempt = 0;
    this._authRetried = false;
    this._closed = false;
    this._transport = null;
    this._timers = {};
    this._seqs = new Map(); // story id -> the newest {seq, stalled} held: one per story seen
    this._seen = new Set(); // stories with an update on the current socket
    this._onWake = () => this._wake();
    this._onOffline = () => this._drop("offline");
    this._onVisible = () => { if (globalThis.document?.visibilityState === "visible") this._wake(); };
    globalThis.addEventListener?.("online", this._onWake);
    globalThis.addEventListener?.("offline", this._onOffline);
    globalThis.document?.addEventListener("visibilitychange", this._onVisible);
    // Deferred: listeners added right after `connectStory(...)` see every event, a first `close` too.
    queueMicrotask(() => { if (!this._closed) this._connect(); });
  }

  /** Stop for good: no reconnect, no renewal. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._clear("retry", "healthy", "renew");
    globalThis.removeEventListener?.("online", this._onWake);
    globalThis.removeEventListener?.("offline", this._onOffline);
    globalThis.document?.removeEventListener("visibilitychange", this._onVisible);
    this._transport?.close(1000, "client");
    this._transport = null;
    this._emit("close", { code: 1000, reason: "client", willReconnect: false });
  }

  /**
   * Ask the gateway to cancel `storyId` (`named`: a dashboard's `cancel <id>`): resolves with
   * `{ok: true}` or `{ok: false, reason}`, reason `terminal`, `forbidden` or `unavailable` (also:
   * no open WebSocket, no answer in `cancelTimeoutMs`; asking again is safe). Never rejects.
   */
  _cancel(storyId, named) {
    const { cancelTimeoutMs } = this._options;
    if (this._closed) return Promise.resolve({ ok: false, reason: "unavailable" });
    if (this._choice.kind === "sse") { // no upstream: a POST beside the stream, which need not be open
      return postCancel(this._fetch, this._urls.cancel(storyId), this._token, cancelTimeoutMs);
    }
    if (this._transport?.kind !== "websocket") return Promise.resolve({ ok: false, reason: "unavailable" });
    return this._transport.cancel(named ? storyId : null, cancelTimeoutMs);
  }

  /** The transport of the current (or next) attempt: "websocket" or "sse". */
  get transport() { return this._choice.kind; }

  async _connect() {
    this._clear("retry");
    this._healthy = false;
    const { getToken } = this._options;
    const exp = tokenExpiry(this._token);
    if (getToken && exp !== null && exp - Date.now() < 1000) { // expired while we were away
      try {
        this._token = (await getToken()) || this._token;
      } catch { /* connect with the token held; the server answers 4001 if it is expired */ }
      if (this._closed) return;
    }
    let transport = null;
    const current = (fn) => (...args) => { if (transport === this._transport) fn(...args); };
    const events = {
      open: current((protocol) => this._opened(protocol)),
      message: current((data) => this._message(data)),
      renewed: current(() => this._emit("renewed", { expiresAt: tokenExpiry(this._token) })),
      close: current((code, reason) => this._closedBy(code, reason, transport.kind)),
    };
    try {
      transport = this._openTransport(events);
    } catch (error) { // a malformed URL, or a token that cannot be a subprotocol: retrying cannot help
      const reason = String(error).split(this._token).join("<token>"); // the browser's text may quote it
      return this._emit("close", { code: 1006, reason, willReconnect: false });
    }
    this._transport = transport;
    this._seen = new Set();
  }

  /** The transport of the next attempt: the one place where it is chosen. */
  _openTransport(events) {
    if (this._choice.kind === "websocket") {
      return new WebSocketTransport(this._urls.websocket, this._token, this._WebSocket, events);
    }
    if (this._choice.fallback && !this._announced) { // auto mode moved to SSE: said once per connection
      this._announced = true;
      this._emit("transport", { transport: "sse", reason: this._choice.fallback });
    }
    return new SseTransport(this._urls.sse, this._token, this._fetch, events);
  }

  _opened(protocol) {
    this._set("healthy", () => { this._attempt = 0; this._healthy = true; }, this._options.healthyAfterMs);
    this._scheduleRenewal();
    if (this._renewing) { // renewal over SSE is a new stream with the new token
      this._renewing = false;
      return this._emit("renewed", { expiresAt: tokenExpiry(this._token) });
    }
    this._emit("open", { protocol, transport: this.transport });
  }

  _message(data) {
    let update;
    try {
      update = parseUpdate(data);
    } catch (error) { // skipped: the stream goes on, and the page hears of it
      return this._emit("malformed", { data: data.slice(0, 200), error: String(error) });
    }
    if (update === null) return;
    this._attempt = 0;
    this._authRetried = false;
    const id = update.story_id;
    // The first update of a story on a new socket is its snapshot: taken even if `seq` restarted.
    const first = !this._seen.has(id);
    this._seen.add(id);
    if (typeof update.seq === "number") {
      if (!first && !isNewer(this._seqs.get(id), update.seq, update.stalled)) return;
      this._seqs.set(id, { seq: update.seq, stalled: update.stalled });
    }
    this._store(update);
    this._emit("update", update);
  }

  /** The transport ended (`kind`: a WebSocket attempt counts towards `auto`'s switch), or was dropped. */
  _closedBy(code, reason, kind) {
    const switched = kind === "websocket" && this._choice.ended(code, this._healthy); // SSE at once
    this._transport = null;
    this._renewing = false;
    this._clear("healthy", "renew");
    const action = closeAction(code);
    if (action === "auth_error") return this._authFailed(code, reason);
    const willReconnect = action === "reconnect" && !this._closed;
    const attempt = willReconnect ? this._attempt : null;
    const delayMs = willReconnect ? this._retryLater(switched) : null;
    this._emit("close", { code, reason, willReconnect, attempt, delayMs });
  }

  /** 4001/4003: stop, unless `onAuthError` gives a new token: then exactly one more attempt. */
  async _authFailed(code, reason) {
    const hook = this._options.onAuthError;
    let token = null;
    if (hook && !this._authRetried) {
      this._authRetried = true;
      try {
        token = await hook({ code, reason });
      } catch { /* no new token: stay stopped */ }
    }
    const willReconnect = typeof token === "string" && token !== "" && !this._closed;
    this._emit("close", { code, reason, willReconnect });
    if (!willReconnect) return;
    this._token = token;
    this._connect();
  }

  /** Drop the socket without waiting for the network (offline): it reconnects on `online`. */
  _drop(reason) {
    if (!this._transport || this._closed) return;
    this._transport.close();
    this._closedBy(1006, reason);
  }

  _retryLater(now = false) {
    const { minDelayMs, maxDelayMs } = this._options;
    const delayMs = now ? 0 : reconnectDelay(this._attempt++, minDelayMs, maxDelayMs);
    this._set("retry", () => this._connect(), delayMs);
    return delayMs;
  }

  /** `online`, or a tab visible again: reconnect at once if a retry is pending. */
  _wake() {
    if (this._timers.retry && !this._closed) this._connect();
  }

  _scheduleRenewal() {
    const { getToken, renewBeforeMs } = this._options;
    const exp = tokenExpiry(this._token);
    if (!getToken || exp === null) return;
    const left = exp - Date.now();
    const lead = Math.min(renewBeforeMs, left / 2);
    this._set("renew", () => this._renew(), Math.max(0, left - lead));
  }

  async _renew() {
    let token;
    try {
      token = await this._options.getToken();
    } catch {
      return this._set("renew", () => this._renew(), 1000);
    }
    if (!token) return;
    this._token = token; // the next connect uses it too
    const transport = this._transport;
    if (transport?.kind === "sse") { // no message goes to the server: a new stream carries the token
      this._renewing = true;
      transport.close();
      this._transport = null;
      this._clear("healthy");
      return this._connect();
    }
    if (transport?.renew(token)) this._scheduleRenewal();
  }

  _set(name, fn, ms) {
    clearTimeout(this._timers[name]);
    this._timers[name] = setTimeout(() => { delete this._timers[name]; fn(); }, ms);
  }

  _clear(...names) {
    for (const name of names) {
      clearTimeout(this._timers[name]);
      delete this._timers[name];
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

class StoryConnection extends ProgressConnection {
  state = null;
  constructor(storyId, urls, options) {
    super(urls, options);
    this.storyId = storyId;
  }
  _store(update) { this.state = update; }
  /** Cancel this story: sends `cancel` (SSE: the POST). See `_cancel`. */
  cancel() { return this._cancel(this.storyId, false); }
}

class DashboardConnection extends ProgressConnection {
  states = new Map();
  _store(update) { this.states.set(update.story_id, update); }
  /** Cancel one of the user's stories: sends `cancel <storyId>` (SSE: the POST). See `_cancel`. */
  cancel(storyId) { return this._cancel(String(storyId), true); }
}

/** The two URLs of an endpoint: `ws(s)://…/ws/<path>` and `http(s)://…/sse/<path>`. */
function urls(baseUrl, path) {
  const base = baseUrl.replace(/\/+$/, "");
  const http = base.replace(/^ws/, "http");
  return {
    websocket: `${base.replace(/^http/, "ws")}/ws/${path}`,
    sse: `${http}/sse/${path}`,
    cancel: (storyId) => `${http}/stories/${encodeURIComponent(storyId)}/cancel`,
  };
}

/** Follow one story: `state` holds its latest update. */
export function connectStory(baseUrl, storyId, options) {
  return new StoryConnection(String(storyId), urls(baseUrl, `stories/${encodeURIComponent(storyId)}/progress`), options);
}

/** Follow every story of the token's user: `states` maps story id to its latest update. */
export function connectDashboard(baseUrl, options) {
  return new DashboardConnection(urls(baseUrl, "user/stories"), options);
}
