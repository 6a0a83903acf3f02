"""The bench's table: each figure of `serve` beside the ASGI floor's, as a ratio, with every run."""

from __future__ import annotations

import collections
import math
import statistics
from dataclasses import dataclass, field

FORMATS = {"ms": "{:.2f}", "KiB": "{:.1f}", "MB": "{:.1f}", "s": "{:.2f}", "x": "{:.2f}", "count": "{:,.0f}"}

Value = float | str


@dataclass
class Results:
    """Every run's value of every figure, by figure and server kind, in the order first seen."""

    runs: dict[str, dict[str, list[Value]]] = field(default_factory=dict)

    def add(self, kind: str, figures: dict[str, Value]) -> None:
        for key, value in figures.items():
            self.runs.setdefault(key, {}).setdefault(kind, []).append(value)

    def table(self) -> str:
        lines = [
            "| figure | serve | floor | ratio (serve/floor) | runs (serve; floor) |",
            "|---|---|---|---|---|",
        ]
        for key, by_kind in self.runs.items():
            what, unit = split(key)
            serve, floor = middle(by_kind.get("serve", [])), middle(by_kind.get("floor", []))
            each = "; ".join(
                " / ".join(show(v, unit, bare=True) for v in by_kind.get(kind, [])) or "-"
                for kind in ("serve", "floor")
            )
            lines.append(
                f"| {what} | {show(serve, unit)} | {show(floor, unit)} | {ratio(serve, floor)} | {each} |"
            )
        return "\n".join(lines)


def split(key: str) -> tuple[str, str]:
    """`"what [unit]"` into its parts."""
    what, _, unit = key.rpartition(" [")
    return (what, unit.rstrip("]")) if what else (key, "")


def middle(values: list[Value]) -> Value | None:
    """The median of numbers; the most frequent of texts."""
    if not values:
        return None
    if all(isinstance(v, int | float) for v in values):
        return float(statistics.median(float(v) for v in values))
    return collections.Counter(str(v) for v in values).most_common(1)[0][0]


def show(value: Value | None, unit: str, *, bare: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    fractional = unit == "count" and math.isfinite(value) and value != int(value)
    fmt = "{:,.1f}" if fractional else FORMATS.get(unit, "{:.3g}")
    text = fmt.format(value)
    return text if bare or unit in ("count", "text", "") else f"{text} {unit}"


def ratio(serve: Value | None, floor: Value | None) -> str:
    if not isinstance(serve, float) or not isinstance(floor, float):
        return "-"
    if floor == 0:
        return "= floor" if serve == 0 else "floor is 0"
    return f"{serve / floor:.2f}x"
