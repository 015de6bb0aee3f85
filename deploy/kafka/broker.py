#!/usr/bin/env python3
"""Apache Kafka, single node (KRaft), for Polku's tests, benchmarks and local scale-out runs.

    python deploy/kafka/broker.py start DIR      start a broker keeping its storage in DIR; print host:port
    python deploy/kafka/broker.py stop DIR       stop it (SIGTERM, then SIGKILL after --grace seconds)
    python deploy/kafka/broker.py status DIR     print host:port and pid, exit 1 if not running
    python deploy/kafka/broker.py classpath      resolve the broker's jars (Maven) and print the classpath

The broker's jars come from Maven Central through the pinned ``pom.xml`` beside this file
(``mvn dependency:build-classpath``; the jars land in the local Maven repository, the classpath
is cached in ``$POLKU_SERVICES_DIR``, default ``/var/tmp/polku-services``). Java 17 runs it.

``start`` on a new DIR picks two free loopback ports (client and controller), writes
``DIR/broker.properties`` and formats ``DIR/data``. ``start`` on a DIR that has them restarts the
same broker -- same ports, same cluster id, same storage -- which is how the tests restart a
killed broker. It returns once the broker answers a real Kafka request (a metadata request that
lists the broker itself), or fails naming the log. The broker runs in a session of its own and
outlives this script; ``DIR/broker.pid`` holds its pid, ``DIR/broker.log`` its output.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J = HERE / "log4j2.properties"
SERVICES = Path(os.environ.get("POLKU_SERVICES_DIR", "/var/tmp/polku-services"))
JAVA_OPTS = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]


class BrokerError(RuntimeError):
    pass


def classpath() -> str:
    """The broker's classpath, resolved by Maven once per version of pom.xml."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    cached = SERVICES / f"kafka-classpath-{digest}.txt"
    if cached.exists() and all(Path(jar).exists() for jar in cached.read_text().strip().split(os.pathsep)):
        return cached.read_text().strip()
    SERVICES.mkdir(parents=True, exist_ok=True)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven (mvn) is needed to fetch Apache Kafka's jars; install Debian's package `maven`")
    partial = cached.with_suffix(".partial")
    done = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), "dependency:build-classpath", f"-Dmdep.outputFile={partial}"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0 or not partial.exists():
        raise BrokerError(f"Maven could not resolve Apache Kafka:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    partial.replace(cached)
    return cached.read_text().strip()


def free_ports(count: int, taken: tuple[int, ...] = ()) -> list[int]:
    """``count`` free loopback ports, all different and none of ``taken``: every socket is held
    open until all are chosen (one closed at once could be handed out again)."""
    held: list[socket.socket] = []
    try:
        ports: list[int] = []
        while len(ports) < count:
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in taken and port not in ports:
                ports.append(port)
        return ports
    finally:
        for s in held:
            s.close()


def _properties(folder: Path) -> dict[str, str]:
    path = folder / "broker.properties"
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def bootstrap(folder: Path) -> str:
    return _properties(folder)["advertised.listeners"].split("//", 1)[1]


def _write_config(folder: Path, port: int | None) -> None:
    if port:
        (controller,) = free_ports(1, taken=(port,))
    else:
        port, controller = free_ports(2)
    data = folder / "data"
    (folder / "broker.properties").write_text(
        "\n".join(
            [
                "# A single-node KRaft broker for Polku's tests and local runs (deploy/kafka/broker.py).",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
    )


def _java(cp: str, *args: str, log: Path | None = None, background: bool = False):
    command = ["java", *JAVA_OPTS, f"-Dlog4j2.configurationFile={LOG4J}", "-cp", cp, *args]
    if background:
        assert log is not None
        with open(log, "ab") as out:
            return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def pid(folder: Path) -> int | None:
    """The broker's pid if it is running (a stopped, SIGSTOPped process counts as running)."""
    try:
        value = int((folder / "broker.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(value, 0)
    except ProcessLookupError:
        return None
    try:  # a pid the system gave to another process since: not our broker
        command = Path(f"/proc/{value}/cmdline").read_bytes().split(b"\0")
        if b"kafka.Kafka" not in command or str(folder / "broker.properties").encode() not in command:
            return None
    except OSError:
        pass
    try:  # a zombie (killed, not yet reaped by a parent that is gone) is not running
        if Path(f"/proc/{value}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return None
    except (OSError, IndexError):
        pass
    return value


def answers(address: str, timeout: float = 1.0) -> bool:
    """True once the broker answers a Metadata request listing at least one broker (itself).

    Metadata v1 (request header v1), which every Kafka from 0.10 to 4.x serves: the answer
    starts with the broker array, so a non-empty array is enough to know the broker is up.
    """
    host, port = address.rsplit(":", 1)
    client = b"polku-broker-check"
    # api_key=3 (Metadata), api_version=1, correlation_id=7, client_id; topics = null (-1): all
    body = struct.pack(">hhih", 3, 1, 7, len(client)) + client + struct.pack(">i", -1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(struct.pack(">i", len(body)) + body)
            header = _recv(conn, 12)
    except OSError:
        return False
    if len(header) < 12:
        return False
    _size, correlation, brokers = struct.unpack(">iii", header)
    return correlation == 7 and brokers >= 1


def _recv(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def start(folder: Path, port: int | None = None, timeout: float = 120.0) -> str:
    """Start (or restart on its storage) the broker kept in ``folder``; return host:port."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if pid(folder) is not None:
        address = bootstrap(folder)
        if not wait_until_answers(folder, address, timeout):
            raise BrokerError(f"the broker in {folder} runs but does not answer:\n{tail(folder)}")
        return address
    cp = classpath()
    if not (folder / "broker.properties").exists():
        _write_config(folder, port)
    if not (folder / "data" / "meta.properties").exists():
        formatted = _java(
            cp, "kafka.tools.StorageTool", "format", "--ignore-formatted",
            f"--cluster-id={_cluster_id()}",  # "=": a random id may begin with "-"
            f"--config={folder / 'broker.properties'}",
        )
        if formatted.returncode != 0:
            raise BrokerError(f"formatting the broker's storage failed:\n{formatted.stdout}{formatted.stderr}")
    process = _java(cp, "kafka.Kafka", str(folder / "broker.properties"), log=folder / "broker.log", background=True)
    (folder / "broker.pid").write_text(str(process.pid))
    address = bootstrap(folder)
    if not wait_until_answers(folder, address, timeout, process):
        stop(folder)
        raise BrokerError(f"the broker did not answer within {timeout:.0f}s:\n{tail(folder)}")
    return address


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 characters)."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def wait_until_answers(folder: Path, address: str, timeout: float, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        if answers(address):
            return True
        time.sleep(0.1)
    return False


def stop(folder: Path, grace: float = 20.0) -> None:
    """Stop the broker: SIGTERM (a clean shutdown), SIGKILL if it has not ended after ``grace``."""
    folder = folder.resolve()
    running = pid(folder)
    if running is None:
        return
    os.kill(running, signal.SIGCONT)  # a paused broker cannot shut down
    os.kill(running, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid(folder) is not None:
        time.sleep(0.1)
    if pid(folder) is not None:
        os.kill(running, signal.SIGKILL)
        while pid(folder) is not None:
            time.sleep(0.05)


def tail(folder: Path, chars: int = 4000) -> str:
    path = folder / "broker.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no broker.log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="start (or restart) the broker kept in DIR; print host:port")
    p_start.add_argument("dir", type=Path)
    p_start.add_argument("--port", type=int, default=None, help="client port for a new DIR (default: a free one)")
    p_start.add_argument("--timeout", type=float, default=120.0)
    p_stop = sub.add_parser("stop", help="stop the broker kept in DIR")
    p_stop.add_argument("dir", type=Path)
    p_stop.add_argument("--grace", type=float, default=20.0)
    p_status = sub.add_parser("status", help="host:port and pid of the broker in DIR")
    p_status.add_argument("dir", type=Path)
    sub.add_parser("classpath", help="resolve the jars and print the classpath")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            print(start(args.dir, args.port, args.timeout), flush=True)
        elif args.command == "stop":
            stop(args.dir, args.grace)
        elif args.command == "status":
            running = pid(args.dir.resolve())
            if running is None:
                print("not running")
                return 1
            print(f"{bootstrap(args.dir.resolve())} pid {running}")
        else:
            print(classpath())
    except BrokerError as exc:
        print(f"broker.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
