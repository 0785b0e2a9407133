"""CyberFortune operator (`python -m fortune_operator`): reconciles FortuneRequests into queued
requests, scales worker pools by queue depth, requeues stale requests, deletes finished resources
after their TTL, repairs statuses from MongoDB. See docs/operator.md."""
