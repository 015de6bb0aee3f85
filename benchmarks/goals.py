"""Every row of the throughput goals (issues 13 and 19), in the embedded and the scale-out mode, as one table.

    .venv/bin/python benchmarks/goals.py [--mode embedded|scale-out|both] [--sizes 10000,100000] [--large]

Per mode it starts real servers (as ``benchmarks/statements.py`` does: ``polku serve``, plus
``polku project`` with an Apache Kafka broker and PostgreSQL in the scale-out mode) and measures,
over real HTTP:

* POST 1 statement from 8 clients and POST 100 statements from 4 clients: statements/s, and
  every answer that is not 200 or a connection that fails counted as an error;
* the store grown through the front door, as clients grow it (issue 19): ``POST /xapi/statements``
  from 6 client threads, four of them sending batches of 100 and two single statements, until each
  size of ``--sizes`` is stored (``--large`` adds 1,000,000); the growth rate is printed. Nothing
  is written around the API: a store seeded straight into the log once hid reads that grew with
  every statement POSTed (the claims behind the consistency watermark);
* at each size, from one sequential client (200 requests each): GET by id, GET agent+verb+since
  (of one of the :data:`REGULARS`, whose pages are full at every size), GET a page of one verb and
  the next through ``more``, a single POST and a POST of 100 (20 of them): p50 and p99, and the
  ratio of each p99 at the largest size to the smallest (the goal: at most 1.2). The POSTs of the
  measurement add about 2,200 statements to the size it is labelled with;
* disk per statement: the database (and the Kafka topic's folder) over the statements stored;
* idle CPU: the server and the projection worker over 20 s without a request;
* rebuild: the servers stopped, ``polku projections rebuild`` of every projection, timed.

The cohort views row (200 members, 100,000 statements) is ``benchmarks/cohorts.py``. The client
runs on the same 2-core machine as the servers and takes CPU from them.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.statements import V2, start  # noqa: E402
from lrs.services import open_engine  # noqa: E402
from lrs.config.settings import Settings  # noqa: E402
from projections.statements import StatementReader  # noqa: E402
from tests.fixtures.statements_builders import statement  # noqa: E402

VERBS = [f"http://adlnet.gov/expapi/verbs/{v}" for v in ("experienced", "completed", "attended", "commented", "answered")]
LEARNERS = 2000


def learner(n: int) -> str:
    return f"learner{n % LEARNERS}"


class Errors:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


def post_rate(lrs, requests_: int, per_request: int, clients: int, errors: Errors, written: list[str] | None = None) -> float:
    """Statements/s of ``requests_`` POSTs of ``per_request`` statements from ``clients`` clients;
    every 20th id written is added to ``written``."""
    rng = random.Random(requests_ * per_request)
    bodies = [[statement(actor=learner(rng.randrange(LEARNERS)), verb=rng.choice(VERBS).rsplit("/", 1)[1])
               for _ in range(per_request)] for _ in range(requests_)]
    if written is not None:
        written += [s["id"] for body in bodies for s in body][::20]
    sessions = [requests.Session() for _ in range(clients)]
    for s in sessions:
        s.auth = lrs.auth

    def send(i: int) -> None:
        try:
            r = sessions[i % clients].post(lrs.endpoint + "/statements", json=bodies[i] if per_request > 1 else bodies[i][0],
                                           headers=V2, timeout=60)
            if r.status_code != 200:
                errors.add()
        except requests.RequestException:
            errors.add()

    begin = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(requests_)))
    return requests_ * per_request / (time.perf_counter() - begin)


def percentile(times: list[float], q: float) -> float:
    times = sorted(times)
    return times[max(0, min(len(times) - 1, int(len(times) * q) - 1))]


#: A quarter of the statements are by these learners (the most active of a cohort), so that a
#: page of one of them and one verb is full at every size measured (10 a verb at 2,000 stored):
#: the reads then compare pages of the same length as the store grows, not an empty page at the
#: smallest size with a full one at the largest.
REGULARS = 10


def random_statement(rng: random.Random) -> dict:
    who = rng.randrange(REGULARS) if rng.random() < 0.25 else rng.randrange(LEARNERS)
    return statement(actor=learner(who), verb=rng.choice(VERBS).rsplit("/", 1)[1],
                     activity=f"http://example.org/activities/{rng.randrange(500)}")


def grow(lrs, have: int, total: int, errors: Errors) -> tuple[list[str], float]:
    """POST statements until ``total`` are stored, as clients do: four threads sending batches of
    100 and two sending one statement at a time. Returns some of the ids written (for GET by id)
    and the statements/s of the growth."""
    wanted = total - have
    if wanted <= 0:
        return [], 0.0
    singles = max(1, wanted // 50)  # about 2 % of the statements arrive one at a time
    batches = (wanted - singles) // 100
    singles = wanted - batches * 100
    work = [100] * batches + [1] * singles
    random.Random(total).shuffle(work)
    ids: list[str] = []
    lock = threading.Lock()
    sessions = threading.local()

    def send(n: int) -> None:
        if not hasattr(sessions, "s"):
            sessions.s = requests.Session()
            sessions.s.auth = lrs.auth
        rng = random.Random(total * 1_000_003 + n)
        body = [random_statement(rng) for _ in range(work[n])]
        try:
            r = sessions.s.post(lrs.endpoint + "/statements", json=body if len(body) > 1 else body[0], headers=V2, timeout=120)
        except requests.RequestException:
            errors.add()
            return
        if r.status_code != 200:
            errors.add()
            return
        if rng.random() < 0.05:
            with lock:
                ids.append(body[0]["id"])

    begin = time.perf_counter()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(send, range(len(work))))
    return ids, wanted / (time.perf_counter() - begin)


def io_bytes(pids: list[int]) -> tuple[int, int]:
    """Bytes the processes read and wrote through system calls (page cache included): what a
    write costs the database, whatever else the machine is doing."""
    read = written = 0
    for pid in pids:
        fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        read, written = read + int(fields["rchar"]), written + int(fields["wchar"])
    return read, written


def latencies(lrs, ids: list[str], count: int = 200) -> dict[str, tuple[float, float]]:
    """(p50, p99) in ms of each read and write, one request at a time; under ``post100_io`` the
    MB the servers read and wrote per POST of 100."""
    session = requests.Session()
    session.auth = lrs.auth
    rng = random.Random(count)
    since = (datetime.now(timezone.utc) - timedelta(days=400)).isoformat()

    def page_and_more():
        first = session.get(lrs.endpoint + "/statements", headers=V2, params={"limit": 10, "verb": rng.choice(VERBS)})
        first.raise_for_status()
        more = first.json()["more"]
        return session.get(lrs.endpoint.rsplit("/xapi", 1)[0] + more, headers=V2) if more else first

    kinds = {
        "get_id": lambda: session.get(lrs.endpoint + "/statements", params={"statementId": rng.choice(ids)}, headers=V2),
        "get_agent_verb": lambda: session.get(lrs.endpoint + "/statements", headers=V2, params={
            "agent": f'{{"mbox": "mailto:{learner(rng.randrange(REGULARS))}@example.org"}}', "verb": rng.choice(VERBS),
            "since": since, "limit": 10}),
        "page_more": page_and_more,
        "post1": lambda: session.post(lrs.endpoint + "/statements", json=random_statement(rng), headers=V2),
        "post100": lambda: session.post(lrs.endpoint + "/statements", json=[random_statement(rng) for _ in range(100)], headers=V2),
    }
    result = {}
    pids = [p.pid for p in lrs.processes.values()]
    for name, call in kinds.items():
        times = []
        rounds = count if name != "post100" else count // 10
        before = io_bytes(pids)
        for _ in range(rounds):
            begin = time.perf_counter()
            call().raise_for_status()
            times.append((time.perf_counter() - begin) * 1000)
        result[name] = (percentile(times, 0.5), percentile(times, 0.99))
        if name == "post100":
            after = io_bytes(pids)
            result["post100_io"] = tuple((a - b) / rounds / 1e6 for a, b in zip(after, before))
    return result


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(lrs, seconds: float = 20) -> dict[str, float]:
    pids = {name: p.pid for name, p in lrs.processes.items()}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: 100 * (cpu_seconds(pid) - before[name]) / seconds for name, pid in pids.items()}


def disk_bytes(settings: Settings, folder: Path, broker) -> int:
    if settings.database_url.startswith("sqlite"):
        return sum(f.stat().st_size for f in folder.glob("bench.sqlite3*"))
    engine = sa.create_engine(settings.sqlalchemy_url)
    with engine.connect() as conn:
        size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    if broker is not None:
        size += sum(f.stat().st_size for f in Path(broker.folder).rglob("*") if f.is_file() and settings.kafka_topic in str(f))
    return size


def stored_count(settings: Settings) -> int:
    engine = open_engine(settings)
    try:
        return StatementReader(engine).count()
    finally:
        engine.dispose()


def run(mode: str, args) -> dict:
    out: dict = {"mode": mode, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lrs, broker = start(mode, folder)
        settings = Settings.from_env({k: v for k, v in lrs.env.items() if k.startswith("POLKU_")})
        errors = Errors()
        try:
            # GET by id draws from a sample of everything written, never from the newest alone
            # (a first measurement of the 500 newest read pages the writes had just left in memory)
            ids: list[str] = []
            post_rate(lrs, 50, 1, 8, errors, ids)  # warm-up
            out["post1"] = post_rate(lrs, args.singles, 1, 8, errors, ids)
            out["post100"] = post_rate(lrs, args.batches, 100, 4, errors, ids)
            out["errors"] = errors.count
            have = stored_count(settings)
            growth = []
            for size in args.sizes:
                written, rate = grow(lrs, have, size, errors)
                ids += written
                if rate:
                    growth.append(rate)
                have = stored_count(settings)
                out["sizes"][size] = latencies(lrs, ids)
                print(f"{mode}: {have:,} stored: " + ", ".join(f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in out["sizes"][size].items()),
                      file=sys.stderr, flush=True)
            out["growth"] = growth
            out["growth_errors"] = errors.count - out["errors"]
            out["disk_per_statement"] = disk_bytes(settings, folder, broker) / have
            time.sleep(5)
            out["idle_cpu"] = idle_cpu(lrs)
            lrs.kill()
            begin = time.monotonic()
            lrs.cli("projections", "rebuild", timeout=3600)
            out["rebuild"] = (have, time.monotonic() - begin)
        except Exception:
            print(lrs.logs()[-3000:], file=sys.stderr)
            raise
        finally:
            lrs.kill()
            if broker is not None:
                broker.stop()
    return out


READS = [("get_id", "GET by id"), ("get_agent_verb", "GET agent+verb+since"), ("page_more", "GET a page, then more"),
         ("post1", "POST 1 statement"), ("post100", "POST 100 statements")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["embedded", "scale-out", "both"], default="both")
    parser.add_argument("--singles", type=int, default=2000, help="POSTs of one statement (8 clients)")
    parser.add_argument("--batches", type=int, default=50, help="POSTs of 100 statements (4 clients)")
    parser.add_argument("--sizes", default="10000,100000", help="statements stored at each measurement, grown over HTTP")
    parser.add_argument("--large", action="store_true", help="add 1,000,000 to --sizes")
    args = parser.parse_args()
    args.sizes = sorted({int(n) for n in args.sizes.split(",")} | ({1_000_000} if args.large else set()))
    modes = ["embedded", "scale-out"] if args.mode == "both" else [args.mode]
    results = [run(mode, args) for mode in modes]
    small, large = args.sizes[0], args.sizes[-1]
    rows = [
        ("POST 1 statement, 8 clients, statements/s", lambda r: f"{r['post1']:.0f}"),
        ("POST 100 statements, 4 clients, statements/s", lambda r: f"{r['post100']:.0f}"),
        ("errors under full load (non-200, resets)", lambda r: f"{r['errors']} / {r['growth_errors']}"),
        ("growth over HTTP, statements/s (first / last step)",
         lambda r: " / ".join(f"{g:.0f}" for g in (r["growth"][:1] + r["growth"][-1:])) if r["growth"] else "-"),
    ]
    for key, label in READS:
        for size in args.sizes:
            rows.append((f"{label} p50 / p99 ms, {size:,} stored",
                         lambda r, key=key, size=size: f"{r['sizes'][size][key][0]:.1f} / {r['sizes'][size][key][1]:.1f}"))
        rows.append((f"{label} p99 ratio {large:,} / {small:,} (goal <= 1.2)",
                     lambda r, key=key: f"{r['sizes'][large][key][1] / r['sizes'][small][key][1]:.2f}"))
    for size in args.sizes:
        # the embedded server's own file I/O; in the scale-out mode PostgreSQL's processes and the
        # broker do it, and socket traffic is not counted
        rows.append((f"POST 100: MB read / written by the server, {size:,} (embedded)",
                     lambda r, size=size: "-" if r["mode"] != "embedded" else
                     f"{r['sizes'][size]['post100_io'][0]:.1f} / {r['sizes'][size]['post100_io'][1]:.1f}"))
    rows += [
        ("rebuild all projections: statements, seconds", lambda r: f"{r['rebuild'][0]:,} in {r['rebuild'][1]:.0f} s"),
        ("disk per statement, KB", lambda r: f"{r['disk_per_statement'] / 1024:.1f}"),
        ("idle CPU %, server / worker",
         lambda r: " / ".join(f"{v:.1f}" for v in r["idle_cpu"].values())),
    ]
    print(f"{'':<58}" + "".join(f"{r['mode']:>22}" for r in results))
    for label, cell in rows:
        print(f"{label:<58}" + "".join(f"{cell(r):>22}" for r in results), flush=True)
    print(f"(one run per mode, finished {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
