"""KeyRing: verification, and the memo of verified keys (cleared on add and revoke)."""

from __future__ import annotations

from dbify.auth.api_keys import ApiKey, KeyRing, generate_api_key, hash_api_key


def _key(key_id: str, secret: str) -> ApiKey:
    return ApiKey(key_id, "service", hash_api_key(secret), secret[:12])


def test_verify_finds_the_key_and_refuses_others() -> None:
    secret = generate_api_key("service")
    ring = KeyRing([_key("k1", secret)])
    first = ring.verify(secret)
    assert first is not None
    assert first.id == "k1"
    assert ring.verify(secret) is first  # the memoised answer is the same key
    assert ring.verify(secret + "x") is None
    assert ring.verify(generate_api_key("service")) is None


def test_revoke_takes_effect_although_the_key_was_memoised() -> None:
    secret = generate_api_key("service")
    ring = KeyRing([_key("k1", secret)])
    assert ring.verify(secret) is not None
    ring.revoke("k1")
    assert ring.verify(secret) is None


def test_add_after_a_miss_and_wrong_keys_are_not_remembered() -> None:
    secret = generate_api_key("anon")
    ring = KeyRing()
    for _ in range(1000):
        assert ring.verify(generate_api_key("anon")) is None
    assert len(ring._verified) == 0  # a flood of wrong keys cannot grow the memo
    ring.add(_key("k2", secret))
    found = ring.verify(secret)
    assert found is not None
    assert found.id == "k2"


def test_memo_stays_bounded() -> None:
    secrets = [generate_api_key("service") for _ in range(600)]
    ring = KeyRing(_key(f"k{i}", s) for i, s in enumerate(secrets))
    for secret in secrets:
        assert ring.verify(secret) is not None
    assert len(ring._verified) <= 256
