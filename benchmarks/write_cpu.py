"""What a statement write costs the server: rate and CPU per statement, embedded mode.

    .venv/bin/python benchmarks/write_cpu.py [--batches 40] [--singles 500] [--rounds 1]

Starts a real ``polku serve`` on a fresh SQLite file (as ``benchmarks/statements.py`` does), warms
it up, then over real HTTP POSTs ``--batches`` requests of 100 statements from 4 clients and
``--singles`` requests of one statement from 8 clients, and prints for each the statements/s and
the CPU time the server process used (user + system, from /proc) per statement. On a machine
shared with other work the rate follows the load, the CPU per statement much less: it is the
figure to compare two versions by. To see where the time goes, attach a sampling profiler to the
printed server pid, e.g. ``py-spy record --pid PID --format raw -o profile.txt``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.statements import post_rate, start  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(lrs, pid: int, requests: int, per_request: int, clients: int) -> tuple[float, float]:
    """(statements/s, server CPU µs per statement)."""
    before = cpu_seconds(pid)
    rate = post_rate(lrs, requests, per_request, clients)
    return rate, (cpu_seconds(pid) - before) / (requests * per_request) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="POSTs of 100 statements (4 clients)")
    parser.add_argument("--singles", type=int, default=500, help="POSTs of one statement (8 clients)")
    parser.add_argument("--rounds", type=int, default=1, help="measure each this many times")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lrs, _ = start("embedded", Path(tmp))
        pid = lrs.processes["serve"].pid
        print(f"polku serve pid {pid}", flush=True)
        try:
            post_rate(lrs, 5, 100, 4)  # warm-up: first requests compile validators and statements
            post_rate(lrs, 50, 1, 8)
            print(f"{'':<22} {'statements/s':>13} {'server CPU µs/statement':>24}")
            for _ in range(args.rounds):
                if args.batches:
                    rate, cpu = measure(lrs, pid, args.batches, 100, 4)
                    print(f"{'POST x100, 4 clients':<22} {rate:>13.0f} {cpu:>24.0f}", flush=True)
                if args.singles:
                    rate, cpu = measure(lrs, pid, args.singles, 1, 8)
                    print(f"{'POST x1, 8 clients':<22} {rate:>13.0f} {cpu:>24.0f}", flush=True)
        except Exception:
            print(lrs.logs()[-3000:], file=sys.stderr)
            raise
        finally:
            lrs.kill()


if __name__ == "__main__":
    main()
