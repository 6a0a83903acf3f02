"""The JWT adapter with real keys (RS256, ES256) and the attacks it must refuse: `alg: none`,
HS256 signed with the public key (algorithm confusion), foreign keys, wrong audience or issuer,
a `sub` that is not a UUID; then the same refusals through the real server (close 4001)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from adapters.jwt_tokens import JwtTokenIssuer, JwtTokenVerifier
from adapters.redis_progress import RedisProgressPublisher
from domain.errors import AccessDenied, AuthFailure, Closure, TokenRefused
from testkit.clients import ProgressClient
from testkit.postgres import Database
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import SECRET, StartGateway

AUDIENCE, ISSUER = "codestory-gateway", "https://auth.codestory.test"


@dataclass(frozen=True)
class KeyPair:
    private: str
    public: str


def pem_pair(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> KeyPair:
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(private.decode(), public.decode())


@pytest.fixture(scope="module")
def rsa_keys() -> KeyPair:
    return pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_keys() -> KeyPair:
    return pem_pair(ec.generate_private_key(ec.SECP256R1()))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(user: uuid.UUID, **extra: object) -> dict[str, object]:
    return {"sub": str(user), "exp": int(time.time()) + 600, **extra}


def unsigned(claims: dict[str, object]) -> str:
    """`alg: none`: a token anyone can write."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def hs256_with(secret: str, claims: dict[str, object]) -> str:
    """HS256 computed by hand, so any bytes (a public key PEM) can be the secret."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = f"{header}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64url(signature)}"


def denial(verifier: JwtTokenVerifier, token: str) -> Closure:
    with pytest.raises(AccessDenied) as denied:
        verifier.verify(token)
    return denied.value.closure


@pytest.mark.parametrize(("algorithm", "keys_fixture"), [("RS256", "rsa_keys"), ("ES256", "ec_keys")])
def test_an_asymmetric_token_gives_its_principal(
    algorithm: str, keys_fixture: str, request: pytest.FixtureRequest
) -> None:
    keys: KeyPair = request.getfixturevalue(keys_fixture)
    user = uuid.uuid4()
    token = JwtTokenIssuer(keys.private, algorithm).issue(user, ttl_seconds=600)

    principal = JwtTokenVerifier(keys.public, (algorithm,)).verify(token)

    assert principal.user_id == user
    assert principal.expires_at == pytest.approx(time.time() + 600, abs=2)


def test_an_expired_rs256_token_is_denied_as_expired(rsa_keys: KeyPair) -> None:
    token = JwtTokenIssuer(rsa_keys.private, "RS256").issue(uuid.uuid4(), ttl_seconds=-30)

    assert denial(JwtTokenVerifier(rsa_keys.public, ("RS256",)), token) is Closure.TOKEN_EXPIRED


@pytest.mark.parametrize("configured", ["HS256", "RS256"])
def test_alg_none_is_refused(configured: str, rsa_keys: KeyPair) -> None:
    key = SECRET if configured == "HS256" else rsa_keys.public
    verifier = JwtTokenVerifier(key, (configured,))

    assert denial(verifier, unsigned(claims_of(uuid.uuid4()))) is Closure.INVALID_TOKEN


def test_hs256_signed_with_the_public_key_is_refused_by_an_rs256_verifier(rsa_keys: KeyPair) -> None:
    """Algorithm confusion: the public key is public, so an HMAC over it proves nothing."""
    forged = hs256_with(rsa_keys.public, claims_of(uuid.uuid4()))

    assert denial(JwtTokenVerifier(rsa_keys.public, ("RS256",)), forged) is Closure.INVALID_TOKEN
    assert denial(JwtTokenVerifier(rsa_keys.public, ("RS256", "ES256")), forged) is Closure.INVALID_TOKEN


def test_a_token_of_an_algorithm_not_configured_is_refused(rsa_keys: KeyPair, ec_keys: KeyPair) -> None:
    es256 = JwtTokenIssuer(ec_keys.private, "ES256").issue(uuid.uuid4())

    assert denial(JwtTokenVerifier(rsa_keys.public, ("RS256",)), es256) is Closure.INVALID_TOKEN


def test_a_token_signed_with_another_key_is_refused(rsa_keys: KeyPair) -> None:
    other = pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    token = JwtTokenIssuer(other.private, "RS256").issue(uuid.uuid4())

    assert denial(JwtTokenVerifier(rsa_keys.public, ("RS256",)), token) is Closure.INVALID_TOKEN
    assert denial(JwtTokenVerifier(SECRET), hs256_with("another-secret-" * 3, claims_of(uuid.uuid4()))) is (
        Closure.INVALID_TOKEN
    )


@pytest.mark.parametrize(
    ("extra", "accepted"),
    [
        pytest.param({"aud": AUDIENCE, "iss": ISSUER}, True, id="both-right"),
        pytest.param({"aud": [AUDIENCE, "other"], "iss": ISSUER}, True, id="audience-in-a-list"),
        pytest.param({"aud": "another-service", "iss": ISSUER}, False, id="wrong-audience"),
        pytest.param({"iss": ISSUER}, False, id="no-audience"),
        pytest.param({"aud": AUDIENCE, "iss": "https://evil.test"}, False, id="wrong-issuer"),
        pytest.param({"aud": AUDIENCE}, False, id="no-issuer"),
    ],
)
def test_audience_and_issuer_are_checked_when_set(
    rsa_keys: KeyPair, extra: dict[str, object], accepted: bool
) -> None:
    verifier = JwtTokenVerifier(rsa_keys.public, ("RS256",), audience=AUDIENCE, issuer=ISSUER)
    user = uuid.uuid4()
    token = jwt.encode(claims_of(user, **extra), rsa_keys.private, algorithm="RS256")

    if accepted:
        assert verifier.verify(token).user_id == user
    else:
        assert denial(verifier, token) is Closure.INVALID_TOKEN


def test_the_issuer_is_ignored_when_not_set(rsa_keys: KeyPair) -> None:
    user = uuid.uuid4()
    token = jwt.encode(claims_of(user, iss="anyone"), rsa_keys.private, algorithm="RS256")

    assert JwtTokenVerifier(rsa_keys.public, ("RS256",)).verify(token).user_id == user


@pytest.mark.parametrize("audience", ["billing-service", ["billing-service"], [AUDIENCE, "other"]])
def test_a_token_that_names_an_audience_is_refused_while_jwt_audience_is_unset(
    rsa_keys: KeyPair, audience: object
) -> None:
    """PyJWT's default: a token meant for some audience is not meant for a gateway that names none."""
    token = jwt.encode(claims_of(uuid.uuid4(), aud=audience), rsa_keys.private, algorithm="RS256")

    with pytest.raises(TokenRefused) as refused:
        JwtTokenVerifier(rsa_keys.public, ("RS256",)).verify(token)
    assert refused.value.failure is AuthFailure.BAD_AUDIENCE
    assert refused.value.closure is Closure.INVALID_TOKEN


def test_each_refusal_names_its_reason_from_the_fixed_set(rsa_keys: KeyPair) -> None:
    verifier = JwtTokenVerifier(rsa_keys.public, ("RS256",), audience=AUDIENCE, issuer=ISSUER)
    user, now = uuid.uuid4(), int(time.time())
    other = pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def signed(key: str = rsa_keys.private, **changes: object) -> str:
        claims = {**claims_of(user, aud=AUDIENCE, iss=ISSUER), **changes}
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256")

    cases = {
        "not-a-jwt": AuthFailure.MALFORMED,
        unsigned(claims_of(user)): AuthFailure.BAD_ALGORITHM,
        hs256_with(rsa_keys.public, claims_of(user)): AuthFailure.BAD_ALGORITHM,
        signed(other.private): AuthFailure.BAD_SIGNATURE,
        signed(exp=now - 60): AuthFailure.EXPIRED,
        signed(nbf=now + 600): AuthFailure.NOT_YET_VALID,
        signed(exp=None): AuthFailure.MISSING_CLAIM,
        signed(aud="billing-service"): AuthFailure.BAD_AUDIENCE,
        signed(iss="https://evil.test"): AuthFailure.BAD_ISSUER,
        signed(sub="alice"): AuthFailure.BAD_SUBJECT,
        signed(sub=42): AuthFailure.BAD_SUBJECT,
    }
    for token, expected in cases.items():
        with pytest.raises(TokenRefused) as refused:
            verifier.verify(token)
        assert refused.value.failure is expected, (token, refused.value.failure)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "alice", "exp": 4102444800}, id="sub-not-a-uuid"),
        pytest.param({"sub": 42, "exp": 4102444800}, id="sub-a-number"),
        pytest.param({"exp": 4102444800}, id="no-sub"),
        pytest.param({"sub": "6f1c2b9e-8a57-4c1e-9a4e-1f2d3c4b5a69"}, id="no-exp"),
    ],
)
def test_claims_that_do_not_name_a_user_until_a_time_are_refused(
    rsa_keys: KeyPair, claims: dict[str, object]
) -> None:
    token = jwt.encode(claims, rsa_keys.private, algorithm="RS256")

    assert denial(JwtTokenVerifier(rsa_keys.public, ("RS256",)), token) is Closure.INVALID_TOKEN


async def test_the_server_configured_with_a_public_key_refuses_forged_tokens_with_4001(
    start_gateway: StartGateway,
    rsa_keys: KeyPair,
    database: Database,
    redis_publisher: RedisProgressPublisher,
) -> None:
    gateway = start_gateway(JWT_SECRET="", JWT_PUBLIC_KEY=rsa_keys.public)
    story, user = uuid.uuid4(), uuid.uuid4()
    await database.insert_story(story, user)
    await redis_publisher.publish(make_update(story))
    url = f"{gateway.ws}/ws/stories/{story}/progress"
    forged = [hs256_with(rsa_keys.public, claims_of(user)), unsigned(claims_of(user))]

    closes = []
    for token in forged:
        with pytest.raises(ConnectionClosed) as closed:
            async with connect(f"{url}?token={token}", open_timeout=timeout(5)) as connection:
                await connection.recv()
        assert closed.value.rcvd is not None
        closes.append((closed.value.rcvd.code, closed.value.rcvd.reason))
    good = JwtTokenIssuer(rsa_keys.private, "RS256").issue(user)
    async with connect(url, subprotocols=["bearer", good], open_timeout=timeout(5)) as connection:
        snapshot = await ProgressClient(connection).read_seq(1)

    assert closes == [(4001, "invalid_token")] * 2
    assert snapshot["story_id"] == str(story)
