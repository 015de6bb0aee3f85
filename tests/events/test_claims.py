"""Claims decide immutability on the write side: the first fingerprint for a key wins, also
when writers race; a batch is claimed whole or not at all."""

from __future__ import annotations

import threading

from events.claims import STATEMENT_IDS, Claim, ClaimRegistry, erased, landed_all


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


def test_an_applied_write_leaves_no_mark_in_flight(engine):
    """Marks do not pile up: the in-flight set holds the writes not yet applied, not every key
    ever claimed (issue 19)."""
    claims = ClaimRegistry(engine)
    claims.claim_each(STATEMENT_IDS, [{f"s{n}": "f" for n in range(300)}], in_flight_since="2026-12-08T10:00:00.000000Z")
    claims.claim(STATEMENT_IDS, {"late": "f"}, in_flight_since="2026-12-08T10:00:01.000000Z")
    with engine.begin() as conn:
        landed_all(conn, STATEMENT_IDS, [f"s{n}" for n in range(300)])
    assert claims.in_flight_count(STATEMENT_IDS) == 1
    assert claims.oldest_in_flight(STATEMENT_IDS, newer_than="2026-12-08T09:00:00.000000Z") == "2026-12-08T10:00:01.000000Z"
    assert claims.claim(STATEMENT_IDS, {"s7": "f"}) == {"s7": Claim.SAME}, "the id stays spent after its write landed"


def test_a_retry_marks_its_write_in_flight_again(engine):
    claims = ClaimRegistry(engine)
    claims.claim(STATEMENT_IDS, {"s": "f"}, in_flight_since="2026-12-08T10:00:00.000000Z")
    with engine.begin() as conn:
        landed_all(conn, STATEMENT_IDS, ["s"])
    assert claims.claim(STATEMENT_IDS, {"s": "f"}, in_flight_since="2026-12-08T10:05:00.000000Z") == {"s": Claim.SAME}
    assert claims.oldest_in_flight(STATEMENT_IDS, newer_than="2026-12-08T09:00:00.000000Z") == "2026-12-08T10:05:00.000000Z"


def test_a_mark_left_by_a_write_that_never_landed_is_swept_once_stale(engine):
    """A write that failed or whose process died leaves its mark; the next claim after the mark
    is ``stale_after_s`` old takes it away, so the set stays bounded."""
    claims = ClaimRegistry(engine, stale_after_s=60)
    claims.claim(STATEMENT_IDS, {"died": "f"}, in_flight_since="2026-12-08T10:00:00.000000Z")
    claims.claim(STATEMENT_IDS, {"recent": "f"}, in_flight_since="2026-12-08T10:00:59.000000Z")
    assert claims.in_flight_count(STATEMENT_IDS) == 2, "younger than stale_after_s: kept"
    claims.claim(STATEMENT_IDS, {"next": "f"}, in_flight_since="2026-12-08T10:01:30.000000Z")
    assert claims.in_flight_count(STATEMENT_IDS) == 2
    assert claims.oldest_in_flight(STATEMENT_IDS, newer_than="2026-12-08T09:00:00.000000Z") == "2026-12-08T10:00:59.000000Z"


def test_erased_and_released_keys_are_no_longer_in_flight(engine):
    claims = ClaimRegistry(engine)
    claims.claim(STATEMENT_IDS, {"erased": "f", "released": "g"}, in_flight_since="2026-12-08T10:00:00.000000Z")
    with engine.begin() as conn:
        erased(conn, STATEMENT_IDS, ["erased"])
    claims.release(STATEMENT_IDS, ["released"])
    assert claims.in_flight_count(STATEMENT_IDS) == 0
