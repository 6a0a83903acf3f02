// The progress gateway's browser client: one dependency-free ES module (types: client.d.ts).
// It follows docs/protocol.md: the token travels as the `bearer` subprotocol, retryable closes
// reconnect with capped exponential backoff and full jitter, 4001/4003 stop (one retry with a
// token from `onAuthError`), the token is renewed in band before `exp`, stale `seq`s are dropped.

/** Closes after which the client reconnects; 1000 and 1005 only when the client did not close. */
export const RETRYABLE_CODES = new Set([1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4008]);
/** Closes that need a new token (4001) or another story (4003). */
export const AUTH_CODES = new Set([4001, 4003]);

const DEFAULTS = { minDelayMs: 500, maxDelayMs: 20000, healthyAfterMs: 5000, renewBeforeMs: 15000 };

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

class ProgressConnection extends EventTarget {
  constructor(url, options) {
    super();
    if (!options || !options.token) throw new TypeError("options.token is required");
    this._url = url;
    this._options = { ...DEFAULTS, ...options };
    this._token = options.token;
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._attempt = 0;
    this._authRetried = false;
    this._closed = false;
    this._ws = null;
    this._timers = {};
    this._seqs = new Map(); // story id -> the newest seq held
    this._seen = new Set(); // stories with an update on the current socket
    this._onWake = () => this._wake();
    this._onOffline = () => this._drop("offline");
    this._onVisible = () => { if (globalThis.document?.visibilityState === "visible") this._wake(); };
    globalThis.addEventListener?.("online", this._onWake);
    globalThis.addEventListener?.("offline", this._onOffline);
    globalThis.document?.addEventListener("visibilitychange", this._onVisible);
    this._connect();
  }

  /** Stop for good: no reconnect, no renewal. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._clear("retry", "healthy", "renew");
    globalThis.removeEventListener?.("online", this._onWake);
    globalThis.removeEventListener?.("offline", this._onOffline);
    globalThis.document?.removeEventListener("visibilitychange", this._onVisible);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close(1000, "client");
    }
    this._emit("close", { code: 1000, reason: "client", willReconnect: false });
  }

  async _connect() {
    this._clear("retry");
    const { getToken } = this._options;
    const exp = tokenExpiry(this._token);
    if (getToken && exp !== null && exp - Date.now() < 1000) { // expired while we were away
      try {
        this._token = (await getToken()) || this._token;
      } catch { /* connect with the token held; the server answers 4001 if it is expired */ }
      if (this._closed) return;
    }
    let ws;
    try {
      ws = new this._WebSocket(this._url, ["bearer", this._token]);
    } catch (error) { // a malformed URL, or a token that cannot be a subprotocol: retrying cannot help
      return this._emit("close", { code: 1006, reason: String(error), willReconnect: false });
    }
    this._ws = ws;
    this._seen = new Set();
    ws.onopen = () => {
      this._set("healthy", () => { this._attempt = 0; }, this._options.healthyAfterMs);
      this._scheduleRenewal();
      this._emit("open", { protocol: ws.protocol });
    };
    ws.onmessage = (event) => this._message(ws, event.data);
    ws.onclose = (event) => this._closedBy(ws, event.code, event.reason);
  }

  _message(ws, data) {
    if (data === "ping") return ws.send("pong");
    if (data === "auth ok") return this._emit("renewed", { expiresAt: tokenExpiry(this._token) });
    if (typeof data !== "string" || data[0] !== "{") return;
    const update = JSON.parse(data);
    this._attempt = 0;
    this._authRetried = false;
    const id = update.story_id;
    // The first update of a story on a new socket is its snapshot: taken even if `seq` restarted.
    const first = !this._seen.has(id);
    this._seen.add(id);
    if (typeof update.seq === "number") {
      if (!first && update.seq <= this._seqs.get(id)) return;
      this._seqs.set(id, update.seq);
    }
    this._store(update);
    this._emit("update", update);
  }

  _closedBy(ws, code, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    this._clear("healthy", "renew");
    if (AUTH_CODES.has(code)) return this._authFailed(code, reason);
    const willReconnect = RETRYABLE_CODES.has(code) && !this._closed;
    const attempt = willReconnect ? this._attempt : null;
    const delayMs = willReconnect ? this._retryLater() : null;
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
    const ws = this._ws;
    if (!ws || this._closed) return;
    ws.onclose = ws.onmessage = null;
    ws.close();
    this._closedBy(ws, 1006, reason);
  }

  _retryLater() {
    const { minDelayMs, maxDelayMs } = this._options;
    const delayMs = reconnectDelay(this._attempt++, minDelayMs, maxDelayMs);
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
    if (this._ws?.readyState !== 1) return;
    this._ws.send(`auth ${token}`);
    this._scheduleRenewal();
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
  _store(update) { this.state = update; }
}

class DashboardConnection extends ProgressConnection {
  states = new Map();
  _store(update) { this.states.set(update.story_id, update); }
}

function wsBase(baseUrl) {
  return baseUrl.replace(/\/+$/, "").replace(/^http/, "ws");
}

/** Follow one story: `state` holds its latest update. */
export function connectStory(baseUrl, storyId, options) {
  const url = `${wsBase(baseUrl)}/ws/stories/${encodeURIComponent(storyId)}/progress`;
  return new StoryConnection(url, options);
}

/** Follow every story of the token's user: `states` maps story id to its latest update. */
export function connectDashboard(baseUrl, options) {
  return new DashboardConnection(`${wsBase(baseUrl)}/ws/user/stories`, options);
}
