"""AccessPolicy: which token and story give access, and the closure that says why not."""

from __future__ import annotations

import asyncio
import time
import uuid
from uuid import UUID

import pytest

from adapters.memory import MemoryStoryDirectory, MemoryTokens
from domain.access.policy import AccessPolicy
from domain.errors import AccessDenied, Closure, DirectoryUnavailable
from domain.values import Principal
from testkit.waiting import timeout

USER, OTHER, STORY, FOREIGN = (uuid.uuid4() for _ in range(4))


class StalledDirectory:
    """A StoryDirectory whose database never answers (a hung connection, a lock)."""

    def __init__(self) -> None:
        self._never = asyncio.Event()

    async def owner_of(self, story_id: UUID) -> UUID | None:
        await self._never.wait()
        return None

    async def stories_of(self, user_id: UUID) -> list[UUID]:
        await self._never.wait()
        return []

    async def ping(self) -> None:
        await self._never.wait()


@pytest.fixture
def tokens() -> MemoryTokens:
    return MemoryTokens()


@pytest.fixture
def directory() -> MemoryStoryDirectory:
    return MemoryStoryDirectory({STORY: USER, FOREIGN: OTHER})


@pytest.fixture
def policy(tokens: MemoryTokens, directory: MemoryStoryDirectory) -> AccessPolicy:
    return AccessPolicy(tokens, directory)


def closure_of(denied: pytest.ExceptionInfo[AccessDenied]) -> Closure:
    return denied.value.closure


@pytest.mark.parametrize("token", [None, "", "memory-token-999", "eyJhbGciOiJub25lIn0.e30."])
def test_a_missing_or_unknown_token_is_invalid(policy: AccessPolicy, token: str | None) -> None:
    with pytest.raises(AccessDenied) as denied:
        policy.authenticate(token)

    assert closure_of(denied) is Closure.INVALID_TOKEN


def test_an_expired_token_says_so(policy: AccessPolicy, tokens: MemoryTokens) -> None:
    with pytest.raises(AccessDenied) as denied:
        policy.authenticate(tokens.issue(USER, ttl_seconds=-1))

    assert closure_of(denied) is Closure.TOKEN_EXPIRED


def test_a_good_token_gives_its_user_until_its_expiry(policy: AccessPolicy, tokens: MemoryTokens) -> None:
    principal = policy.authenticate(tokens.issue(USER, ttl_seconds=60))

    assert principal.user_id == USER
    assert time.time() + 50 < principal.expires_at <= time.time() + 60


async def test_the_owner_gets_the_story(policy: AccessPolicy) -> None:
    assert await policy.story_for(Principal(USER, time.time() + 60), str(STORY)) == STORY


@pytest.mark.parametrize(
    "raw_story_id", [str(FOREIGN), str(uuid.uuid4()), "not-a-uuid", "", "../../etc/passwd", "1" * 33]
)
async def test_another_users_unknown_or_malformed_story_is_forbidden(
    policy: AccessPolicy, raw_story_id: str
) -> None:
    with pytest.raises(AccessDenied) as denied:
        await policy.story_for(Principal(USER, time.time() + 60), raw_story_id)

    assert closure_of(denied) is Closure.FORBIDDEN


async def test_a_directory_that_is_down_is_unavailable_not_a_denial(
    policy: AccessPolicy, directory: MemoryStoryDirectory
) -> None:
    directory.fail()
    principal = Principal(USER, time.time() + 60)

    with pytest.raises(DirectoryUnavailable):
        await policy.story_for(principal, str(STORY))
    with pytest.raises(DirectoryUnavailable):
        await policy.stories_of(principal)


@pytest.mark.parametrize("lookup", ["story_for", "stories_of"])
async def test_a_directory_that_hangs_is_unavailable_within_the_lookup_timeout(
    tokens: MemoryTokens, lookup: str
) -> None:
    policy = AccessPolicy(tokens, StalledDirectory(), lookup_timeout=0.05)
    principal = Principal(USER, time.time() + 60)
    started = time.monotonic()

    call = policy.story_for(principal, str(STORY)) if lookup == "story_for" else policy.stories_of(principal)

    with pytest.raises(DirectoryUnavailable):
        await asyncio.wait_for(call, timeout(2))

    assert 0.05 <= time.monotonic() - started < timeout(1)


async def test_the_stories_of_a_user_are_only_theirs(policy: AccessPolicy) -> None:
    assert await policy.stories_of(Principal(USER, time.time() + 60)) == [STORY]


def test_a_renewal_for_the_same_user_extends_the_expiry(policy: AccessPolicy, tokens: MemoryTokens) -> None:
    current = policy.authenticate(tokens.issue(USER, ttl_seconds=5))

    renewed = policy.renew(current, tokens.issue(USER, ttl_seconds=3600))

    assert renewed.user_id == USER
    assert renewed.expires_at > current.expires_at


@pytest.mark.parametrize("ttl", [3600, -1])
def test_a_renewal_for_another_user_is_invalid(policy: AccessPolicy, tokens: MemoryTokens, ttl: int) -> None:
    current = policy.authenticate(tokens.issue(USER))
    other = tokens.issue(OTHER, ttl_seconds=ttl)

    with pytest.raises(AccessDenied) as denied:
        policy.renew(current, other)

    expected = Closure.INVALID_TOKEN if ttl > 0 else Closure.TOKEN_EXPIRED
    assert closure_of(denied) is expected


def test_a_renewal_with_a_bad_token_is_invalid(policy: AccessPolicy, tokens: MemoryTokens) -> None:
    current = policy.authenticate(tokens.issue(USER))

    with pytest.raises(AccessDenied) as denied:
        policy.renew(current, "forged")

    assert closure_of(denied) is Closure.INVALID_TOKEN
