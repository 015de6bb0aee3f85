"""Every row of the throughput goals (issue 13), in the embedded and the scale-out mode, as one table.

    .venv/bin/python benchmarks/goals.py [--mode embedded|scale-out|both] [--stored 100000] [--large]

Per mode it starts real servers (as ``benchmarks/statements.py`` does: ``polku serve``, plus
``polku project`` with an Apache Kafka broker and PostgreSQL in the scale-out mode) and measures,
over real HTTP unless said otherwise:

* POST 1 statement from 8 clients and POST 100 statements from 4 clients: statements/s, and
  every answer that is not 200 or a connection that fails counted as an error;
* with ``--small`` (10,000) statements stored and again with ``--stored`` (``--large``:
  1,000,000): GET by id, GET agent+verb+since and a single POST, p99 (200 requests each), so the
  two sizes can be compared. Statements beyond the POSTed ones are appended to the log directly
  (the same events the write path makes) and applied by the running projections; the time
  that takes is the live catch-up rate;
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
from events import Event  # noqa: E402
from events.keyring import Keyring  # noqa: E402
from events.sealing import persons_to_seal, seal_statement, statement_owners  # noqa: E402
from lrs.auth import authority_agent  # noqa: E402
from lrs.commands import complete  # noqa: E402
from lrs.comparison import fingerprint  # noqa: E402
from lrs.credentials import Credential  # noqa: E402
from lrs.keys import master_key  # noqa: E402
from lrs.services import open_engine, open_log  # noqa: E402
from lrs.settings import Settings  # noqa: E402
from projections.statements import STATEMENT_STORED, StatementReader  # noqa: E402
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


def post_rate(lrs, requests_: int, per_request: int, clients: int, errors: Errors) -> float:
    rng = random.Random(requests_ * per_request)
    bodies = [[statement(actor=learner(rng.randrange(LEARNERS)), verb=rng.choice(VERBS).rsplit("/", 1)[1])
               for _ in range(per_request)] for _ in range(requests_)]
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


def p99(times: list[float]) -> float:
    times = sorted(times)
    return times[max(0, int(len(times) * 0.99) - 1)]


def latencies(lrs, ids: list[str], count: int = 200) -> dict[str, float]:
    """p99 in ms of GET by id, GET agent+verb+since, and one POST at a time."""
    session = requests.Session()
    session.auth = lrs.auth
    rng = random.Random(count)
    since = (datetime.now(timezone.utc) - timedelta(days=400)).isoformat()
    kinds = {
        "get_id": lambda: session.get(lrs.endpoint + "/statements", params={"statementId": rng.choice(ids)}, headers=V2),
        "get_agent_verb": lambda: session.get(lrs.endpoint + "/statements", headers=V2, params={
            "agent": f'{{"mbox": "mailto:{learner(rng.randrange(LEARNERS))}@example.org"}}', "verb": rng.choice(VERBS),
            "since": since, "limit": 10}),
        "post1": lambda: session.post(lrs.endpoint + "/statements", json=statement(actor=learner(rng.randrange(LEARNERS))), headers=V2),
    }
    result = {}
    for name, call in kinds.items():
        times = []
        for _ in range(count):
            begin = time.perf_counter()
            call().raise_for_status()
            times.append((time.perf_counter() - begin) * 1000)
        result[name] = p99(times)
    return result


def seed(settings: Settings, total: int, have: int) -> list[str]:
    """Append statements to the log directly until ``total`` are there, sealed as the server seals
    them (events/sealing.py); their ids."""
    engine = open_engine(settings)
    log = open_log(settings, engine)
    keyring = Keyring(engine, master_key(settings))
    authority = authority_agent(Credential("bench", "bench", frozenset({"all"})), settings.authority_home_page)
    rng = random.Random(total)
    moment = datetime.now(timezone.utc) - timedelta(days=365)
    step = timedelta(days=365) / max(total - have, 1)
    ids = []
    try:
        for begin in range(have, total, 2000):
            done = []
            for n in range(begin, min(begin + 2000, total)):
                stored = (moment + step * (n - have)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                body = statement(actor=learner(rng.randrange(LEARNERS)), verb=rng.choice(VERBS).rsplit("/", 1)[1],
                                 activity=f"http://example.org/activities/{rng.randrange(500)}")
                done.append(complete(body, stored, authority, "2.0.0"))
            keys = keyring.current_keys(set().union(*(persons_to_seal(s) for s in done)))
            events = [
                Event(type=STATEMENT_STORED, key=keyring.ref(statement_owners(s)[0]),
                      data=seal_statement(s, fingerprint(s), keys), recorded=s["stored"])
                for s in done
            ]
            ids += [s["id"] for s in done]
            log.append(events)
    finally:
        log.close()
        engine.dispose()
    return ids


def wait_applied(settings: Settings, total: int, timeout: float = 7200) -> float:
    engine = open_engine(settings)
    reader = StatementReader(engine)
    begin = time.monotonic()
    try:
        while reader.count() < total:
            if time.monotonic() - begin > timeout:
                raise TimeoutError(f"{reader.count()} of {total} statements applied after {timeout} s")
            time.sleep(1)
    finally:
        engine.dispose()
    return time.monotonic() - begin


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


def run(mode: str, args) -> dict:
    out: dict = {"mode": mode}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lrs, broker = start(mode, folder)
        settings = Settings.from_env({k: v for k, v in lrs.env.items() if k.startswith("POLKU_")})
        errors = Errors()
        try:
            post_rate(lrs, 50, 1, 8, errors)  # warm-up
            out["post1"] = post_rate(lrs, args.singles, 1, 8, errors)
            out["post100"] = post_rate(lrs, args.batches, 100, 4, errors)
            out["errors"] = errors.count
            engine = open_engine(settings)
            have = StatementReader(engine).count()
            engine.dispose()
            for label, size in (("small", args.small), ("stored", args.stored)):
                ids = seed(settings, size, have) if size > have else []
                out[f"catch_up_{label}"] = (size - have, wait_applied(settings, max(size, have)))
                have = max(size, have)
                out[label] = latencies(lrs, ids or [s for s in _some_ids(lrs)])
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


def _some_ids(lrs) -> list[str]:
    session = requests.Session()
    session.auth = lrs.auth
    return [s["id"] for s in session.get(lrs.endpoint + "/statements", params={"limit": 500}, headers=V2).json()["statements"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["embedded", "scale-out", "both"], default="both")
    parser.add_argument("--singles", type=int, default=2000, help="POSTs of one statement (8 clients)")
    parser.add_argument("--batches", type=int, default=50, help="POSTs of 100 statements (4 clients)")
    parser.add_argument("--small", type=int, default=10_000, help="statements stored for the first read and write p99")
    parser.add_argument("--stored", type=int, default=100_000, help="statements stored for the second")
    parser.add_argument("--large", action="store_true", help="--stored 1000000")
    args = parser.parse_args()
    if args.large:
        args.stored = 1_000_000
    modes = ["embedded", "scale-out"] if args.mode == "both" else [args.mode]
    results = [run(mode, args) for mode in modes]
    rows = [
        ("POST 1 statement, 8 clients, statements/s", lambda r: f"{r['post1']:.0f}"),
        ("POST 100 statements, 4 clients, statements/s", lambda r: f"{r['post100']:.0f}"),
        ("errors under full load (non-200, resets)", lambda r: f"{r['errors']}"),
        (f"GET by id p99 ms, {args.small:,} / {args.stored:,} stored", lambda r: f"{r['small']['get_id']:.1f} / {r['stored']['get_id']:.1f}"),
        (f"GET agent+verb+since p99 ms, {args.small:,} / {args.stored:,}",
         lambda r: f"{r['small']['get_agent_verb']:.1f} / {r['stored']['get_agent_verb']:.1f}"),
        (f"single POST p99 ms, {args.small:,} / {args.stored:,}", lambda r: f"{r['small']['post1']:.1f} / {r['stored']['post1']:.1f}"),
        ("live catch-up, statements/s (appended to the log)",
         lambda r: f"{r['catch_up_stored'][0] / max(r['catch_up_stored'][1], 1e-9):.0f}"),
        ("rebuild all projections: statements, seconds", lambda r: f"{r['rebuild'][0]:,} in {r['rebuild'][1]:.0f} s"),
        ("disk per statement, KB", lambda r: f"{r['disk_per_statement'] / 1024:.1f}"),
        ("idle CPU %, server / worker",
         lambda r: " / ".join(f"{v:.1f}" for v in r["idle_cpu"].values())),
    ]
    print(f"{'':<52}" + "".join(f"{r['mode']:>22}" for r in results))
    for label, cell in rows:
        print(f"{label:<52}" + "".join(f"{cell(r):>22}" for r in results), flush=True)
    print(f"(one run per mode, finished {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
