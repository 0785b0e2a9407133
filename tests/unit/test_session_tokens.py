"""Session tokens (`fortune_api.sessions`) and identities (`fortune_api.identity`): pure code,
with an injected clock."""

from __future__ import annotations

import base64
import json

import pytest

from fortune_api.identity import new_device_identity, owns, user_identity
from fortune_api.sessions import SessionSigner
from fortune_api.settings import ApiSettings, parse_session_keys

KEY = ("k1", b"0123456789abcdef0123456789abcdef")
OTHER = ("k2", b"fedcba9876543210fedcba9876543210")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_verifies_until_it_expires_then_refreshes_within_the_window() -> None:
    clock = Clock()
    signer = SessionSigner((KEY,), ttl_seconds=60, refresh_seconds=600, clock=clock)
    token = signer.issue("user:abc", "wechat")
    claims = signer.verify(token)
    assert claims is not None and claims.subject == "user:abc" and claims.kind == "wechat"
    clock.now += 60
    assert signer.verify(token) is None  # expired
    refreshable = signer.refreshable(token)
    assert refreshable is not None
    renewed = signer.issue(refreshable.subject, refreshable.kind, refreshable.authenticated_at)
    assert signer.verify(renewed) is not None
    clock.now += 540  # 600 s after the login: no more refreshes, whatever was renewed
    assert signer.refreshable(renewed) is None


def test_only_a_listed_key_verifies_and_the_first_signs() -> None:
    old = SessionSigner((KEY,), 60, 600)
    rotated = SessionSigner((OTHER, KEY), 60, 600)
    token = old.issue("device:x", "device")
    assert rotated.verify(token) is not None  # the old key still verifies
    assert SessionSigner((OTHER,), 60, 600).verify(token) is None  # once dropped, it does not
    assert old.verify(rotated.issue("device:x", "device")) is None  # new tokens: the new key


@pytest.mark.parametrize(
    "bad",
    ["", "cfs1.", "cfs1..", "cfs1.e30.", "cfs1.!!!.abc", "cfs2.e30.abc", "x" * 2000, "cfs1.é.a"],
)
def test_garbage_never_verifies(bad: str) -> None:
    signer = SessionSigner((KEY,), 60, 600)
    assert signer.verify(bad) is None and signer.refreshable(bad) is None


def test_a_tampered_claim_never_verifies() -> None:
    signer = SessionSigner((KEY,), 60, 600)
    head, claims, signature = signer.issue("user:abc", "wechat").split(".")
    raw = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    raw["sub"] = "user:someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    assert signer.verify(f"{head}.{forged}.{signature}") is None


def test_identities_are_keyed_hashes_stable_per_user_and_app() -> None:
    key = b"k" * 32
    alice = user_identity(key, "wx1", "o-alice")
    assert alice == user_identity(key, "wx1", "o-alice")  # two phones: one identity
    assert alice != user_identity(key, "wx1", "o-bob")
    assert alice != user_identity(key, "wx2", "o-alice")
    assert alice != user_identity(b"j" * 32, "wx1", "o-alice")  # meaningless without the key
    assert "o-alice" not in alice and alice.startswith("user:")
    assert new_device_identity() != new_device_identity()


def test_ownership() -> None:
    alice, bob = "user:a", "user:b"
    assert owns(alice, alice, False) and not owns(bob, alice, False)
    assert not owns("ip:1.2.3.4", alice, False)  # a person's request, whatever the mode
    assert owns("ip:1.2.3.4", "ip:5.6.7.8", False)  # without keys the id is the capability
    assert not owns("key:x", "key:y", True) and owns("key:x", "k8s:ns", True)


def test_session_keys_are_parsed_and_checked() -> None:
    assert parse_session_keys(f"k1:{'a' * 32},k2:{'b' * 32}") == (
        ("k1", b"a" * 32),
        ("k2", b"b" * 32),
    )
    for bad in ("k1", "k1:short", f"k1:{'a' * 32},k1:{'b' * 32}", f":{'a' * 32}"):
        with pytest.raises(ValueError, match="FORTUNE_SESSION_KEYS"):
            parse_session_keys(bad)
    with pytest.raises(ValueError, match="FORTUNE_SESSION_KEYS and FORTUNE_IDENTITY_KEY"):
        ApiSettings.from_env({"FORTUNE_WECHAT_APP_ID": "wx1", "FORTUNE_WECHAT_APP_SECRET": "s"})
