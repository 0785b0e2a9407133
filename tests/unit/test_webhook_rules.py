"""Webhooks: the signature, the target rules, what follows each answer (pure code)."""

from __future__ import annotations

import base64
import datetime as dt
import random

import pytest
from standardwebhooks.webhooks import Webhook

from fortune_core.request import validate_request, webhook_target_problem
from fortune_worker.webhooks import (
    RETRY_SCHEDULE,
    Answer,
    TargetRefusedError,
    outcome_of,
    parse_secret,
    resolve_target,
    signature,
)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_the_signature_is_the_standard_webhooks_one() -> None:
    body = '{"type":"fortune.succeeded","data":{"text":"好运"}}'.encode()
    ours = signature(parse_secret(SECRET), "msg_1", 1764763200, body)
    theirs = Webhook(SECRET).sign(
        "msg_1", dt.datetime.fromtimestamp(1764763200, dt.UTC), body.decode()
    )
    assert ours == theirs and ours.startswith("v1,")


@pytest.mark.parametrize(
    "secret", ["", "0123", "whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()]
)
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="FORTUNE_WEBHOOK_SECRET"):
        parse_secret(secret)


@pytest.mark.parametrize(
    "url",
    [
        "http://1.1.1.1/hook",  # plain http
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://10.0.0.7/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",  # the cloud metadata address
        "https://[fe80::1]/hook",
        "https://100.64.0.1/hook",  # shared address space
        "https://localhost/hook",  # a name: refused by its resolved address
        "ftp://1.1.1.1/",
    ],
)
def test_targets_that_are_not_public_https_are_refused(url: str) -> None:
    with pytest.raises(TargetRefusedError):
        resolve_target(url, allow_private=False)


def test_a_public_https_target_and_private_ones_when_allowed() -> None:
    target = resolve_target("https://1.1.1.1:8443/hook?x=1", allow_private=False)
    assert (target.address, target.port, target.path) == ("1.1.1.1", 8443, "/hook?x=1")
    local = resolve_target("http://127.0.0.1:9/hook", allow_private=True)
    assert (local.scheme, local.address) == ("http", "127.0.0.1")


def test_what_follows_each_answer() -> None:
    rng = random.Random(1)
    assert outcome_of(Answer(200), 1).state == "delivered"
    assert outcome_of(Answer(204), 3).state == "delivered"
    assert outcome_of(Answer(410), 1).state == "gone"
    for status in (None, 301, 400, 500):  # redirects are not followed: a failed try
        retry = outcome_of(Answer(status), 1, rng)
        assert retry.state == "pending" and retry.due_in is not None
        assert RETRY_SCHEDULE[0] / 2 <= retry.due_in <= RETRY_SCHEDULE[0]
    later = outcome_of(Answer(500), 4, rng)
    assert later.due_in is not None and RETRY_SCHEDULE[3] / 2 <= later.due_in <= RETRY_SCHEDULE[3]
    assert outcome_of(Answer(429, retry_after=42.0), 1).due_in == 42.0
    assert outcome_of(Answer(429, retry_after=10**6), 1).due_in == 3600.0
    assert outcome_of(Answer(500), len(RETRY_SCHEDULE) + 1).state == "failed"
    assert sum(RETRY_SCHEDULE) > 20 * 3600  # tried for hours


def test_the_request_field_and_the_submission_rule() -> None:
    body = {"profile": {"birthDate": "1990-05-17"}, "webhook": "https://example.com/h"}
    assert validate_request(body).request is not None
    for bad in (
        "example.com/h",
        "https://",
        "https://u:p@example.com/",
        "https://e.com:99999/",
        "https://[::1]/h",  # IPv6 literals are not taken
        "ftp://example.com/",
    ):
        errors = validate_request({**body, "webhook": bad}).errors
        assert set(errors) == {"webhook"}, (bad, errors)
    assert webhook_target_problem("https://example.com/h", False) is None
    assert webhook_target_problem("http://example.com/h", False) is not None
    # A written private address passes here: the worker refuses it at delivery (resolved or
    # written, the same check).
    assert webhook_target_problem("https://10.0.0.1/h", False) is None
    assert webhook_target_problem("http://10.0.0.1/h", True) is None
