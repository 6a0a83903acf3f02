"""Where a token is read: only `bearer, <JWT>` and the literal query parameter `token` authenticate."""

from __future__ import annotations

import pytest

from entrypoints.request_tokens import bearer_token, query_token, subprotocol_token


@pytest.mark.parametrize(
    ("query", "token"),
    [
        (b"token=abc.def.ghi", "abc.def.ghi"),
        (b"x=1&token=abc&y=2", "abc"),
        (b"token=ab%2Ecd", "ab.cd"),
        (b"token=first&token=second", "first"),
        (b"token=", ""),
        (b"", None),
        (b"TOKEN=abc", None),
        (b"%74oken=abc", None),
        (b"tok%65n=abc", None),
        (b"access_token=abc", None),
        (b"x=token=abc", None),
    ],
)
def test_only_the_literal_name_token_is_read(query: bytes, token: str | None) -> None:
    assert query_token(query) == token


@pytest.mark.parametrize(
    ("offered", "token"),
    [
        (["bearer", "abc"], "abc"),
        (["bearer ", " abc"], "abc"),
        (["", "bearer", "", "abc"], "abc"),
        (["abc", "bearer"], None),
        (["bearer"], None),
        (["Bearer", "abc"], None),
        ([], None),
    ],
)
def test_the_subprotocol_pair_gives_the_token(offered: list[str], token: str | None) -> None:
    assert subprotocol_token(offered) == token


@pytest.mark.parametrize(
    ("authorization", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic dXNlcjpwYXNz", None),
        ("abc.def.ghi", None),
        ("", None),
        (None, None),
    ],
)
def test_the_authorization_header_gives_a_token_only_with_the_bearer_scheme(
    authorization: str | None, token: str | None
) -> None:
    assert bearer_token(authorization) == token
