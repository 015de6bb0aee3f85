"""Polku's server log: its format, the request id, the access log, and a limit on the repeated
warnings of the libraries Polku uses.

* ``POLKU_LOG_FORMAT=text`` (default): one line per record for people;
  ``POLKU_LOG_FORMAT=json``: one JSON object per line (``time``, ``level``, ``logger``,
  ``message``, ``request_id`` inside a request, ``exception`` with the traceback of an ERROR).
* Every request has an id: the client's ``X-Request-ID`` when it is 1-128 characters of
  ``A-Z a-z 0-9 . _ : -`` (a proxy's id carries through), a new one otherwise; the response
  returns it in ``X-Request-ID`` and every log line written during the request carries it.
* The access log (logger ``polku.access``, ``POLKU_ACCESS_LOG``): one line per request with the
  method, the route template (never the raw path or query: they may hold personal data), the
  status, the duration and the request id. No header is logged, so no Authorization.
* A library's identical warnings (by logger and message template) pass at most once per
  :data:`REPEAT_INTERVAL_S`; the next one that passes says how many were suppressed. A broker
  outage otherwise prints hundreds of kafka-python lines per process.
* Stack traces appear only here, at ERROR (lrs/errors.py); a response never carries one.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from datetime import datetime, timezone

from flask import g, has_request_context

from lrs.config.settings import Settings

access_log = logging.getLogger("polku.access")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Loggers whose repeated records are limited: third-party libraries that repeat themselves.
RATE_LIMITED = ("kafka", "urllib3", "waitress")
REPEAT_INTERVAL_S = 60.0


def request_id_from(header: str | None) -> str:
    """The client's request id when it is safe to log and echo; otherwise a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class RepeatFilter(logging.Filter):
    """Lets a record of the ``prefixes`` loggers through at most once per ``interval`` seconds
    per (logger, level, message template); the next one through tells how many were held back.
    Records of other loggers always pass."""

    def __init__(self, prefixes: tuple[str, ...] = RATE_LIMITED, interval: float = REPEAT_INTERVAL_S, clock=time.monotonic):
        super().__init__()
        self.prefixes = prefixes
        self.interval = interval
        self.clock = clock
        self._seen: dict[tuple, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not _under(record.name, self.prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            passed_at, held = self._seen.get(key, (float("-inf"), 0))
            if now - passed_at < self.interval:
                self._seen[key] = (passed_at, held + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 10000:  # bounded, whatever a library logs
                self._seen = {key: (now, 0)}
        if held:
            record.msg = f"{record.getMessage()} ({held} identical message(s) suppressed in the last {self.interval:g} s)"
            record.args = None
        return True


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in ("method", "route", "status", "duration_ms"):
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure_logging(settings: Settings) -> None:
    """The root logger's one handler (stderr) in the format asked for, with the request id and
    the repeat filter; Polku's own loggers at ``POLKU_LOG_LEVEL``, noisy libraries at WARNING or above."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "polku", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.polku = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        handler.addFilter(RepeatFilter())
        for other in list(root.handlers):  # one format for every line (a basicConfig made earlier)
            root.removeHandler(other)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(settings.log_level)
    level = logging.getLevelName(settings.log_level)
    for noisy in ("kafka", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level if isinstance(level, int) else logging.INFO))
    access_log.disabled = not settings.access_log
