"""Request ids: ULIDs that tell their own age (pure code)."""

from __future__ import annotations

import datetime as dt

import pytest

from fortune_core.ids import is_request_id, new_request_id, request_id_millis, request_id_time

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)


def test_an_id_tells_when_it_was_made() -> None:
    request_id = new_request_id(NOW.timestamp())
    assert is_request_id(request_id)
    assert request_id_time(request_id) == NOW
    assert request_id_millis(request_id) == int(NOW.timestamp() * 1000)


def test_ids_made_at_the_same_time_differ_in_their_80_random_bits() -> None:
    ids = {new_request_id(NOW.timestamp()) for _ in range(1000)}
    assert len(ids) == 1000
    assert len({request_id[:10] for request_id in ids}) == 1  # same timestamp part


def test_the_largest_ulid_has_a_time_but_no_datetime() -> None:
    largest = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
    assert request_id_millis(largest) == 2**48 - 1  # the year 10889
    with pytest.raises(ValueError, match="out of range"):
        request_id_time(largest)


@pytest.mark.parametrize(
    "text", ["", "not-an-id", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01ARZ3NDEKTSV4RRFFQ69G5FAU!"]
)
def test_malformed_ids_are_refused(text: str) -> None:
    assert not is_request_id(text)
    with pytest.raises(ValueError, match="not a request id"):
        request_id_millis(text)
