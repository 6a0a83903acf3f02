"""Reading the gateway's `/metrics` in tests: one scrape, then values by name and labels."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from testkit.clients import http_text


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
