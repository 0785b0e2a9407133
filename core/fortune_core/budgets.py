"""Per-client daily token budgets, enforced atomically in Redis.

A client's day (UTC) is one hash, `cf:budget:<client>:<YYYY-MM-DD>`: the tokens `spent` (prompt +
completion, settled from the real usage) and one field per call in flight, `r:<token>`, holding
the tokens reserved for it and when the reservation expires. Where the LLM is called (the
worker), every call first *reserves* its maximum (the prompt's estimate plus `max_tokens`) and
afterwards *settles* with what it really used, each in one Lua script, so workers calling at the
same time cannot overspend: a reservation is granted while `spent + reserved` is below the
budget, so the day's spend never passes the budget by more than one call's maximum (the last
call granted). A reservation whose worker died is dropped once it expires (its lease: the longest
a call can take). The API refuses a submission at once (429 `budget_exhausted`, `Retry-After`
until the next UTC midnight) when the day's budget is used up.

Bounds: one hash per client and day that used an LLM (two days' keys at most: each expires a day
after its last write), each with `spent` and one field per call in flight.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from fortune_core.clock import Clock, system_clock
from fortune_core.settings import BudgetSettings

KEY_PREFIX = "cf:budget:"
_TTL_SECONDS = 2 * 24 * 3600

# The live reservations of KEYS[1] at ARGV[1] (ms), dropping the expired ones → (spent, reserved).
_LIVE = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local name = fields[i]
  if string.sub(name, 1, 2) == 'r:' then
    local value = fields[i + 1]
    local sep = string.find(value, ':', 1, true)
    local amount = tonumber(string.sub(value, 1, sep - 1))
    local expiry = tonumber(string.sub(value, sep + 1))
    if expiry <= now then
      redis.call('HDEL', KEYS[1], name)
    else
      reserved = reserved + amount
    end
  end
end
"""

# ARGV[2] budget, ARGV[3] amount, ARGV[4] token, ARGV[5] lease ms, ARGV[6] key ttl s
# → {granted (1/0), spent, reserved (before this one)}.
_RESERVE = (
    _LIVE
    + """
if spent + reserved >= tonumber(ARGV[2]) then return {0, spent, reserved} end
redis.call('HSET', KEYS[1], 'r:' .. ARGV[4], ARGV[3] .. ':' .. (now + tonumber(ARGV[5])))
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1, spent, reserved}
"""
)

# ARGV[1] token, ARGV[2] tokens used, ARGV[3] key ttl s → spent after it.
_SETTLE = """
redis.call('HDEL', KEYS[1], 'r:' .. ARGV[1])
local spent = redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return spent
"""

# → {spent, reserved}
_STATUS = (
    _LIVE
    + """
return {spent, reserved}
"""
)


def client_label(client: str | None) -> str:
    """The client as a metric label: API-key clients (`key:<name>`) and kubectl namespaces
    (`k8s:<ns>`) by name, their number being configured; address-identified clients (no API
    keys) all as `anonymous`, so the label's values stay bounded."""
    if client and client.split(":", 1)[0] in ("key", "k8s"):
        return client
    return "anonymous"


class BudgetExhaustedError(Exception):
    """The client's token budget for today is used up (`retry_after`: seconds to its reset)."""

    def __init__(self, client: str, budget: int, retry_after: int) -> None:
        super().__init__(
            f"the daily token budget of {budget} tokens of this client is used up; it resets "
            f"at 00:00 UTC, in {retry_after} s"
        )
        self.client = client
        self.budget = budget
        self.retry_after = retry_after


@dataclass(frozen=True)
class BudgetStatus:
    """A client's day: its budget (None: no budget), what is spent and what is reserved."""

    budget: int | None
    spent: int
    reserved: int
    retry_after: int

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.spent + self.reserved >= self.budget


@dataclass
class Reservation:
    """Tokens held for one call; `settle(used)` once it is over (whatever its outcome)."""

    budgets: TokenBudgets | None
    key: str
    token: str
    amount: int
    settled: bool = False

    def settle(self, used: int) -> None:
        """Count what the call really used (0 for a call that failed before an answer) and give
        the reservation back. Idempotent."""
        if self.settled or self.budgets is None:
            self.settled = True
            return
        self.settled = True
        self.budgets._settle(self.key, self.token, max(0, used))


class TokenBudgets:
    """Reserve and settle tokens against each client's daily budget (`BudgetSettings`).

    `clock` decides the day (and, when `server_time` is False, "now" for reservation expiry):
    tests pass their own."""

    def __init__(
        self,
        client: redis.Redis,
        settings: BudgetSettings,
        *,
        lease_seconds: float = 300.0,
        clock: Clock = system_clock,
        server_time: bool = True,
    ) -> None:
        self._redis = client
        self.settings = settings
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._clock = clock
        self._server_time = server_time
        self._reserve = client.register_script(_RESERVE)
        self._settle_script = client.register_script(_SETTLE)
        self._status = client.register_script(_STATUS)

    def budget_of(self, client: str | None) -> int | None:
        """The client's daily budget in tokens, or None when it has none."""
        return self.settings.budget_of(client)

    def key(self, client: str | None, now: dt.datetime | None = None) -> str:
        day = (now or self._clock()).astimezone(dt.UTC).date().isoformat()
        return f"{KEY_PREFIX}{client or '-'}:{day}"

    def retry_after(self, now: dt.datetime | None = None) -> int:
        """Seconds until the next UTC midnight (at least 1)."""
        moment = (now or self._clock()).astimezone(dt.UTC)
        midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        return max(1, math.ceil((midnight - moment).total_seconds()))

    def _now_arg(self) -> int | str:
        return "" if self._server_time else int(self._clock().timestamp() * 1000)

    def status(self, client: str | None) -> BudgetStatus:
        """Today's spend of `client`. Raises redis.RedisError."""
        budget = self.budget_of(client)
        now = self._clock()
        if budget is None:
            return BudgetStatus(None, 0, 0, self.retry_after(now))
        spent, reserved = self._status(keys=[self.key(client, now)], args=[self._now_arg()])
        return BudgetStatus(budget, int(spent), int(reserved), self.retry_after(now))

    def reserve(self, client: str | None, amount: int) -> Reservation:
        """Hold `amount` tokens of today's budget for one call; BudgetExhaustedError when the
        budget is used up (spent and reserved). A client without a budget gets a reservation
        that records nothing. Raises redis.RedisError."""
        budget = self.budget_of(client)
        if budget is None:
            return Reservation(None, "", "", amount)
        now = self._clock()
        key = self.key(client, now)
        token = uuid.uuid4().hex
        args: list[Any] = [self._now_arg(), budget, amount, token, self.lease_ms, _TTL_SECONDS]
        granted, _spent, _reserved = self._reserve(keys=[key], args=args)
        if not int(granted):
            raise BudgetExhaustedError(client or "-", budget, self.retry_after(now))
        return Reservation(self, key, token, amount)

    def _settle(self, key: str, token: str, used: int) -> None:
        self._settle_script(keys=[key], args=[token, used, _TTL_SECONDS])
