"""Statement throughput and read latency, in the embedded and the scale-out mode.

    .venv/bin/python benchmarks/statements.py [--mode embedded|scale-out|both] [--singles 2000] [--batches 50]

Starts real servers (``polku serve``, and ``polku project`` with an Apache Kafka broker started by
``deploy/kafka/broker.py`` and PostgreSQL for the scale-out mode), then over real HTTP:

* POSTs of 1 statement from ``--clients`` concurrent clients: statements/second;
* POSTs of 100 statements: statements/second;
* GET by statementId and GET with an ``agent`` filter: p50 / p99 latency.

Every POST returns only once its statements are readable (read-your-writes), so the write rates
include the projection. The client runs on the same machine as the server and takes CPU from
it. The scale-out mode uses the PostgreSQL database ``polku_bench`` (created if missing) on the
server named by POLKU_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.broker import new_broker  # noqa: E402  (the same harness the tests use)
from tests.fixtures.server import Lrs, free_port  # noqa: E402
from tests.fixtures.statements_builders import statement  # noqa: E402
from events.keyring import new_master_key  # noqa: E402

V2 = {"X-Experience-API-Version": "2.0.0"}


def bench_database(admin_url: str) -> str:
    engine = sa.create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS polku_bench WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE polku_bench"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/polku_bench"


def start(mode: str, folder: Path) -> tuple[Lrs, object | None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    broker = None
    if mode == "embedded":
        env["POLKU_DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    else:
        broker = new_broker()
        env["POLKU_DATABASE_URL"] = bench_database(os.environ.get("POLKU_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))
        env["POLKU_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
        env["POLKU_MASTER_KEY"] = new_master_key()  # every process of the installation shares it
    env["POLKU_THREADS"] = "16"
    lrs = Lrs(env=env, port=free_port(), log_dir=folder)
    lrs.key, lrs.secret = lrs.create_credential()
    lrs.start()
    return lrs, broker


def post_rate(lrs: Lrs, requests_: int, per_request: int, clients: int) -> float:
    bodies = [[statement(actor=f"learner{(i * per_request + j) % 500}") for j in range(per_request)] for i in range(requests_)]
    sessions = [requests.Session() for _ in range(clients)]
    for s in sessions:
        s.auth = lrs.auth

    def send(i: int) -> None:
        body = bodies[i] if per_request > 1 else bodies[i][0]
        r = sessions[i % clients].post(lrs.endpoint + "/statements", json=body, headers=V2, timeout=60)
        r.raise_for_status()

    begin = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(requests_)))
    return requests_ * per_request / (time.perf_counter() - begin)


def latencies(lrs: Lrs, calls: list[dict]) -> tuple[float, float]:
    session = requests.Session()
    session.auth = lrs.auth
    times = []
    for params in calls:
        begin = time.perf_counter()
        r = session.get(lrs.endpoint + "/statements", params=params, headers=V2, timeout=60)
        times.append((time.perf_counter() - begin) * 1000)
        r.raise_for_status()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def run(mode: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        lrs, broker = start(mode, Path(tmp))
        try:
            post_rate(lrs, 50, 1, args.clients)  # warm-up
            singles = post_rate(lrs, args.singles, 1, args.clients)
            batches = post_rate(lrs, args.batches, 100, max(1, args.clients // 2))
            session = requests.Session()
            session.auth = lrs.auth
            ids = [s["id"] for s in session.get(lrs.endpoint + "/statements", params={"limit": 500}, headers=V2).json()["statements"]]
            by_id = latencies(lrs, [{"statementId": i} for i in ids[: args.gets]])
            agents = [json.dumps({"mbox": f"mailto:learner{n}@example.org"}) for n in range(args.gets)]
            by_agent = latencies(lrs, [{"agent": a, "limit": 10} for a in agents])
            total = lrs.cli("projections", "status").stdout
        except Exception:
            print(lrs.logs()[-3000:], file=sys.stderr)
            raise
        finally:
            lrs.kill()
            if broker is not None:
                broker.stop()
    return {"mode": mode, "post1": singles, "post100": batches, "get_id": by_id, "get_agent": by_agent, "status": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["embedded", "scale-out", "both"], default="both")
    parser.add_argument("--singles", type=int, default=2000, help="POSTs of one statement")
    parser.add_argument("--batches", type=int, default=50, help="POSTs of 100 statements")
    parser.add_argument("--gets", type=int, default=300, help="GETs of each kind")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    args = parser.parse_args()
    modes = ["embedded", "scale-out"] if args.mode == "both" else [args.mode]
    print(f"{'mode':<10} {'POST x1 stmt/s':>15} {'POST x100 stmt/s':>17} {'GET id p50/p99 ms':>19} {'GET agent p50/p99 ms':>21}")
    for mode in modes:
        r = run(mode, args)
        print(
            f"{r['mode']:<10} {r['post1']:>15.0f} {r['post100']:>17.0f} "
            f"{r['get_id'][0]:>9.1f}/{r['get_id'][1]:<9.1f} {r['get_agent'][0]:>10.1f}/{r['get_agent'][1]:<10.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
