"""The gateway's two endpoints as streams: one story, or every story of the token's user."""

from __future__ import annotations

from urllib.parse import quote

from codestory_progress_client.connection import ProgressStream, TokenSource
from codestory_progress_client.rules import Backoff


def _ws_base(base_url: str) -> str:
    """`ws(s)://host:port`, also from `http(s)://`, without a trailing slash."""
    base = base_url.rstrip("/")
    return "ws" + base[4:] if base.startswith("http") else base


def story_updates(  # noqa: PLR0913 (the public signature: keyword options)
    base_url: str,
    story_id: str,
    token: str,
    *,
    get_token: TokenSource | None = None,
    backoff: Backoff | None = None,
    renew_before: float = 15.0,
) -> ProgressStream:
    """Follow one story; `base_url` is like `ws://host:port`."""
    url = f"{_ws_base(base_url)}/ws/stories/{quote(str(story_id), safe='')}/progress"
    return ProgressStream(
        url, token, get_token=get_token, backoff=backoff, renew_before=renew_before, story_id=str(story_id)
    )


def dashboard_updates(
    base_url: str,
    token: str,
    *,
    get_token: TokenSource | None = None,
    backoff: Backoff | None = None,
    renew_before: float = 15.0,
) -> ProgressStream:
    """Follow every story of the token's user, including stories created after connecting."""
    url = f"{_ws_base(base_url)}/ws/user/stories"
    return ProgressStream(url, token, get_token=get_token, backoff=backoff, renew_before=renew_before)
