"""Support for the tests and the bench: real services, the gateway in a subprocess, the browser.

One module per concern: `waiting` (the one timeout unit), `processes` (free ports, the `serve`
subprocess and its environment), `postgres`, `redis`, `clients` (a WebSocket client and HTTP
probes) and `browser` (Chromium through Playwright). A missing service or binary fails the run
with a message that names it: nothing is ever skipped.
"""
