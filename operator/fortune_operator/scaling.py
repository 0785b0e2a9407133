"""The scaling policy of a worker pool: a pure function from what is observed to a replica count.

Inputs: the backlog (ready messages plus requests in progress, so busy workers are never counted as
idle), the current replica count, the policy (from the Deployment's annotations) and the recent
recommendations. Output: the desired replica count and why.

- Each poll recommends ceil(backlog / target-backlog-per-replica), clamped to [min, max]. From zero
  replicas the pool wakes only when the backlog exceeds the activation backlog.
- Scaling up is immediate. Scaling down follows the highest recommendation of the last
  scale-down-delay seconds (a stabilization window, as the HorizontalPodAutoscaler does), so a pool
  shrinks only after it has not needed its size for that long, and a flapping backlog does not make
  replicas come and go.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

ANNOTATION_PREFIX = "cyberfortune.io/"
POOL_LABEL = "cyberfortune.io/pool"
SCALER_LABEL = "cyberfortune.io/scaled-by"
"""A pool's Deployment labelled so with any value but `operator` (the chart's KEDA mode sets
`keda`) still serves its pool, but something else owns its size: the operator leaves it alone."""


def scaled_by_operator(labels: Mapping[str, str]) -> bool:
    """Whether the operator scales a pool Deployment with these labels (the default: yes)."""
    return labels.get(SCALER_LABEL, "operator") == "operator"


@dataclass(frozen=True)
class Policy:
    """How a pool scales; each field is an annotation `cyberfortune.io/<kebab-case name>`."""

    min_replicas: int = 0
    """Fewest replicas (0: the pool sleeps when there is nothing to do)."""
    max_replicas: int = 10
    """Most replicas."""
    target_backlog_per_replica: int = 8
    """Backlog one replica should carry (normally the worker's concurrency)."""
    activation_backlog: int = 0
    """From zero replicas, wake only when the backlog exceeds this."""
    scale_down_delay_seconds: float = 60.0
    """How long a smaller size must have sufficed before the pool shrinks."""
    poll_seconds: float = 2.0
    """How often the backlog is measured."""

    @staticmethod
    def annotation(field_name: str) -> str:
        """The annotation that sets `field_name`."""
        return ANNOTATION_PREFIX + field_name.replace("_", "-")

    @classmethod
    def from_annotations(
        cls, annotations: Mapping[str, str], defaults: Policy | None = None
    ) -> tuple[Policy, list[str]]:
        """The policy the annotations describe (defaults for what they leave out or get wrong),
        and one message per annotation that was ignored."""
        policy = defaults or cls()
        problems: list[str] = []
        for name in cls.__dataclass_fields__:
            key = cls.annotation(name)
            if key not in annotations:
                continue
            raw = str(annotations[key]).strip()
            kind = float if name.endswith("_seconds") else int
            try:
                value = kind(raw)
            except ValueError:
                problems.append(f"{key}={raw!r} is not a number; using {getattr(policy, name)}")
                continue
            if value < 0 or (name in ("max_replicas", "target_backlog_per_replica") and value < 1):
                problems.append(f"{key}={raw!r} is out of range; using {getattr(policy, name)}")
                continue
            policy = replace(policy, **{name: value})  # type: ignore[arg-type]
        if policy.poll_seconds < 0.5:
            problems.append(f"{cls.annotation('poll_seconds')} below 0.5 s; using 0.5")
            policy = replace(policy, poll_seconds=0.5)
        if policy.min_replicas > policy.max_replicas:
            problems.append(
                f"min-replicas {policy.min_replicas} exceeds max-replicas {policy.max_replicas}; "
                f"using {policy.max_replicas} for both"
            )
            policy = replace(policy, min_replicas=policy.max_replicas)
        return policy, problems


@dataclass(frozen=True)
class Recommendation:
    """What one poll recommended, and when (monotonic seconds)."""

    at: float
    replicas: int


@dataclass(frozen=True)
class Decision:
    """The outcome of one poll."""

    replicas: int
    """Desired replicas."""
    recommended: int
    """What this poll alone recommends (before the stabilization window)."""
    reason: str
    """Why, in words, for the Event and the log."""
    history: tuple[Recommendation, ...]
    """Recommendations still inside the window, this one included: the next poll's input."""

    def changes(self, current: int) -> bool:
        """Whether the pool must be resized."""
        return self.replicas != current


def recommend(backlog: int, current: int, policy: Policy) -> int:
    """Replicas this backlog needs on its own, within [min, max]."""
    needed = math.ceil(max(backlog, 0) / policy.target_backlog_per_replica)
    if current == 0 and backlog <= policy.activation_backlog:
        needed = 0  # asleep, and the backlog is not worth waking for
    return max(policy.min_replicas, min(policy.max_replicas, needed))


def decide(
    backlog: int,
    current: int,
    policy: Policy,
    history: Sequence[Recommendation],
    now: float,
) -> Decision:
    """Desired replicas for a pool with `backlog` and `current` replicas at time `now`."""
    recommended = recommend(backlog, current, policy)
    window_start = now - policy.scale_down_delay_seconds
    kept = (*(r for r in history if r.at > window_start), Recommendation(now, recommended))
    desired = max(r.replicas for r in kept)
    capacity = current * policy.target_backlog_per_replica
    if desired > current:
        reason = (
            f"backlog {backlog} exceeds what {current} replica(s) carry ({capacity}): "
            f"scaling up to {desired}"
        )
        if current == 0:
            reason = f"backlog {backlog} above activation {policy.activation_backlog}: waking up"
            reason += f" with {desired} replica(s)"
    elif desired < current:
        reason = (
            f"backlog {backlog} needs {recommended} replica(s) and has not needed more for "
            f"{policy.scale_down_delay_seconds:g} s: scaling down to {desired}"
        )
    else:
        reason = f"backlog {backlog}: {current} replica(s) fit"
    return Decision(desired, recommended, reason, kept)


def seed_history(current: int, now: float) -> tuple[Recommendation, ...]:
    """The history to start from when a pool is first seen (or the operator restarted): as if the
    current size had just been recommended, so nothing shrinks before a full window has passed."""
    return (Recommendation(now, current),)
