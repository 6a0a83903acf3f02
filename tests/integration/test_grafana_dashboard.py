"""docs/grafana-dashboard.json queries only what the real server's `/metrics` serves: every PromQL
expression of every panel (and the instance variable) is read, and each metric name in it must be a
sample name of a real `serve` that has seen some traffic (labelled families show samples only then)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from websockets.asyncio.client import connect

from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.clients import ProgressClient, close_code
from testkit.metrics import metric_reaches, scrape
from testkit.processes import ROOT
from tests.integration.conftest import NewStory, StartGateway

DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
PROMQL_WORDS = {
    # functions and aggregations
    *("sum", "avg", "min", "max", "count", "rate", "irate", "increase", "histogram_quantile", "topk"),
    *("label_values", "clamp_min", "abs", "delta", "deriv", "time", "vector", "scalar"),
    # keywords
    *("by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset"),
}


def expressions(node: Any) -> Iterator[str]:
    """Every `expr` of a panel target, and every variable query, anywhere in the dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: identifiers left once label matchers, grouping
    labels, ranges, strings, numbers and the language's own words are taken out."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)
    text = re.sub(r",\s*[a-zA-Z_]+\s*\)", ")", text) if text.startswith("label_values") else text
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text))
    return {name for name in names if name not in PROMQL_WORDS and not name.startswith("__")}


def test_the_expression_reader_finds_metric_names() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, endpoint) "
        '(rate(gateway_x_bucket{instance=~"$i"}[$__rate_interval])))'
    )
    assert metric_names(expr) == {"gateway_x_bucket"}
    assert metric_names("label_values(gateway_y_total, instance)") == {"gateway_y_total"}
    assert metric_names("process_open_fds / process_max_fds") == {"process_open_fds", "process_max_fds"}


async def test_every_metric_the_dashboard_queries_is_served(
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_client: Redis,
    redis_keys: RedisKeys,
    redis_publisher: RedisProgressPublisher,
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = list(expressions(dashboard))
    assert len(queries) >= 15, "the dashboard lost its panels"
    gateway = start_gateway()
    story = await new_story()
    async with connect(gateway.ws + story.path()) as connection:
        await connection.send("ping")
        assert await connection.recv() == "pong"
        published = await redis_publisher.publish(
            ProgressUpdate(story.id, StoryStatus.GENERATING, 30, "step", datetime.now(UTC))
        )
        await ProgressClient(connection).read_seq(published.seq or 0)
    async with connect(f"{gateway.ws}/ws/user/stories?token=bad") as refused:
        assert await close_code(refused) == 4001
    await redis_client.publish(redis_keys.story_channel(story.id), b"{not json")
    await metric_reaches(gateway, "gateway_updates_rejected_total", 1)
    served = (await scrape(gateway.http)).names()

    used = {name: expr for expr in queries for name in metric_names(expr)}
    missing = {name: expr for name, expr in used.items() if name not in served}
    assert missing == {}, f"the dashboard queries metrics /metrics does not serve: {missing}"
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    assert {
        "gateway_messages_sent",
        "gateway_write_lag_seconds",
        "gateway_connect_seconds",
        "gateway_closes",
        "gateway_auth_failures",
        "gateway_snapshot_resyncs",
        "gateway_broker_messages",
        "process_resident_memory_bytes",
    } <= families
