"""Slow and idle sockets cannot take the server from the others (issue 9, defect 3; docs/design.md,
invariant 10): while clients trickle their headers or bodies byte by byte and others connect and
say nothing, every other request is answered promptly."""

from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.parse
import uuid

import requests

from tests.fixtures.statements_builders import statement

V2 = {"X-Experience-API-Version": "2.0.0"}
SLOW_HEADERS = 12
SLOW_BODIES = 12
IDLE = 60
TRICKLE_FOR_S = 20


def _trickle(port: int, head: bytes, tail: bytes, stop: threading.Event) -> None:
    """Send ``head`` at once, then ``tail`` one byte a second until stopped (or the server hangs up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(head)
            for byte in tail:
                if stop.wait(1.0):
                    return
                conn.sendall(bytes([byte]))
    except OSError:
        pass  # the server hung up on a client this slow: that is allowed


def test_slow_and_idle_clients_do_not_stall_the_others(fresh_lrs):
    lrs = fresh_lrs("embedded", POLKU_THREADS="8")
    stop = threading.Event()
    slow_head = b"POST /xapi/statements HTTP/1.1\r\nHost: x\r\n"
    slow_tail = b"X-Experience-API-Version: 2.0.0\r\nContent-Length: 2\r\n\r\n{}" * 4
    body_head = b"POST /xapi/statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    trickling = [
        threading.Thread(target=_trickle, args=(lrs.port, slow_head, slow_tail, stop), daemon=True) for _ in range(SLOW_HEADERS)
    ] + [
        threading.Thread(target=_trickle, args=(lrs.port, body_head, b"[" * 100, stop), daemon=True) for _ in range(SLOW_BODIES)
    ]
    idle = []
    try:
        for _ in range(IDLE):
            idle.append(socket.create_connection(("127.0.0.1", lrs.port), timeout=5))
        for t in trickling:
            t.start()
        time.sleep(2)  # every slow client is in the middle of its request now

        session = requests.Session()
        session.auth = lrs.auth
        answered, slowest, deadline = 0, 0.0, time.monotonic() + TRICKLE_FOR_S - 4
        while time.monotonic() < deadline:
            started = time.monotonic()
            body = statement()
            posted = session.post(lrs.endpoint + "/statements", json=body, headers=V2, timeout=10)
            got = session.get(lrs.endpoint + "/statements", params={"statementId": body["id"]}, headers=V2, timeout=10)
            assert posted.status_code == 200 and got.status_code == 200
            answered += 1
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.2)
        assert answered >= 10, f"only {answered} write-and-read rounds were answered meanwhile"
        assert slowest < 5, f"a round took {slowest:.1f}s while slow clients were connected"
    finally:
        stop.set()
        for conn in idle:
            conn.close()
        for t in trickling:
            t.join(timeout=5)


NON_READERS = 4


def _never_read(port: int, request: bytes, stop: threading.Event) -> None:
    """Send ``request`` on one connection, read nothing of the answer, and stay connected."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            conn.sendall(request)
            stop.wait(120)
    except OSError:
        pass  # the server hung up on a client that reads nothing: that is allowed


def test_clients_that_never_read_their_responses_do_not_hold_the_request_threads(fresh_lrs):
    """Each non-reading client asks for a page far larger than the server buffers for one connection
    (32 statements of 1 MB), as many clients as there are request threads; the others are still
    answered, because a connection that takes nothing of its response for POLKU_CLIENT_TIMEOUT_S is
    closed and its request thread freed."""
    lrs = fresh_lrs("embedded", POLKU_THREADS=str(NON_READERS), POLKU_CLIENT_TIMEOUT_S="3")
    session = requests.Session()
    session.auth = lrs.auth
    large_activity = "http://example.org/activities/large-" + str(uuid.uuid4())
    for _ in range(2):  # 32 statements of 1 MB each: a page far larger than what waitress buffers for one connection
        batch = [statement(activity=large_activity, result={"response": "x" * 1_000_000}) for _ in range(16)]
        assert session.post(lrs.endpoint + "/statements", json=batch, headers=V2, timeout=60).status_code == 200
    credentials = base64.b64encode(f"{lrs.key}:{lrs.secret}".encode()).decode()
    request = (
        f"GET /xapi/statements?activity={urllib.parse.quote(large_activity, safe='')} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Basic {credentials}\r\nX-Experience-API-Version: 2.0.0\r\n\r\n"
    ).encode()
    stop = threading.Event()
    readers = [threading.Thread(target=_never_read, args=(lrs.port, request, stop), daemon=True) for _ in range(NON_READERS)]
    try:
        for t in readers:
            t.start()
        time.sleep(3)  # every request thread is writing a response no one reads
        for _ in range(3):
            body = statement()
            posted = session.post(lrs.endpoint + "/statements", json=body, headers=V2, timeout=30)
            got = session.get(lrs.endpoint + "/statements", params={"statementId": body["id"]}, headers=V2, timeout=30)
            assert posted.status_code == 200 and got.status_code == 200
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=5)
