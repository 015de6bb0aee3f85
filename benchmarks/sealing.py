"""What sealing personal data costs per statement (issue 11): CPU to seal and to open, and bytes.

Seals the demo's statements (every agent with its person's key, results and words with the
actor's) with a keyring on an in-memory SQLite database, then opens them as the projection
runner does (one key lookup per batch of 500), and prints microseconds per statement and the
event's size in clear and sealed. The HTTP figures with sealing on are benchmarks/goals.py's.

    .venv/bin/python benchmarks/sealing.py [--members 12] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from events import Event, Record, encode  # noqa: E402
from events.keyring import Keyring, data_keys  # noqa: E402
from events.sealing import Opener, persons_to_seal, seal_statement  # noqa: E402
from events.sql import make_engine  # noqa: E402
from lrs.statements.comparison import fingerprint  # noqa: E402
from lrs.cohorts.demo import build_plan, statements_of  # noqa: E402

BATCH = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    statements = statements_of(build_plan(members=args.members))
    for i, s in enumerate(statements):
        s.setdefault("id", f"00000000-0000-4000-8000-{i:012d}")
        s.setdefault("stored", "2026-11-29T00:00:00.000000Z")
    engine = make_engine("sqlite://")
    data_keys.metadata.create_all(engine)
    keyring = Keyring(engine, os.urandom(32))
    prints = {s["id"]: fingerprint(s) for s in statements}

    best_seal = best_open = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        sealed = []
        for start in range(0, len(statements), BATCH):  # as a group commit does: one key lookup per group
            batch = statements[start:start + BATCH]
            keys = keyring.current_keys(set().union(*(persons_to_seal(s) for s in batch)))
            sealed += [seal_statement(s, prints[s["id"]], keys) for s in batch]
        best_seal = min(best_seal, time.perf_counter() - started)
        records = [Record(0, i, Event("statement.stored", "k", data)) for i, data in enumerate(sealed)]
        opener = Opener(keyring.keys)
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            opener.open(records[start:start + BATCH])
        best_open = min(best_open, time.perf_counter() - started)

    clear = sum(len(encode(Event("statement.stored", "k", {"statement": s, "fingerprint": prints[s["id"]]}))) for s in statements)
    sealed_bytes = sum(len(encode(Event("statement.stored", "k", data))) for data in sealed)
    n = len(statements)
    print(f"statements: {n} ({args.members} members per cohort), best of {args.rounds}")
    print(f"seal:  {best_seal / n * 1e6:8.1f} us per statement ({n / best_seal:,.0f} statements/s on one core)")
    print(f"open:  {best_open / n * 1e6:8.1f} us per statement ({n / best_open:,.0f} statements/s on one core)")
    print(f"event: {clear / n:8.0f} bytes in clear, {sealed_bytes / n:.0f} sealed (+{(sealed_bytes / clear - 1) * 100:.0f} %)")


if __name__ == "__main__":
    main()
