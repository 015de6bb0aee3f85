"""Claims decide immutability on the write side: the first fingerprint for a key wins, also
when writers race; a batch is claimed whole or not at all."""

from __future__ import annotations

import threading

from events.claims import Claim, ClaimRegistry


def test_first_claim_is_new_then_same_fingerprint_is_same_and_other_is_different(engine):
    claims = ClaimRegistry(engine)
    assert claims.claim("ns", {"a": "f1"}) == {"a": Claim.NEW}
    assert claims.claim("ns", {"a": "f1"}) == {"a": Claim.SAME}
    assert claims.claim("ns", {"a": "f2"}) == {"a": Claim.DIFFERENT}


def test_a_batch_with_one_different_key_claims_nothing(engine):
    claims = ClaimRegistry(engine)
    claims.claim("ns", {"held": "f1"})
    result = claims.claim("ns", {"fresh": "x", "held": "other"})
    assert result["held"] is Claim.DIFFERENT
    assert claims.claim("ns", {"fresh": "y"}) == {"fresh": Claim.NEW}, "the failed batch left no claim behind"


def test_namespaces_are_independent(engine):
    claims = ClaimRegistry(engine)
    claims.claim("one", {"k": "f1"})
    assert claims.claim("two", {"k": "f2"}) == {"k": Claim.NEW}


def test_released_keys_can_be_claimed_again(engine):
    claims = ClaimRegistry(engine)
    claims.claim("ns", {"k": "f1"})
    claims.release("ns", ["k"])
    assert claims.claim("ns", {"k": "f2"}) == {"k": Claim.NEW}


def test_racing_writers_with_different_content_exactly_one_wins(engine):
    claims = ClaimRegistry(engine)
    barrier = threading.Barrier(6)
    results: list[Claim] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        barrier.wait()
        outcome = claims.claim("ns", {"contested": f"content-{n}"})["contested"]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.value for r in results) == ["different"] * 5 + ["new"]
