"""Every label of the Prometheus metrics has a bounded set of values, whatever clients and
publishers send: close codes outside the known set are `other`, reasons come from enums."""

from __future__ import annotations

from adapters.prometheus_metrics import PrometheusMetrics
from domain.errors import CLOSE_CODES, AuthFailure, close_code_label
from domain.progress import RejectReason


def series(metrics: PrometheusMetrics, name: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == name
    ]


def test_the_servers_own_and_the_protocols_codes_keep_their_number() -> None:
    for code in (*CLOSE_CODES.values(), 1000, 1001, 1005, 1006, 1012):
        assert close_code_label(code) == str(code)
    for code in (0, 999, 1004, 1015, 2000, 3000, 3299, 4000, 4002, 4999, 65535):
        assert close_code_label(code) == "other"


def test_300_client_codes_make_one_series() -> None:
    metrics = PrometheusMetrics()

    for code in (*range(3000, 3300), 4001):
        metrics.connection_opened("story")
        metrics.connection_closed("story", "client_closed", code)

    labels = series(metrics, "gateway_closes_total")
    assert sorted(label["code"] for label in labels) == ["4001", "other"]


def test_rejections_and_authentication_failures_are_labelled_by_their_enum() -> None:
    metrics = PrometheusMetrics()

    for reason in RejectReason:
        metrics.update_rejected(reason)
    for failure in AuthFailure:
        metrics.authentication_failed(failure)

    assert {s["field"] for s in series(metrics, "gateway_updates_rejected_total")} == set(RejectReason)
    assert {s["reason"] for s in series(metrics, "gateway_auth_failures_total")} == set(AuthFailure)
