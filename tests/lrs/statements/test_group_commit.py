"""Group commit (issue 13): concurrent requests' writes go to the work function together, and
still each request gets exactly its own outcome."""

from __future__ import annotations

import threading
import time

import pytest

from lrs.statements.group_commit import Write, WriteQueue


def write(*ids: str) -> Write:
    return Write(statements=[{"id": i} for i in ids], prints={i: "fp" for i in ids}, untimed=[False] * len(ids), assigned=[])


def test_concurrent_writes_are_grouped_and_each_gets_its_own_result():
    queue, groups = WriteQueue(), []

    def work(group):
        groups.append([w.statements[0]["id"] for w in group])
        time.sleep(0.02)  # a claim, an append and a projection pass take a while
        for w in group:
            w.finish(ids=[s["id"] + "-stored" for s in w.statements])

    results = {}

    def client(n):
        results[n] = queue.run(write(f"s{n}"), work)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {n: [f"s{n}-stored"] for n in range(16)}
    assert sorted(i for g in groups for i in g) == sorted(f"s{n}" for n in range(16)), "each write once"
    assert len(groups) < 16, "some writes shared a group"


def test_writes_sharing_a_statement_id_are_never_in_one_group():
    queue, groups = WriteQueue(), []
    gate = threading.Event()

    def work(group):
        gate.wait(5)
        groups.append(group)
        for w in group:
            w.finish(ids=list(w.prints))

    first = threading.Thread(target=queue.run, args=(write("a"), work))
    first.start()
    time.sleep(0.1)  # the first leads and waits at the gate; the rest queue behind it
    rest = [threading.Thread(target=queue.run, args=(write(i), work)) for i in ("a", "b", "a")]
    for t in rest:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in [first, *rest]:
        t.join(10)
    for group in groups:
        ids = [i for w in group for i in w.prints]
        assert len(ids) == len(set(ids)), group


def test_one_writes_error_is_its_own_and_an_escaped_error_reaches_every_unfinished_write():
    queue = WriteQueue()

    def work(group):
        for w in group:
            if "bad" in w.prints:
                w.finish(error=ValueError("bad is refused"))
            else:
                w.finish(ids=["fine"])

    assert queue.run(write("good"), work) == ["fine"]
    with pytest.raises(ValueError, match="refused"):
        queue.run(write("bad"), work)

    def broken(group):
        raise OSError("the log went away")

    with pytest.raises(OSError):
        queue.run(write("x"), broken)
    assert queue.run(write("y"), work) == ["fine"], "the queue goes on after a failed group"
