"""Reading the gateway's `/metrics` in tests: one scrape, then values by name and labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from testkit.clients import http_text
from testkit.processes import GatewayProcess
from testkit.waiting import wait_for_condition


@dataclass(frozen=True)
class Scrape:
    """One `/metrics` text, parsed: sample name to a list of (labels, value)."""

    samples: dict[str, list[tuple[dict[str, str], float]]]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
        return sum(v for got, v in self.samples.get(name, []) if labels.items() <= got.items())

    def names(self) -> set[str]:
        return set(self.samples)


async def scrape(base_url: str) -> Scrape:
    status, text = await http_text(f"{base_url}/metrics")
    assert status == 200, f"/metrics answered {status}"
    return Scrape.parse(text)


async def metric_reaches(gateway: GatewayProcess, name: str, wanted: float, **labels: str) -> Scrape:
    """Scrape until `name{labels}` reaches `wanted` (counters are updated after the client sees the close)."""
    latest: list[Scrape] = []

    async def reached() -> bool:
        latest[:] = [await scrape(gateway.http)]
        return latest[0].value(name, **labels) >= wanted

    await wait_for_condition(reached, 5, f"{name}{labels} >= {wanted}")
    return latest[0]
