"""The services a running Polku holds, built once from settings by the composition root (lrs/app.py
for the HTTP server, lrs/cli.py and lrs/worker.py for the command line) and handed to what needs them;
the HTTP layer reaches them through lrs/http/current.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import sqlalchemy as sa
from events import Log
from events.blobs import BlobStore
from events.claims import ClaimRegistry
from events.keyring import Keyring, MasterKeyError
from events.sealing import Opener
from events.sql import SqlLog, make_engine
from lrs.storage import schema, statistics as storage_statistics
from lrs.stores.credentials import CredentialStore
from lrs.stores.documents import DocumentStore
from lrs.statements.group_commit import WriteQueue
from lrs.config.keys import master_key
from lrs.config.settings import Settings, SettingsError
from projections.consistency import Consistency
from projections.log_guard import LogGuard
from projections.notices import Listener
from projections.runner import Runner
from projections.registry import all_projections
from projections.statements import StatementReader


@dataclass
class Services:
    settings: Settings
    engine: sa.Engine
    log: Log
    claims: ClaimRegistry
    runner: Runner
    guard: LogGuard
    consistency: Consistency
    statements: StatementReader
    credentials: CredentialStore
    blobs: BlobStore
    documents: DocumentStore
    #: every person's data key (crypto-shredding): seals what is written, opens what is applied
    keyring: Keyring
    #: signs what the server hands out and takes back (``more`` tokens); one per installation
    signing_key: bytes
    #: how many request threads may wait for read-your-writes at once: the others stay free
    waiters: threading.BoundedSemaphore
    #: concurrent requests' statement writes, claimed and appended together (group commit)
    writes: WriteQueue = field(default_factory=WriteQueue)
    #: on PostgreSQL without projections in this process: notices that a worker applied something
    notices: Listener | None = None

    def close(self) -> None:
        if self.notices is not None:
            self.notices.stop()
        self.runner.stop()
        self.log.close()
        self.engine.dispose()


def open_log(settings: Settings, engine: sa.Engine) -> Log:
    if settings.uses_kafka:
        from events.kafka import KafkaLog

        return KafkaLog(
            settings.kafka_bootstrap_servers,
            topic=settings.kafka_topic,
            partitions=settings.kafka_partitions,
            timeout_s=settings.log_timeout_s,
            replication_factor=settings.kafka_replication_factor,
            min_insync_replicas=settings.kafka_min_insync_replicas or None,
            max_event_bytes=settings.max_event_bytes,
        )
    return SqlLog(engine, max_event_bytes=settings.max_event_bytes)


def open_engine(settings: Settings) -> sa.Engine:
    """The database engine (a SQLite file's folder is made if missing)."""
    _ensure_sqlite_folder(settings.sqlalchemy_url)
    return make_engine(settings.sqlalchemy_url, settings.db_connect_timeout_s, settings.db_statement_timeout_s)


def build_services(settings: Settings) -> Services:
    """Open the database, bring its schema to this code's revision (or insist that it is there,
    as POLKU_MIGRATE says), open the log, and wire the read and write sides."""
    key = master_key(settings)  # before anything is opened: a missing key is a configuration error
    engine = open_engine(settings)
    try:
        schema.prepare(engine, settings.migrate)
        storage_statistics.refresh(engine)  # the planner's statistics, missing or stale (issue 19)
        log_ = open_log(settings, engine)
    except BaseException:
        engine.dispose()
        raise
    try:
        keyring = Keyring(engine, key)
        try:
            keyring.check()
        except MasterKeyError as exc:
            raise SettingsError(f"POLKU_MASTER_KEY: {exc}") from None
        return _wire(settings, engine, log_, keyring)
    except BaseException:  # a start that fails half-way must not leave the log's clients behind
        log_.close()
        engine.dispose()
        raise


def _wire(settings: Settings, engine: sa.Engine, log_: Log, keyring: Keyring) -> Services:
    credentials = CredentialStore(engine)
    # a write's in-flight mark older than this was left by a write that failed or whose process died
    in_flight_ttl_s = 2 * settings.log_timeout_s + settings.consistency_wait_s + 30
    claim_registry = ClaimRegistry(engine, stale_after_s=in_flight_ttl_s)
    guard = LogGuard(engine, log_)
    runner = Runner(engine, log_, all_projections(), guard=guard, opener=Opener(keyring.keys, keyring.ref, keyring.erased_among).open)
    runner.setup()
    guard.refresh()  # the first look, before any request or batch asks
    notices = None
    if not settings.projections_in_process and engine.dialect.name == "postgresql":
        notices = Listener(engine).start()  # writes waiting for a worker wake when it commits
    return Services(
        settings=settings,
        engine=engine,
        log=log_,
        claims=claim_registry,
        runner=runner,
        guard=guard,
        consistency=Consistency(
            engine, log_, runner if settings.projections_in_process else None, claims=claim_registry,
            in_flight_ttl_s=in_flight_ttl_s,
            woken_by=notices.condition if notices is not None else None,
        ),
        statements=StatementReader(engine),
        credentials=credentials,
        signing_key=credentials.signing_key(),
        waiters=threading.BoundedSemaphore(max(1, settings.threads - 2)),
        blobs=BlobStore(engine),
        documents=DocumentStore(engine),
        keyring=keyring,
        notices=notices,
    )


def _ensure_sqlite_folder(url: str) -> None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        import os

        folder = os.path.dirname(url[len("sqlite:///"):])
        if folder:
            os.makedirs(folder, exist_ok=True)
