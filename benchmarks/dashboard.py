"""Benchmark of the dashboard: server time and weight of a cohort's pages.

    .venv/bin/python benchmarks/dashboard.py                          # 200 members, 100,000 statements
    .venv/bin/python benchmarks/dashboard.py --members 20 --statements 5000 --repeat 5   # a quick look

It seeds the cohort read model the way ``benchmarks/cohorts.py`` does (the same programme of
forty items and one cohort, statements appended to the embedded SQL log and applied by the real
runner to the ``cohorts`` projection: nothing is written around the projection), signs in to the
dashboard through its sign-in form, then requests each page ``--repeat`` times through the Flask
app in process (routing, session, the view queries, templates, SVG) and reports p50/p99 server
time (wall clock, and the CPU time of the process, which SQLite's work is part of: on a busy shared
machine the wall clock also counts waiting for a core), and each page's weight: the HTML as sent raw and gzipped (as a browser gets it), and the
stylesheet and script it loads. Pictures are inline SVG, part of the HTML.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cohorts as seed  # noqa: E402  (benchmarks/cohorts.py: the same programme, cohort and history)

from events import Event  # noqa: E402
from events.sql import SqlLog, make_engine  # noqa: E402
from lrs.storage import schema  # noqa: E402
from lrs.config.settings import database_url_for_sqlalchemy  # noqa: E402
from projections.cohorts import COHORT_DEFINED, PROGRAMME_DEFINED, CohortProjection  # noqa: E402
from projections.runner import Runner  # noqa: E402
from projections.statements import STATEMENT_STORED  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seeded", action="store_true", help="--database-url holds the cohort of an earlier run: time only")
    args = parser.parse_args()
    if args.seeded and not args.database_url:
        parser.error("--seeded needs --database-url")

    url = database_url_for_sqlalchemy(args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='polku-dash-')}/bench.sqlite3")
    if not args.seeded:
        seed_cohort(url, args.members, args.statements)
    time_pages(url, args.repeat)


def seed_cohort(url: str, members: int, count: int) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        import sqlalchemy as sa

        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    schema.upgrade(engine)
    log = SqlLog(engine)
    runner = Runner(engine, log, [CohortProjection()], batch_size=500)
    runner.setup()
    prog = seed.programme()
    cohort = {"key": "bench", "name": "Benchmark cohort", "programme": "bench", "iri": seed.BASE + "cohorts/bench",
              "starts": seed.START.isoformat(), "ends": (seed.START + timedelta(weeks=40, days=-1)).isoformat(),
              "members": [seed.agent(n) for n in range(members)]}
    statements = seed.history(members, count, random.Random(5))
    events = [Event(PROGRAMME_DEFINED, "programme:bench", prog), Event(COHORT_DEFINED, "cohort:bench", cohort)]
    events += [Event(STATEMENT_STORED, s["actor"].get("mbox", ""), {"statement": s, "fingerprint": s["id"]}) for s in statements]
    for i in range(0, len(events), 5000):
        log.append(events[i : i + 5000])
    t = time.perf_counter()
    runner.catch_up()
    print(f"database: {engine.dialect.name}; {members} members, {count:,} statements "
          f"(+1% voided, 1% repeated), applied in {time.perf_counter() - t:.1f}s (not counted); {url}")
    engine.dispose()


def time_pages(url: str, repeat: int) -> None:
    from lrs.app import create_app
    from lrs.config.settings import Settings

    app = create_app(Settings(database_url=url, run_projections=False, log_level="WARNING"))
    credential, secret = app.extensions["polku"].credentials.create("bench", {"analytics"})
    client = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/sign-in").get_data(as_text=True)).group(1)
    assert client.post("/sign-in", data={"csrf": token, "key": credential.key, "secret": secret}).status_code == 303

    as_of = (seed.START + timedelta(weeks=20)).isoformat()
    pages = {
        "cohorts": "/cohorts",
        "progress": f"/cohorts/bench/progress?as_of={as_of}",
        "progress sorted": f"/cohorts/bench/progress?as_of={as_of}&sort=progress&order=desc",
        "engagement": "/cohorts/bench/engagement",
        "success": "/cohorts/bench/success",
        "member": "/cohorts/bench/members/0",
    }
    assets = sum(len(client.get(f"/dashboard/static/{name}").get_data()) for name in ("dashboard.css", "dashboard.js"))
    print(f"pages ({repeat} runs each; server time in process; weight: HTML raw / gzipped, + {assets / 1024:.1f} KB css+js):")
    print(f"  (machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for name, path in pages.items():
        html = client.get(path).get_data()  # warm, and the weight
        samples, cpu = [], []
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            response = client.get(path)
            samples.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            assert response.status_code == 200, response.status_code
        p50, p99 = seed.percentiles(samples)
        cpu50, _ = seed.percentiles(cpu)
        print(f"  {name:<16} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (cpu p50 {cpu50:6.1f} ms)"
              f"   {len(html) / 1024:7.1f} KB / {len(gzip.compress(html, 5)) / 1024:6.1f} KB")
    app.extensions["polku"].close()


if __name__ == "__main__":
    main()
