"""The Litestar app on in-memory adapters, under litestar's TestClient: HTTP endpoints and both token forms.

TestClient runs the app and its lifespan on another thread and loop (stack-probe §6), so the fakes
are seeded before the app starts, and only thread-safe flags (`fail()`) are touched while it runs.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from adapters.jwt_tokens import JwtTokenIssuer
from adapters.memory import MemoryBroker, MemoryStoryDirectory
from domain.progress import ProgressUpdate, StoryStatus
from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.settings import Settings
from testkit.waiting import timeout

KEY = "unit-test-secret-of-at-least-32-bytes!"


@dataclass
class App:
    client: TestClient[Litestar]
    directory: MemoryStoryDirectory
    issuer: JwtTokenIssuer
    user: UUID
    story: UUID
    snapshot: ProgressUpdate


@pytest.fixture
def app() -> Iterator[App]:
    container = Container(settings=Settings(jwt_key=KEY, backend="memory", demo_page=True))
    user, story = uuid.uuid4(), uuid.uuid4()
    directory, broker = container.directory(), container.memory_broker()
    assert isinstance(directory, MemoryStoryDirectory)
    assert isinstance(broker, MemoryBroker)
    directory.add(story, user)
    update = ProgressUpdate(story, StoryStatus.GENERATING, 40, "Writing chapter 2", datetime.now(UTC))
    snapshot = asyncio.run(broker.publish(update))
    with TestClient(app=create_app(container), timeout=timeout(5)) as client:
        yield App(client, directory, JwtTokenIssuer(KEY), user, story, snapshot)


def test_healthz_answers_while_the_process_runs(app: App) -> None:
    response = app.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_on_the_memory_adapters(app: App) -> None:
    response = app.client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "down": []}


def test_readyz_names_postgres_when_the_directory_is_down(app: App) -> None:
    app.directory.fail()

    response = app.client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "down": ["postgres"]}


def test_metrics_are_in_prometheus_text_format(app: App) -> None:
    response = app.client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE gateway_connections gauge" in response.text
    assert "gateway_listener_restarts_total 0.0" in response.text


def test_the_demo_page_is_served(app: App) -> None:
    response = app.client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    assert 'from "/client.js"' in response.text
    assert app.client.get("/client.js").status_code == 200


def test_a_token_in_the_query_string_gets_the_snapshot(app: App) -> None:
    token = app.issuer.issue(app.user)

    with app.client.websocket_connect(f"/ws/stories/{app.story}/progress?token={token}") as ws:
        snapshot = json.loads(ws.receive_text(timeout=timeout(2)))
        ws.send_text("ping")
        pong = ws.receive_text(timeout=timeout(2))

    assert snapshot == json.loads(json.dumps(app.snapshot.to_wire()))
    assert pong == "pong"


def test_a_token_as_bearer_subprotocol_gets_the_snapshot_and_bearer_is_selected(app: App) -> None:
    token = app.issuer.issue(app.user)

    with app.client.websocket_connect("/ws/user/stories", subprotocols=["bearer", token]) as ws:
        snapshot = json.loads(ws.receive_text(timeout=timeout(2)))

    assert ws.accepted_subprotocol == "bearer"
    assert snapshot["story_id"] == str(app.story)
    assert snapshot["seq"] == app.snapshot.seq


def test_a_story_connection_after_the_handshake_counts_in_metrics(app: App) -> None:
    token = app.issuer.issue(app.user)
    with app.client.websocket_connect(f"/ws/stories/{app.story}/progress?token={token}") as ws:
        ws.receive_text(timeout=timeout(2))

    assert 'gateway_connections{endpoint="story"}' in app.client.get("/metrics").text


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        ("/ws/stories/{story}/progress", 4001, "invalid_token"),
        ("/ws/stories/{story}/progress?token=forged", 4001, "invalid_token"),
        ("/ws/stories/{story}/progress?token={expired}", 4001, "token_expired"),
        ("/ws/stories/{other}/progress?token={token}", 4003, "forbidden"),
        ("/ws/stories/not-a-uuid/progress?token={token}", 4003, "forbidden"),
        ("/ws/user/stories?token={wrong_key}", 4001, "invalid_token"),
    ],
    ids=["no-token", "forged", "expired", "unknown-story", "bad-story-id", "other-key"],
)
def test_a_denied_socket_is_closed_with_the_contract_code(
    app: App, path: str, code: int, reason: str
) -> None:
    url = path.format(
        story=app.story,
        other=uuid.uuid4(),
        token=app.issuer.issue(app.user),
        expired=app.issuer.issue(app.user, ttl_seconds=-10),
        wrong_key=JwtTokenIssuer("another-secret-of-at-least-32-bytes").issue(app.user),
    )

    with app.client.websocket_connect(url) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text(timeout=timeout(2))

    assert (closed.value.code, closed.value.detail) == (code, reason)


def test_a_socket_is_closed_with_1013_when_the_directory_is_down(app: App) -> None:
    app.directory.fail()
    token = app.issuer.issue(app.user)

    with (
        app.client.websocket_connect(f"/ws/stories/{app.story}/progress?token={token}") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_text(timeout=timeout(2))

    assert (closed.value.code, closed.value.detail) == (1013, "unavailable")
