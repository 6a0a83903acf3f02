"""A Python client of the progress gateway, for backend services and scripts.

    async with story_updates("ws://127.0.0.1:8000", story_id, token) as updates:
        async for update in updates:
            print(update.status, update.progress_percent)

It follows docs/protocol.md: the token as the `bearer` subprotocol, reconnects with backoff and
full jitter on retryable closes, `AuthError` on 4001/4003, stale `seq`s dropped, renewal in band.
It imports nothing of the gateway itself.
"""

from progress_client.connection import ProgressStream
from progress_client.endpoints import dashboard_updates, story_updates
from progress_client.errors import AuthError, ConnectionRejected, ProgressClientError
from progress_client.rules import Backoff
from progress_client.updates import ProgressUpdate

__all__ = [
    "AuthError",
    "Backoff",
    "ConnectionRejected",
    "ProgressClientError",
    "ProgressStream",
    "ProgressUpdate",
    "dashboard_updates",
    "story_updates",
]
