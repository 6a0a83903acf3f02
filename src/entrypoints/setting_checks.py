"""The checks that turn a setting's text into its value, each failing with one line naming the variable."""

from __future__ import annotations

import math
from collections.abc import Callable


class SettingsError(ValueError):
    """One line that names the variable at fault."""


Parse = Callable[[str, str], object]


def text(name: str, raw: str) -> object:
    return raw


def optional(name: str, raw: str) -> object:
    return raw or None


def urls(*schemes: str) -> Parse:
    def parse(name: str, raw: str) -> object:
        if raw and not raw.startswith(schemes):
            raise SettingsError(f"{name} must start with {' or '.join(schemes)}")
        return raw

    return parse


def number(minimum: float, maximum: float | None = None, *, integer: bool = False) -> Parse:
    def parse(name: str, raw: str) -> object:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {raw[:20]!r}") from None
        if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
            raise SettingsError(
                f"{name} must be between {minimum:g} and {'any' if maximum is None else maximum}"
            )
        if integer and value != int(value):
            raise SettingsError(f"{name} must be a whole number, not {raw[:20]!r}")
        return int(value) if integer else value

    return parse


def choice(*options: str, upper: bool = False) -> Parse:
    def parse(name: str, raw: str) -> object:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise SettingsError(f"{name} must be one of {', '.join(options)}, not {raw[:20]!r}")
        return value

    return parse


def comma_list(name: str, raw: str) -> object:
    return tuple(item.strip() for item in raw.split(",") if item.strip())
