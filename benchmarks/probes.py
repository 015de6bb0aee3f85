"""What the operator's endpoints cost: GET /health, /ready and /metrics against a real server.

    .venv/bin/python benchmarks/probes.py [--requests 300] [--workers 1]

Starts ``polku serve`` (embedded mode, a SQLite file in a temporary folder; ``--workers 2`` runs
gunicorn), loads a few statements so that the views are not empty, then times ``--requests``
sequential GETs of each endpoint over one keep-alive connection and prints p50 / p99 / max in
milliseconds. /ready and /metrics reuse one look at the database and the log for a second, so
most of their requests do not touch either; the look itself is what the max shows.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.server import Lrs, free_port  # noqa: E402  (the same harness the tests use)
from tests.fixtures.statements_builders import statement  # noqa: E402

V2 = {"X-Experience-API-Version": "2.0.0"}


def timed(session: requests.Session, url: str, n: int, auth=None) -> list[float]:
    took = []
    for _ in range(n):
        started = time.perf_counter()
        response = session.get(url, auth=auth, timeout=30)
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 503), response.status_code
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
        env |= {"POLKU_DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.sqlite3'}", "POLKU_WORKERS": str(args.workers),
                "POLKU_ACCESS_LOG": "false", "PYTHONUNBUFFERED": "1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        lrs = Lrs(env=env, port=free_port(), log_dir=Path(folder))
        lrs.key, lrs.secret = lrs.create_credential()
        scraper = lrs.create_credential("metrics", name="prometheus")
        lrs.start()
        try:
            for _ in range(10):
                requests.post(lrs.endpoint + "/statements", json=[statement() for _ in range(20)], auth=lrs.auth, headers=V2, timeout=30)
            base = f"http://127.0.0.1:{lrs.port}"
            with requests.Session() as session:
                print(f"polku serve --workers {args.workers}; {args.requests} sequential GETs each (ms)")
                for path, auth in (("/health", None), ("/ready", None), ("/metrics", scraper)):
                    took = sorted(timed(session, base + path, args.requests, auth))
                    p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
                    print(f"  {path:<9} p50 {statistics.median(took):6.2f}  p99 {p99:6.2f}  max {took[-1]:6.2f}")
        finally:
            lrs.kill(signal.SIGTERM)


if __name__ == "__main__":
    main()
