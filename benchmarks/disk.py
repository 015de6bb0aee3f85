"""Disk per statement, table by table, and the agent+verb+since query at that size, in-process.

    .venv/bin/python benchmarks/disk.py [--statements 20000] [--database-url URL] [--queries 200]

Loads ``--statements`` statements of about 1.2 KB (an actor out of 2,000 learners, one of five
verbs, one of 500 activities, a result and a context with an instructor, a registration and
context activities) into a fresh database the way the server does -- completed, sealed
(events/sealing.py), appended to the log, applied by every projection through the real runner --
and prints the bytes each table and index takes per statement:

* SQLite (default: a file in a temporary folder): the ``dbstat`` virtual table, plus the WAL
  file as it stands (checkpointed first, so the figure is the database's own);
* PostgreSQL (``--database-url postgresql://...``, a database the script may empty): each
  relation's ``pg_relation_size`` (heap, its TOAST table and each index apart), after VACUUM.

The scale-out mode keeps the log in Kafka, so with PostgreSQL the ``polku_event_log`` row (the
embedded log) is what an embedded installation on PostgreSQL would hold, shown apart.

With ``--queries N`` it then times N GET agent+verb+since queries (a random learner and verb,
since a year ago, limit 10) on the statement store's reader, and prints p50 / p99 in ms: the read
path without HTTP, to see how it grows with the store. The figures vary with the machine; run it
on a quiet one.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from events import Event  # noqa: E402
from events.keyring import new_master_key  # noqa: E402
from events.sealing import persons_to_seal, seal_statement, statement_owners  # noqa: E402
from lrs.stores.credentials import authority_agent  # noqa: E402
from lrs.statements.commands import complete  # noqa: E402
from lrs.statements.comparison import fingerprint  # noqa: E402
from lrs.stores.credentials import Credential  # noqa: E402
from lrs.services import Services, build_services  # noqa: E402
from lrs.config.settings import Settings  # noqa: E402
from projections.statements import STATEMENT_STORED, StatementFilter  # noqa: E402
from schemas.agents import agent_key  # noqa: E402

ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = ["experienced", "completed", "attended", "commented", "answered"]
LEARNERS = 2000
BASE = "https://learning.polku.example/"


def learner(n: int) -> dict:
    return {"objectType": "Agent", "name": f"Learner {n}", "mbox": f"mailto:learner{n}@example.org"}


def statement(rng: random.Random, moment: datetime) -> dict:
    """A statement of about 1.2 KB once the LRS has completed it (id, stored, authority, version)."""
    verb = rng.choice(VERBS)
    item = rng.randrange(500)
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": learner(rng.randrange(LEARNERS)),
        "verb": {"id": ADL + verb, "display": {"en-US": verb, "fi-FI": verb}},
        "object": {
            "objectType": "Activity",
            "id": f"{BASE}activities/{item}",
            "definition": {
                "name": {"en-US": f"Coaching day {item}"},
                "description": {"en-US": "A day of coaching for customer-service supervisors, with group work."},
                "type": "http://adlnet.gov/expapi/activities/meeting",
            },
        },
        "result": {"score": {"scaled": round(rng.random(), 2)}, "success": True, "completion": True, "duration": "PT2H30M"},
        "context": {
            "registration": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "instructor": {"objectType": "Agent", "name": "Coach Kaisa", "mbox": f"mailto:coach{item % 20}@example.org"},
            "contextActivities": {
                "parent": [{"id": f"{BASE}programmes/supervisors-2026/module/{item % 12}"}],
                "grouping": [{"id": f"{BASE}programmes/supervisors-2026"}, {"id": f"{BASE}cohorts/{item % 8}"}],
                "category": [{"id": "https://w3id.org/xapi/cmi5/context/categories/moveon"}],
            },
            "platform": "Polku coaching workspace",
            "language": "en-US",
        },
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def load(services: Services, total: int, rng: random.Random) -> float:
    """Append ``total`` statements sealed as the server seals them, apply them; the mean size of a
    completed statement as compact JSON."""
    authority = authority_agent(Credential("bench", "bench", frozenset({"all"})), services.settings.authority_home_page)
    moment = datetime.now(timezone.utc) - timedelta(days=365)
    step = timedelta(days=365) / max(total, 1)
    size = 0
    for begin in range(0, total, 1000):
        done = []
        for n in range(begin, min(begin + 1000, total)):
            at = moment + step * n
            done.append(complete(statement(rng, at), at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), authority, "2.0.0"))
        size += sum(len(fingerprint_free(s)) for s in done)
        keys = services.keyring.current_keys(set().union(*(persons_to_seal(s) for s in done)))
        services.log.append([
            Event(type=STATEMENT_STORED, key=services.keyring.ref(statement_owners(s)[0]),
                  data=seal_statement(s, fingerprint(s), keys), recorded=s["stored"])
            for s in done
        ])
        services.runner.catch_up()
    return size / max(total, 1)


def fingerprint_free(s: dict) -> bytes:
    import json

    return json.dumps(s, separators=(",", ":"), ensure_ascii=False).encode()


def sqlite_sizes(engine: sa.Engine, path: Path) -> dict[str, int]:
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").all()
    sizes = {name: int(size) for name, size in rows}
    wal = Path(str(path) + "-wal")
    sizes["(WAL file)"] = wal.stat().st_size if wal.exists() else 0
    sizes["(file)"] = path.stat().st_size
    return sizes


def postgresql_sizes(engine: sa.Engine) -> dict[str, int]:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        rows = conn.exec_driver_sql(
            "SELECT c.relname, pg_relation_size(c.oid), COALESCE(pg_relation_size(NULLIF(c.reltoastrelid, 0)), 0) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')"
        ).all()
        total = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
    sizes = {}
    for name, heap, toast in rows:
        sizes[name] = int(heap)
        if toast:
            sizes[f"{name} (TOAST)"] = int(toast)
    sizes["(database)"] = int(total)
    return sizes


def report(sizes: dict[str, int], total: int, statement_bytes: float) -> None:
    print(f"{total:,} statements, {statement_bytes:,.0f} bytes each as compact JSON")
    print(f"{'table or index':48} {'bytes/statement':>16}")
    overall = [k for k in sizes if k.startswith("(")]
    counted = 0
    for name, size in sorted(((k, v) for k, v in sizes.items() if k not in overall), key=lambda kv: -kv[1]):
        counted += size
        if size / total >= 10:  # one page of a small table is not per statement
            print(f"{name:48} {size / total:16,.0f}")
    print(f"{'sum of tables and indexes':48} {counted / total:16,.0f}")
    log_bytes = sum(v for k, v in sizes.items() if k.startswith("polku_event_log") and k not in overall)
    print(f"{'  without polku_event_log (scale-out: in Kafka)':48} {(counted - log_bytes) / total:16,.0f}")
    for name in overall:
        print(f"{name:48} {sizes[name] / total:16,.0f}")


def time_queries(services: Services, count: int, rng: random.Random) -> tuple[float, float]:
    since = (datetime.now(timezone.utc) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    samples = []
    for i in range(count + 10):
        f = StatementFilter(agent=agent_key(learner(rng.randrange(LEARNERS))), verb=ADL + rng.choice(VERBS), since=since)
        begin = time.perf_counter()
        services.statements.query(f, 10)
        if i >= 10:  # the first few warm the caches
            samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.99) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--queries", type=int, default=0, help="then time this many agent+verb+since queries")
    parser.add_argument("--keep", type=Path, default=None, help="SQLite: make the file in this (new) folder and keep it")
    args = parser.parse_args()

    if args.keep:
        args.keep.mkdir(parents=True)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="polku-disk-"))
    path = folder / "disk.sqlite3"
    url = args.database_url or f"sqlite:///{path}"
    env = {"POLKU_DATABASE_URL": url, "POLKU_MASTER_KEY": new_master_key(), "POLKU_PROJECTIONS_IN_PROCESS": "false"}
    settings = Settings.from_env(env)
    if not url.startswith("sqlite"):
        wipe = sa.create_engine(settings.sqlalchemy_url)
        with wipe.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        wipe.dispose()
    services = build_services(settings)
    rng = random.Random(args.statements)
    try:
        begin = time.monotonic()
        statement_bytes = load(services, args.statements, rng)
        print(f"loaded and applied in {time.monotonic() - begin:.0f} s")
        sizes = sqlite_sizes(services.engine, path) if url.startswith("sqlite") else postgresql_sizes(services.engine)
        report(sizes, args.statements, statement_bytes)
        if args.queries:
            p50, p99 = time_queries(services, args.queries, rng)
            print(f"agent+verb+since (limit 10), {args.statements:,} stored: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    finally:
        services.close()
        if not args.keep:
            for f in folder.iterdir():
                os.unlink(f)
            folder.rmdir()


if __name__ == "__main__":
    main()
