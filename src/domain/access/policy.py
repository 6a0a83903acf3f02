"""Who may watch what: a token gives a user, a user and a story give access or the reason why not."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from domain.errors import AccessDenied, AuthFailure, Closure, DirectoryUnavailable, TokenRefused
from domain.ports import StoryDirectory, TokenVerifier
from domain.progress import InvalidUpdate, parse_story_id
from domain.values import Principal


class AccessPolicy:
    def __init__(self, tokens: TokenVerifier, directory: StoryDirectory, lookup_timeout: float = 1.5) -> None:
        self._tokens = tokens
        self._directory = directory
        self._lookup_timeout = lookup_timeout

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise TokenRefused(AuthFailure.NO_TOKEN)
        return self._tokens.verify(token)

    def renew(self, current: Principal, token: str) -> Principal:
        """A renewal must speak for the same user, so a socket never changes hands."""
        renewed = self.authenticate(token)
        if renewed.user_id != current.user_id:
            raise TokenRefused(AuthFailure.OTHER_USER)
        return renewed

    async def story_for(self, principal: Principal, raw_story_id: str) -> UUID:
        """The story id if `principal` owns it; a slow directory counts as unavailable, never as denial."""
        try:
            story_id = parse_story_id(raw_story_id)
        except InvalidUpdate:
            raise AccessDenied(Closure.FORBIDDEN, "story id is not a UUID") from None
        try:
            async with asyncio.timeout(self._lookup_timeout):
                owner = await self._directory.owner_of(story_id)
        except TimeoutError:
            raise DirectoryUnavailable("story lookup timed out") from None
        if owner is None:
            raise AccessDenied(Closure.FORBIDDEN, "unknown story")
        if owner != principal.user_id:
            raise AccessDenied(Closure.FORBIDDEN, "story of another user")
        return story_id

    async def stories_of(self, principal: Principal) -> Sequence[UUID]:
        try:
            async with asyncio.timeout(self._lookup_timeout):
                return await self._directory.stories_of(principal.user_id)
        except TimeoutError:
            raise DirectoryUnavailable("story listing timed out") from None
