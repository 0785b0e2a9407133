"""Request ids: ULIDs (26 Crockford base32 characters, millisecond time first), so an id tells its
own age and sorts by creation time."""

from __future__ import annotations

import datetime as dt
import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {ch: i for i, ch in enumerate(_ALPHABET)}
_ID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def new_request_id(now: float | None = None) -> str:
    """A new ULID; `now` (seconds since the epoch) is for tests."""
    millis = int((time.time() if now is None else now) * 1000)
    return request_id_from(millis, os.urandom(10))


def request_id_from(millis: int, entropy: bytes) -> str:
    """The ULID of a moment (milliseconds since the epoch) and 10 bytes of entropy. Deterministic:
    the operator derives a FortuneRequest's id from its creation time and uid, so a restart never
    gives the same resource a second id."""
    value = (millis << 80) | int.from_bytes(entropy[:10].rjust(10, b"\0"), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_request_id(text: str) -> bool:
    """Whether `text` is a well-formed ULID."""
    return bool(_ID_RE.match(text))


def request_id_millis(request_id: str) -> int:
    """When the id was made, in milliseconds since the epoch (up to the year 10889, which
    datetime cannot hold). Raises ValueError for a malformed id."""
    if not is_request_id(request_id):
        raise ValueError(f"not a request id: {request_id!r}")
    value = 0
    for ch in request_id[:10]:
        value = (value << 5) | _INDEX[ch]
    return value


def request_id_time(request_id: str) -> dt.datetime:
    """When the id was made (UTC). Raises ValueError for a malformed id or one past 9999."""
    try:
        return dt.datetime.fromtimestamp(request_id_millis(request_id) / 1000, tz=dt.UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"request id time out of range: {request_id!r}") from exc
