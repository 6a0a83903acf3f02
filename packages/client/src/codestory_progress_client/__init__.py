"""A Python client of the progress gateway, for backend services and scripts.

    from codestory_progress_client import story_updates

    async with story_updates("ws://127.0.0.1:8000", story_id, token) as updates:
        async for update in updates:
            print(update.status, update.progress_percent)

It follows the gateway's contract (docs/protocol.md): the token as the `bearer` subprotocol,
reconnects with backoff and full jitter on retryable closes (4029 included), `AuthError` on
4001/4003, stale `seq`s dropped (a repeat that only changes `stalled` is applied), renewal in
band, a malformed frame skipped, and `await updates.cancel()`. It depends on `websockets` alone
and imports nothing of the gateway; `watch` (the terminal view) needs the `watch` extra (`rich`)
for its bars.
"""

from codestory_progress_client.cancel import CancelRefusal, CancelResult
from codestory_progress_client.connection import ProgressStream
from codestory_progress_client.endpoints import dashboard_updates, story_updates
from codestory_progress_client.errors import AuthError, ConnectionRejected, ProgressClientError
from codestory_progress_client.rules import Backoff
from codestory_progress_client.updates import MalformedUpdate, ProgressUpdate, parse_update

__all__ = [
    "AuthError",
    "Backoff",
    "CancelRefusal",
    "CancelResult",
    "ConnectionRejected",
    "MalformedUpdate",
    "ProgressClientError",
    "ProgressStream",
    "ProgressUpdate",
    "dashboard_updates",
    "parse_update",
    "story_updates",
]
