"""Benchmark of the cohort views: how fast the projection applies the log, how fast the views answer.

    .venv/bin/python benchmarks/cohorts.py                        # SQLite file in a temporary folder
    .venv/bin/python benchmarks/cohorts.py --database-url postgresql://postgres@127.0.0.1:5432/bench

It builds one programme (forty items) and one cohort of ``--members`` members, appends
``--statements`` statements to the embedded SQL log (members' work on items, cohort-grouped
discussion, non-members in the cohort's discussions, 1% voided, 1% sent twice), then

1. applies the log to the ``cohorts`` projection alone through the real runner and reports
   events per second (batches of ``--batch`` events, one transaction each, as in production);
2. times each view ``--repeat`` times, as a query function call and as an HTTP request
   through the Flask app (routing, authentication, marshmallow dump, JSON), and reports p50/p99.

A PostgreSQL URL must name a database the benchmark may fill (its tables are dropped first).
``--seeded`` times the views of a database an earlier run filled (same ``--database-url``; a
SQLite file's URL is printed by every run), without loading it again.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from events import Event  # noqa: E402
from events.sql import SqlLog, make_engine  # noqa: E402
from lrs.storage import schema  # noqa: E402
from lrs.config.settings import database_url_for_sqlalchemy  # noqa: E402
from projections.cohort_views import CohortViews  # noqa: E402
from projections.cohorts import COHORT_DEFINED, PROGRAMME_DEFINED, CohortProjection  # noqa: E402
from projections.runner import Runner  # noqa: E402
from projections.statements import STATEMENT_STORED  # noqa: E402

ADL = "http://adlnet.gov/expapi/verbs/"
BASE = "https://bench.polku.example/"
START = date(2026, 1, 5)
KINDS = ["coaching-day", "assignment", "discussion", "material", "poll", "group-work", "assessment", "self-assessment", "survey"]


def programme() -> dict:
    items = []
    for i in range(40):
        kind = KINDS[i % len(KINDS)]
        items.append({"activity": f"{BASE}items/{i}", "title": f"Item {i}", "kind": kind,
                      "required": kind in ("coaching-day", "assignment", "assessment"),
                      "due": (START + timedelta(days=7 * i)).isoformat() if i % 3 == 0 else None,
                      "measure": "pre" if i == 8 else "post" if i == 35 else None})
    return {"key": "bench", "name": "Benchmark programme", "items": items}


def agent(n: int) -> dict:
    return {"objectType": "Agent", "name": f"Member {n}", "mbox": f"mailto:member{n}@example.com"}


def history(members: int, count: int, rng: random.Random) -> list[dict]:
    items = programme()["items"]
    statements = []
    for i in range(count):
        who = rng.randrange(members + members // 10)  # one in eleven is not a member
        item = rng.choice(items)
        moment = datetime(START.year, START.month, START.day, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(40 * 7 * 24 * 60))
        verb = rng.choice(["completed", "passed", "failed", "attended", "commented", "shared", "experienced", "answered"])
        s = {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "actor": agent(who),
             "verb": {"id": ADL + verb}, "object": {"objectType": "Activity", "id": item["activity"]},
             "timestamp": moment.isoformat(), "stored": moment.isoformat()}
        if rng.random() < 0.3:
            s["context"] = {"contextActivities": {"grouping": [{"id": BASE + "cohorts/bench"}]}}
        if item["kind"] in ("assessment", "self-assessment", "survey"):
            score = round(rng.random(), 2)
            s["result"] = {"score": {"scaled": score}, "success": score >= 0.5, "completion": True}
        statements.append(s)
    for target in rng.sample(statements, k=count // 100):
        statements.append({"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:admin@example.com"}, "verb": {"id": ADL + "voided"},
                           "object": {"objectType": "StatementRef", "id": target["id"]},
                           "timestamp": "2026-12-01T00:00:00Z", "stored": "2026-12-01T00:00:00Z"})
    statements += rng.sample(statements[:count], k=count // 100)
    return statements


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p99 * 1000


def timed(fn, repeat: int) -> str:
    """p50/p99 of the wall time, and the median CPU time of this process (on a shared machine the
    wall time includes waiting for a core; the CPU time does not, nor the database server's)."""
    fn()  # warm
    samples, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        samples.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    p50, p99 = percentiles(samples)
    return f"p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (cpu p50 {statistics.median(cpu) * 1000:6.1f} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seeded", action="store_true", help="--database-url holds the cohort of an earlier run: time only")
    args = parser.parse_args()
    if args.seeded and not args.database_url:
        parser.error("--seeded needs --database-url")

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='polku-bench-')}/bench.sqlite3"
    url = database_url_for_sqlalchemy(url)
    engine = make_engine(url)
    if not args.seeded:
        seed(engine, args)
    time_views(engine, url, args)


def seed(engine: sa.Engine, args: argparse.Namespace) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    schema.upgrade(engine)
    log = SqlLog(engine)
    runner = Runner(engine, log, [CohortProjection()], batch_size=args.batch)
    runner.setup()
    rng = random.Random(5)

    prog = programme()
    cohort = {"key": "bench", "name": "Benchmark cohort", "programme": "bench", "iri": BASE + "cohorts/bench",
              "starts": START.isoformat(), "ends": (START + timedelta(weeks=40, days=-1)).isoformat(),
              "members": [agent(n) for n in range(args.members)]}
    statements = history(args.members, args.statements, rng)
    events = [Event(PROGRAMME_DEFINED, "programme:bench", prog), Event(COHORT_DEFINED, "cohort:bench", cohort)]
    events += [Event(STATEMENT_STORED, s["actor"].get("mbox", ""), {"statement": s, "fingerprint": s["id"]}) for s in statements]
    t = time.perf_counter()
    for i in range(0, len(events), 5000):
        log.append(events[i : i + 5000])
    appended = time.perf_counter() - t
    print(f"database: {engine.dialect.name}; {len(events)} events on the log ({appended:.1f}s to append, not counted); {engine.url}")

    t = time.perf_counter()
    applied = runner.catch_up()
    elapsed = time.perf_counter() - t
    print(f"apply:  {applied} events in {elapsed:.1f}s = {applied / elapsed:,.0f} events/s "
          f"(cohorts projection, batches of {args.batch})")

    if engine.dialect.name == "postgresql":
        # what autovacuum does after a bulk load: statistics for the planner, and the visibility
        # map that lets the views' index-only scans skip the table
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))


def time_views(engine: sa.Engine, url: str, args: argparse.Namespace) -> None:
    views = CohortViews(engine)
    as_of = START + timedelta(weeks=20)
    queries = {
        "progress": lambda: views.progress("bench", as_of),
        "engagement": lambda: views.engagement("bench"),
        "engagement 4 weeks": lambda: views.engagement("bench", START + timedelta(weeks=8), START + timedelta(weeks=12) - timedelta(days=1)),
        "success": lambda: views.success("bench"),
    }
    print(f"views over {args.members} members, {args.statements:,} statements, {engine.dialect.name} ({args.repeat} runs each; "
          f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for name, query in queries.items():
        print(f"  query  {name:<20} {timed(query, args.repeat)}")

    from lrs.app import create_app
    from lrs.config.settings import Settings

    # PostgreSQL needs a master key given (lrs/config/keys.py); one file per database, so --seeded runs reuse it
    key_file = "" if engine.dialect.name == "sqlite" else str(Path(tempfile.gettempdir()) / f"polku-bench-{engine.url.database}.master-key")
    settings = Settings(database_url=url, run_projections=False, log_level="WARNING", master_key_file=key_file)
    app = create_app(settings)
    credential, secret = app.extensions["polku"].credentials.create(f"bench-{uuid.uuid4().hex[:8]}", {"analytics"})
    headers = {"Authorization": "Basic " + base64.b64encode(f"{credential.key}:{secret}".encode()).decode()}
    client = app.test_client()
    paths = {
        "progress": f"/api/v1/cohorts/bench/progress?as_of={as_of.isoformat()}",
        "engagement": "/api/v1/cohorts/bench/engagement",
        "success": "/api/v1/cohorts/bench/success",
        "progress csv": f"/api/v1/cohorts/bench/progress?as_of={as_of.isoformat()}&format=csv",
    }

    def get(path: str):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)

    for name, path in paths.items():
        print(f"  http   {name:<20} {timed(lambda: get(path), args.repeat)}")
    app.extensions["polku"].close()


if __name__ == "__main__":
    main()
