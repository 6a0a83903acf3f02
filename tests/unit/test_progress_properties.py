"""parse_update over arbitrary JSON-like values: a ProgressUpdate or an InvalidUpdate, nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.progress import InvalidUpdate, ProgressUpdate, StoryStatus, parse_update

BOUNDED = settings(max_examples=200, deadline=None)
FIELDS = ["story_id", "status", "progress_percent", "current_step", "updated_at", "seq"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
plausible = {
    "story_id": st.uuids().map(str) | st.text(max_size=40),
    "status": st.sampled_from([s.value for s in StoryStatus]) | st.text(max_size=12),
    "progress_percent": st.integers(min_value=-5, max_value=105) | json_scalars,
    "current_step": st.text(max_size=40) | json_scalars,
    "updated_at": st.datetimes(timezones=st.timezones() | st.none()).map(lambda d: d.isoformat())
    | st.text(max_size=40),
    "seq": st.none() | st.integers(min_value=-3) | json_scalars,
}
near_valid = st.fixed_dictionaries({}, optional={name: plausible[name] for name in FIELDS})


def _parse(data: object) -> ProgressUpdate | InvalidUpdate:
    try:
        return parse_update(data)
    except InvalidUpdate as refused:
        return refused


@BOUNDED
@given(json_values)
def test_any_json_value_parses_or_is_refused_with_invalid_update(data: object) -> None:
    outcome = _parse(data)

    assert isinstance(outcome, ProgressUpdate | InvalidUpdate)
    if isinstance(outcome, InvalidUpdate):
        assert outcome.field in {*FIELDS, "payload"}


@BOUNDED
@given(near_valid)
def test_near_valid_objects_parse_or_name_one_of_their_fields(data: dict[str, Any]) -> None:
    outcome = _parse(data)

    if isinstance(outcome, InvalidUpdate):
        assert outcome.field in FIELDS
    else:
        assert 0 <= outcome.progress_percent <= 100
        assert outcome.updated_at.tzinfo is not None
        assert outcome.seq is None or outcome.seq >= 0
