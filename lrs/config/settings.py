"""Configuration: environment variables with the ``POLKU_`` prefix, read once into a typed object.

The defaults give the embedded mode: a SQLite file in ``./data``, the log in that same
database, and the projection runner beside the server. Setting ``POLKU_DATABASE_URL`` to a
PostgreSQL URL and ``POLKU_KAFKA_BOOTSTRAP_SERVERS`` gives the scale-out mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Mapping

from events.sealing import MAX_PEOPLE_PER_STATEMENT, PART_OVERHEAD_BYTES

SUPPORTED_VERSIONS = ("2.0.0", "1.0.3")
#: Bytes an event may hold beyond the request it came from (stored, authority, envelope fields).
ENVELOPE_ALLOWANCE = 64 * 1024
#: POLKU_MIGRATE: ``auto`` applies pending schema migrations at start-up, ``check`` refuses to start
#: until an operator has run ``polku db upgrade``.
MIGRATE_MODES = ("auto", "check")
#: POLKU_LOG_FORMAT: ``text`` lines for people, ``json`` (one object per line) for log collectors.
LOG_FORMATS = ("text", "json")
#: Where the gunicorn workers' metrics meet (prometheus_client's multiprocess mode): set by
#: ``polku serve`` and ``deploy/gunicorn.conf.py`` (lrs/server.py), read by lrs/ops/metrics.py.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class SettingsError(ValueError):
    """A POLKU_ variable has a value Polku cannot use."""


def database_url_for_sqlalchemy(url: str) -> str:
    """Accept ``postgresql://`` / ``postgres://`` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///data/polku.sqlite3"
    kafka_bootstrap_servers: str = ""
    kafka_topic: str = "xapi.statements"
    kafka_partitions: int = 4
    kafka_replication_factor: int = 1
    kafka_min_insync_replicas: int = 0
    log_timeout_s: float = 10.0
    startup_timeout_s: float = 300.0
    db_connect_timeout_s: float = 5.0
    db_statement_timeout_s: float = 30.0
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    threads: int = 8
    max_connections: int = 1000
    client_timeout_s: float = 30.0
    run_projections: bool | None = None
    consistency_wait_s: float = 10.0
    consistency_stall_s: float = 5.0
    default_version: str = "2.0.0"
    max_request_bytes: int = 20 * 1024 * 1024
    max_statements_per_request: int = 1000
    page_size: int = 100
    max_page_size: int = 1000
    log_level: str = "INFO"
    authority_home_page: str = "https://polku.invalid/credentials"
    migrate: str = "auto"
    # operating (issue 10): log lines, readiness
    log_format: str = "text"
    access_log: bool = True
    ready_max_lag: int = 10000
    ready_timeout_s: float = 2.0
    gunicorn_control_socket: str = ""
    # personal data (issue 11): the master key that wraps every person's data key; the most
    # statements one export of a person may hold
    master_key: str = ""
    master_key_file: str = ""
    export_max_statements: int = 100000
    # retention (issue 11): statements stored more than this many days ago leave the read models
    # (lrs/personal_data/retention.py); 0: kept for good
    retention_days: int = 0

    @property
    def uses_kafka(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

    @property
    def projections_in_process(self) -> bool:
        """Whether the server runs the projection runner itself (embedded mode default)."""
        if self.run_projections is not None:
            return self.run_projections
        return not self.uses_kafka

    @property
    def max_event_bytes(self) -> int:
        """The largest event on the log, in every mode: a request's worth of statement plus what
        the LRS adds (stored, authority, the envelope), sealed: a sealed part is base64 (4/3 of
        its JSON) with its key id, person, nonce and paths beside it, one part per person named
        (at most MAX_PEOPLE_PER_STATEMENT, events/sealing.py)."""
        return 2 * self.max_request_bytes + ENVELOPE_ALLOWANCE + MAX_PEOPLE_PER_STATEMENT * PART_OVERHEAD_BYTES

    @property
    def sqlalchemy_url(self) -> str:
        return database_url_for_sqlalchemy(self.database_url)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = env.get(f"POLKU_{name.upper()}")
            if raw is None or raw == "":
                continue
            values[name] = _parse(name, raw, f.type)
        settings = cls(**values)
        if settings.default_version not in SUPPORTED_VERSIONS:
            raise SettingsError(f"POLKU_DEFAULT_VERSION must be one of {', '.join(SUPPORTED_VERSIONS)}")
        if settings.migrate not in MIGRATE_MODES:
            raise SettingsError(f"POLKU_MIGRATE must be one of {', '.join(MIGRATE_MODES)}")
        if settings.retention_days < 0:
            raise SettingsError("POLKU_RETENTION_DAYS must be 0 (off) or a number of days")
        if settings.log_format not in LOG_FORMATS:
            raise SettingsError(f"POLKU_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        return settings


def _parse(name: str, raw: str, type_: str):
    var = f"POLKU_{name.upper()}"
    try:
        if type_ in ("int",):
            return int(raw)
        if type_ in ("float",):
            return float(raw)
        if type_.startswith("bool"):
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise SettingsError(f"{var} has an invalid value") from None
    return raw
