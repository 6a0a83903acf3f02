// Types of the progress gateway's browser client: the npm package `@codestory/progress-client`,
// also served by the gateway at `GET /client.js`.
//
//   import { connectStory } from "@codestory/progress-client";   // or "https://gateway.example/client.js"
//   const story = connectStory("wss://gateway.example", storyId, { token, getToken, onAuthError });
//   story.addEventListener("update", (e) => render(e.detail));
//
// A connection starts connecting in a microtask after `connectStory`/`connectDashboard` returns:
// listeners added in the same synchronous run see every event, the first `close` included.
//
// Transports: WebSocket, or Server-Sent Events over `fetch` streaming (`transport`). Everything
// else (`state`/`states`, the events, the backoff, `onAuthError`, `getToken`, the retry after
// 4029) behaves the same on both: an SSE refusal (401, 403, 429, 503) or its `event: close` is a
// `close` event with the same code and reason a WebSocket close would carry.

/** One progress message (docs/protocol.md). */
export interface ProgressUpdate {
  story_id: string;
  status: "analyzing" | "generating" | "synthesizing" | "complete" | "failed";
  progress_percent: number;
  current_step: string;
  updated_at: string;
  /** The story's update counter; absent only from a legacy publisher. */
  seq?: number;
  /**
   * The gateway's judgement: no update and no liveness refresh from the worker for
   * `STALLED_AFTER_SECONDS`. The state is sent again with the same `seq` and `stalled: true`, and
   * again without it when the worker shows life; the next update clears it. The client sets it to
   * `true` or `false` (absent on the wire is `false`). A message with the held `seq` that only
   * changes `stalled` is applied (an `update` event).
   */
  stalled: boolean;
}

/** Why the gateway refused a cancel; `unavailable` also when no answer came (no open socket, a timeout). */
export type CancelRefusal = "terminal" | "forbidden" | "unavailable";

/** What `cancel()` resolves with; it never rejects. Asking again is safe (a repeat is still ok). */
export type CancelResult = { ok: true } | { ok: false; reason: CancelRefusal };

export interface CloseDetail {
  code: number;
  reason: string;
  /** True when a reconnect is scheduled (retryable code) or granted (a token from `onAuthError`). */
  willReconnect: boolean;
  /** For a scheduled reconnect: its attempt number (0 first) and its delay. */
  attempt?: number | null;
  delayMs?: number | null;
}

export interface AuthErrorDetail {
  /** 4001 (token missing, invalid or expired) or 4003 (story not yours or unknown). */
  code: 4001 | 4003;
  reason: string;
}

export type TransportKind = "websocket" | "sse";

export interface ConnectOptions {
  /** The JWT; sent as the `bearer` subprotocol (WebSocket) or as `Authorization: Bearer` (SSE), never in the URL. */
  token: string;
  /**
   * `"auto"` (default): WebSocket, switching every auto connection of the page to SSE for the page's
   * life (with a `transport` event) where `WebSocket` is missing, or after 3 WebSocket attempts in a
   * row that ended without a close frame (1006) before they were healthy: an upgrade refused, or a
   * tunnel cut by a proxy (the first SSE attempt then follows at once, `delayMs` 0). `"websocket"`
   * or `"sse"`: that transport only.
   */
  transport?: "auto" | TransportKind;
  /**
   * Called some seconds before the token's `exp`. WebSocket: the result is sent in band
   * (`auth <JWT>`). SSE: a new stream is opened with it (the snapshot restores the state). Either
   * way `renewed` follows.
   */
  getToken?: () => string | Promise<string>;
  /** Called on 4001/4003. A new token returned (or resolved) gets exactly one more attempt. */
  onAuthError?: (detail: AuthErrorDetail) => string | null | undefined | Promise<string | null | undefined>;
  /** Backoff floor and cap (defaults 500 and 20000): delay = min(max, min + random() * min(max, min * 2^n)). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Open this long and the backoff starts again from its first step (default 5000); an update does it at once. */
  healthyAfterMs?: number;
  /** Renew at most this long before `exp`, and at the latest half-way through the token's remaining life (default 15000). */
  renewBeforeMs?: number;
  /** A WebSocket implementation (tests, non-browser runtimes); default `globalThis.WebSocket`. */
  WebSocket?: typeof WebSocket;
  /** How long `cancel()` waits for the answer before it resolves `unavailable` (default 10000). */
  cancelTimeoutMs?: number;
  /** A `fetch` for SSE (tests, non-browser runtimes); default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

export interface TransportDetail {
  transport: "sse";
  /** `websocket_missing` (no WebSocket in this runtime) or `websocket_failed` (3 attempts in a row). */
  reason: "websocket_missing" | "websocket_failed";
}

export interface MalformedDetail {
  /** The frame's first 200 characters. */
  data: string;
  /** Why it is no progress message (not JSON, or a field of the wrong type). */
  error: string;
}

export interface ProgressEvents {
  /** A progress update newer than the one held (by `seq`, or the same `seq` with `stalled` changed), or the first one after a (re)connect. */
  update: CustomEvent<ProgressUpdate>;
  /** The socket closed; for 4001/4003 this comes once `onAuthError` has settled. */
  close: CustomEvent<CloseDetail>;
  /** The socket is open (WebSocket: the server selected the `bearer` subprotocol; SSE: the stream began, protocol ""). */
  open: CustomEvent<{ protocol: string; transport: TransportKind }>;
  /** The token was renewed: WebSocket, the server answered `auth ok`; SSE, the stream with the new token is open. */
  renewed: CustomEvent<{ expiresAt: number | null }>;
  /** `auto` mode moved this connection to SSE, for the page's life (once per connection, before its first SSE attempt). */
  transport: CustomEvent<TransportDetail>;
  /** A frame that starts with `{` but is no progress message: skipped, the connection stays open. */
  malformed: CustomEvent<MalformedDetail>;
}

interface ProgressConnection extends EventTarget {
  addEventListener<K extends keyof ProgressEvents>(
    type: K,
    listener: (event: ProgressEvents[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
                   options?: boolean | AddEventListenerOptions): void;
  /** Stop for good: closes the socket (1000), cancels reconnects and renewals. */
  close(): void;
  /** The transport of the current (or next) attempt. */
  readonly transport: TransportKind;
}

export interface StoryConnection extends ProgressConnection {
  /** The story's latest update, or null before the first. */
  readonly state: ProgressUpdate | null;
  readonly storyId: string;
  /**
   * Ask the gateway to end the story: WebSocket sends `cancel`, SSE POSTs `/stories/{id}/cancel`
   * with the token. `ok` means recorded: the worker then ends the story `failed` (an `update`).
   * Over SSE a 401 or 403 resolves `forbidden`.
   */
  cancel(): Promise<CancelResult>;
}

export interface DashboardConnection extends ProgressConnection {
  /** Story id to its latest update, for every story of the user seen so far. */
  readonly states: Map<string, ProgressUpdate>;
  /** Ask the gateway to end one of the user's stories: `cancel <storyId>` (SSE: the POST). */
  cancel(storyId: string): Promise<CancelResult>;
}

/** Follow one story. `baseUrl` is like `ws://host:port` or `http://host:port` (each transport takes its own scheme). */
export function connectStory(baseUrl: string, storyId: string, options: ConnectOptions): StoryConnection;

/** Follow every story of the token's user, including stories created after connecting. */
export function connectDashboard(baseUrl: string, options: ConnectOptions): DashboardConnection;

/** Close codes after which the client reconnects with backoff (1000/1005 only if it did not close; 4029 included). */
export const RETRYABLE_CODES: ReadonlySet<number>;
/** Close codes that stop the client (onAuthError may grant one more attempt). */
export const AUTH_CODES: ReadonlySet<number>;
/** What a close code means to the client: the same table as the Python client's. */
export function closeAction(code: number): "reconnect" | "auth_error" | "stop";
/** The update in a text frame, or null for other frames; throws for a frame starting with `{` that is none. */
export function parseUpdate(data: unknown): ProgressUpdate | null;
/** The seq rule: a higher `seq` than the one held, or the same with only `stalled` changed. */
export function isNewer(held: { seq: number; stalled: boolean } | undefined, seq: number, stalled: boolean): boolean;
/** A cancel answer (`cancel ok [id]`, `cancel refused [id] <reason>`), or null for other texts. */
export function parseCancelAnswer(text: unknown): { storyId: string | null; result: CancelResult } | null;
/** The backoff: delay before attempt `attempt` (0 first). */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random?: () => number): number;
/** The JWT's `exp` in ms since the epoch, or null. */
export function tokenExpiry(token: string): number | null;
