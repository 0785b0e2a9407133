"""The worker pools' scaling policy (fortune_operator.scaling): a pure function, tested alone."""

from __future__ import annotations

import pytest

from fortune_operator.scaling import (
    SCALER_LABEL,
    Decision,
    Policy,
    Recommendation,
    decide,
    scaled_by_operator,
    seed_history,
)

POLICY = Policy(
    min_replicas=0,
    max_replicas=6,
    target_backlog_per_replica=8,
    activation_backlog=2,
    scale_down_delay_seconds=30,
    poll_seconds=1,
)


def run(backlogs: list[int], policy: Policy = POLICY, start: int = 0) -> list[int]:
    """Feed one backlog per second through the policy, resizing as it says; the sizes."""
    current, history = start, seed_history(start, 0.0)
    sizes = []
    for second, backlog in enumerate(backlogs, start=1):
        decision = decide(backlog, current, policy, history, float(second))
        current, history = decision.replicas, decision.history
        sizes.append(current)
    return sizes


def test_asleep_pool_wakes_only_above_the_activation_backlog() -> None:
    assert decide(2, 0, POLICY, (), 0.0).replicas == 0
    woken = decide(3, 0, POLICY, (), 0.0)
    assert woken.replicas == 1
    assert "waking up" in woken.reason


def test_a_burst_scales_up_at_once_to_what_the_backlog_needs_within_max() -> None:
    assert decide(17, 0, POLICY, (), 0.0).replicas == 3  # ceil(17 / 8)
    assert decide(200, 1, POLICY, (), 0.0).replicas == 6  # capped at max
    assert run([0, 0, 40, 40]) == [0, 0, 5, 5]


def test_scale_down_waits_for_the_delay_then_follows_the_window() -> None:
    sizes = run([40] + [0] * 40)
    assert sizes[0] == 5
    # 30 s after the last time 5 replicas were needed, the pool goes to sleep, not before.
    assert sizes[:30] == [5] * 30
    assert sizes[30:] == [0] * 11


def test_a_partial_drain_shrinks_to_the_highest_need_of_the_window() -> None:
    sizes = run([40] * 3 + [16] * 40)
    assert sizes[2] == 5
    assert sizes[33] == 2  # the window now holds only "2 replicas" recommendations
    assert set(sizes[34:]) == {2}


def test_a_flapping_backlog_does_not_make_replicas_come_and_go() -> None:
    sizes = run([24, 0] * 20)
    assert set(sizes) == {3}  # scale-down never happens while the peak keeps coming back


def test_min_replicas_is_kept_even_when_idle() -> None:
    policy = Policy(min_replicas=2, max_replicas=4, scale_down_delay_seconds=0)
    assert decide(0, 2, policy, (), 0.0).replicas == 2
    assert decide(0, 0, policy, (), 0.0).replicas == 2  # a fresh Deployment at 0 is raised


def test_restart_seeds_the_window_with_the_current_size() -> None:
    # An operator that restarts does not forget that the pool was needed: no instant scale-down.
    history = seed_history(4, 100.0)
    assert decide(0, 4, POLICY, history, 101.0).replicas == 4
    assert decide(0, 4, POLICY, history, 131.0).replicas == 0


def test_decision_reports_change_and_keeps_only_the_window() -> None:
    old = (Recommendation(0.0, 6), Recommendation(20.0, 3))
    decision: Decision = decide(0, 3, POLICY, old, 40.0)
    assert [r.at for r in decision.history] == [20.0, 40.0]
    assert decision.replicas == 3 and not decision.changes(3)
    assert decision.recommended == 0


def test_policy_from_annotations() -> None:
    policy, problems = Policy.from_annotations(
        {
            "cyberfortune.io/min-replicas": "1",
            "cyberfortune.io/max-replicas": "12",
            "cyberfortune.io/target-backlog-per-replica": "4",
            "cyberfortune.io/activation-backlog": "5",
            "cyberfortune.io/scale-down-delay-seconds": "90",
            "cyberfortune.io/poll-seconds": "1.5",
            "unrelated": "x",
        }
    )
    assert problems == []
    assert policy == Policy(1, 12, 4, 5, 90.0, 1.5)


@pytest.mark.parametrize(
    ("annotations", "field", "expected", "problem"),
    [
        ({"cyberfortune.io/max-replicas": "many"}, "max_replicas", 10, "not a number"),
        ({"cyberfortune.io/max-replicas": "0"}, "max_replicas", 10, "out of range"),
        ({"cyberfortune.io/min-replicas": "-1"}, "min_replicas", 0, "out of range"),
        ({"cyberfortune.io/poll-seconds": "0.01"}, "poll_seconds", 0.5, "below 0.5"),
        (
            {"cyberfortune.io/min-replicas": "5", "cyberfortune.io/max-replicas": "3"},
            "min_replicas",
            3,
            "exceeds",
        ),
    ],
)
def test_bad_annotations_fall_back_and_say_why(
    annotations: dict[str, str], field: str, expected: float, problem: str
) -> None:
    policy, problems = Policy.from_annotations(annotations)
    assert getattr(policy, field) == expected
    assert len(problems) == 1 and problem in problems[0]


def test_a_pool_labelled_as_scaled_by_another_scaler_is_left_alone() -> None:
    pool = {"cyberfortune.io/pool": "default"}
    assert scaled_by_operator(pool)
    assert scaled_by_operator({**pool, SCALER_LABEL: "operator"})
    assert not scaled_by_operator({**pool, SCALER_LABEL: "keda"})
