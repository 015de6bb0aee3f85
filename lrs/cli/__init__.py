"""The ``polku`` command: serve, run projection workers, manage credentials and projections."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from events import LogUnavailable
from events.log import summary
from lrs.config.settings import Settings, SettingsError

startup_log = logging.getLogger("polku.startup")
#: What a service started before its database or broker meets: worth another try.
_UNREACHABLE = (LogUnavailable, OperationalError, InterfaceError, ConnectionError)


def _settings(**overrides) -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    return settings.with_(**{k: v for k, v in overrides.items() if v is not None})


def _services(settings: Settings, wait: bool = False):
    """Open the services; with ``wait`` (serve, project), retry while the database or the log is
    not reachable yet -- one log line per attempt, backing off to 10 s, for at most
    ``POLKU_STARTUP_TIMEOUT_S`` -- as a service started beside its database and broker must."""
    from lrs.storage.schema import SchemaError
    from lrs.services import build_services

    deadline = time.monotonic() + settings.startup_timeout_s
    attempt, pause = 0, 1.0
    while True:
        attempt += 1
        try:
            return build_services(settings)
        except SchemaError as exc:  # says itself what to do; waiting would not change it
            raise click.ClickException(str(exc)) from None
        except _UNREACHABLE as exc:
            remaining = deadline - time.monotonic()
            if not wait or remaining <= 0:
                raise click.ClickException(f"cannot open Polku's database or log: {summary(exc, 300)}") from None
            pause = min(pause, remaining)
            startup_log.warning("database or log not reachable (attempt %d): %s; retrying in %.0f s", attempt, summary(exc, 300), pause)
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
        except Exception as exc:  # the CLI's one place to turn start-up failures into a message
            raise click.ClickException(f"cannot open Polku's database or log: {summary(exc, 300)}") from None


@click.group()
@click.version_option(package_name="polku", prog_name="polku", message="%(prog)s %(version)s")
def main() -> None:
    """Polku: an event-sourced xAPI Learning Record Store."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # Polku says what it migrated itself


@main.command()
@click.option("--host", default=None, help="Listen address (POLKU_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (POLKU_PORT, default 8080).")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (POLKU_WORKERS).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the xAPI endpoint (embedded mode unless Kafka is configured)."""
    from lrs import server

    from lrs.app import configure_logging

    settings = _settings(host=host, port=port, workers=workers)
    if settings.workers > 1 or server.multiprocess_asked():
        server.prepare_multiprocess()  # before anything imports prometheus_client (lrs/ops/metrics.py)
    configure_logging(settings)
    services = _services(settings, wait=True)
    try:
        endpoint = f"http://{settings.host}:{settings.port}/xapi/"
        mode = "scale-out (Kafka log)" if settings.uses_kafka else "embedded (SQL log)"
        click.echo(f"Polku {mode}; database {_redact(settings.database_url)}")
        click.echo(f"xAPI endpoint: {endpoint}")
        click.echo(f"Dashboard:     http://{settings.host}:{settings.port}/ (sign in with a credential's key and secret; scope analytics, admin or all)")
        if not services.credentials.list():
            credential, secret = services.credentials.create("default", {"all"})
            click.echo("Created a credential with scope 'all' (the secret is shown only now):")
            click.echo(f"  key:    {credential.key}")
            click.echo(f"  secret: {secret}")
            click.echo(f"  try:    curl -u {credential.key}:{secret} -H 'X-Experience-API-Version: 2.0.0' {endpoint}statements")
        else:
            click.echo("Credentials exist already; make another with: polku credentials create --name NAME --scopes all")
        sys.stdout.flush()
    finally:
        services.close()
    server.run(settings)


@main.command()
@click.option("--idle-sleep", type=float, default=0.01, show_default=True, help="Seconds to wait when caught up.")
@click.option("--partitions", default=None, help="Comma-separated log partitions to apply (default: all).")
@click.option(
    "--metrics-port", type=int, default=None,
    help="Serve this worker's metrics (events applied) on POLKU_HOST:PORT/metrics, unauthenticated: keep it private.",
)
def project(idle_sleep: float, partitions: str | None, metrics_port: int | None) -> None:
    """Run the projection worker: apply the log to every projection until stopped.

    Several workers may split the partitions of a topic (--partitions 0,1 and --partitions 2,3);
    two workers on one partition are safe too (positions move by compare-and-set), only wasteful.
    """
    from lrs import worker
    from lrs.app import configure_logging

    settings = _settings()
    configure_logging(settings)
    services = _services(settings, wait=True)
    try:
        runner = worker.runner_for(services, [int(p) for p in partitions.split(",") if p.strip()] if partitions else None)
    except ValueError as exc:
        services.close()
        raise click.BadParameter(str(exc), param_hint="--partitions") from None
    if metrics_port:
        worker.serve_metrics(settings.host, metrics_port)
        click.echo(f"metrics: http://{settings.host}:{metrics_port}/metrics")
    stop = threading.Event()

    def _stop(*_):
        stop.set()
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(
        f"projection worker: {len(runner.projections)} projection(s), partitions {','.join(map(str, runner.partitions))}"
        f" of {services.log.partitions}"
    )
    sys.stdout.flush()
    worker.run(services, runner, stop, idle_sleep, count=bool(metrics_port))


@main.group()
def db() -> None:
    """The database schema: apply migrations, show the revision, check the hot reads' plans."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (safe while other processes start or run)."""
    from lrs.storage import schema
    from lrs.services import open_engine

    engine = open_engine(_settings())
    try:
        applied = schema.upgrade(engine)
    except schema.SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    for step in applied:
        click.echo(f"applied {step.revision}: {step.description}")
    click.echo(f"the database is at {schema.head()} (head)" if applied else f"the database is up to date at {schema.head()} (head)")


@db.command("current")
def db_current() -> None:
    """Show the database's schema revision and the one this Polku needs."""
    from lrs.storage import schema
    from lrs.services import open_engine

    engine = open_engine(_settings())
    try:
        at = schema.current(engine)
        schema.check(engine)
        verdict = "up to date"
    except schema.SchemaError as exc:
        verdict = str(exc)
    finally:
        engine.dispose()
    click.echo(f"current: {at or '(none)'}")
    click.echo(f"head:    {schema.head()}")
    click.echo(verdict)


@db.command("check")
@click.option("--all", "show_all", is_flag=True, help="Show every plan, not only those with a problem.")
def db_check(show_all: bool) -> None:
    """Show how the database plans each hot read, and refresh its statistics first.

    Every read a request or a projection makes often (credential lookup, the consistency
    watermark, a statement by id, each GET /statements filter, paging, documents, cohort views) is
    run read-only with values from this database, and each query it sends is explained. A full
    scan of a table that grows with the store, or an index searched on a column that does not tell
    its rows apart, is a problem: the command then exits with status 1.
    """
    from lrs.storage import query_plans, statistics as storage_statistics
    from lrs.services import open_engine

    engine = open_engine(_settings())
    try:
        _schema_check(engine)
        refreshed = storage_statistics.refresh(engine)
        plans = query_plans.plans(engine)
    finally:
        engine.dispose()
    click.echo(f"statistics refreshed: {', '.join(refreshed) if refreshed else 'none missing'}")
    problems = [p for p in plans if p.problems]
    for plan in plans if show_all else problems:
        click.echo(f"{'PROBLEM' if plan.problems else 'ok'}  {plan.read}")
        for line in plan.lines:
            click.echo(f"      {line}")
        for problem in plan.problems:
            click.echo(f"    ! {problem}")
    reads = len({p.read for p in plans})
    click.echo(f"{reads} hot reads, {len(plans)} queries explained, {len(problems)} with a problem")
    if problems:
        sys.exit(1)


def _schema_check(engine) -> None:
    from lrs.storage import schema

    try:
        schema.check(engine)
    except schema.SchemaError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def credentials() -> None:
    """Manage HTTP Basic credentials."""


@credentials.command("create")
@click.option("--name", required=True, help="Who or what the credential is for (unique among credentials in use).")
@click.option("--scopes", required=True, help="Comma-separated scopes; 'all' grants everything.")
@click.option("--expires", default=None, help="When it stops working: a duration (90d, 12h, 30m, 2w), a date (YYYY-MM-DD, UTC) or a timestamp.")
def credentials_create(name: str, scopes: str, expires: str | None) -> None:
    """Create a credential and print its key and secret (the secret is not shown again)."""
    from lrs.stores.credentials import CredentialError, NameTaken, parse_expiry

    try:
        until = parse_expiry(expires) if expires is not None else None
    except CredentialError as exc:
        raise click.BadParameter(exc.message, param_hint="--expires") from None
    services = _services(_settings())
    try:
        credential, secret = services.credentials.create(name, {s.strip() for s in scopes.split(",") if s.strip()}, until)
    except NameTaken as exc:
        raise click.ClickException(f"{exc.message} (revoke the old one first, or rotate its secret: polku credentials rotate KEY)") from None
    except CredentialError as exc:
        raise click.BadParameter(exc.message, param_hint=f"--{exc.field}") from None
    finally:
        services.close()
    click.echo(f"key:    {credential.key}")
    click.echo(f"secret: {secret}")
    click.echo(f"scopes: {', '.join(sorted(credential.scopes))}")
    if credential.expires:
        click.echo(f"expires: {credential.expires}")


@credentials.command("list")
def credentials_list() -> None:
    """List credentials: name, key, scopes, created, expires, last used, revoked (never secrets)."""
    services = _services(_settings())
    try:
        found = services.credentials.list()
    finally:
        services.close()
    if not found:
        click.echo("no credentials; create one with: polku credentials create --name NAME --scopes all")
        return
    header = ("name", "key", "scopes", "created", "expires", "last used", "revoked")
    rows = [
        (c.name, c.key, ",".join(sorted(c.scopes)), c.created[:19], (c.expires or "never")[:19],
         (c.last_used or "never")[:19], (c.revoked or "no")[:19])
        for c in found
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@credentials.command("revoke")
@click.argument("key")
def credentials_revoke(key: str) -> None:
    """Revoke credential KEY for good: from the next request on it is refused (401) by every server."""
    from lrs.stores.credentials import CredentialError

    services = _services(_settings())
    try:
        credential = services.credentials.revoke(key)
    except CredentialError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()
    click.echo(f"revoked {credential.key} ({credential.name}) at {credential.revoked}")


@credentials.command("rotate")
@click.argument("key")
def credentials_rotate(key: str) -> None:
    """Give credential KEY a new secret, printed once; the old secret stops working at once."""
    from lrs.stores.credentials import CredentialError

    services = _services(_settings())
    try:
        credential, secret = services.credentials.rotate(key)
    except CredentialError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()
    click.echo(f"key:    {credential.key}")
    click.echo(f"secret: {secret}")
    click.echo("the old secret no longer works")


@main.group()
def projections() -> None:
    """Inspect and rebuild projections."""


@projections.command("status")
def projections_status() -> None:
    """Show each projection's applied position, the log end and the lag, per partition; events
    set aside; and what is wrong with the log, if anything (then the exit status is 1)."""
    from lrs.ops import health
    from lrs.personal_data import retention

    services = _services(_settings())
    try:
        found = health.report(services)  # the same look as GET /ready and /metrics
        try:
            retained = retention.describe(services)
        except (OperationalError, InterfaceError):
            retained = "retention: unknown (the database is unavailable)"
    finally:
        services.close()
    if found.log_error or found.database_error:
        raise click.ClickException(f"the log is unavailable: {found.log_error or found.database_error}")
    problem = found.problem
    click.echo(f"log: {found.identity}")
    click.echo(f"{'projection':<16}{'partition':>10}{'applied':>12}{'end':>12}{'lag':>10}")
    for s in found.statuses or []:
        click.echo(f"{s.projection:<16}{s.partition:>10}{s.applied:>12}{s.end:>12}{s.lag:>10}")
    for name, count in sorted((found.set_aside or {}).items()):
        click.echo(f"SET ASIDE: {count} event(s) {name} could not apply (table polku_dead_letters)")
    click.echo(retained)
    for warning in found.warnings or []:
        click.echo(f"WARNING: {warning}")
    if problem:
        click.echo(f"PROBLEM: {problem}", err=True)
        sys.exit(1)


@main.group("log")
def log_group() -> None:
    """The log Polku projects."""


@log_group.command("accept")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def log_accept(yes: bool) -> None:
    """Accept the log found now as Polku's log and rebuild every projection from it.

    For a log that went backwards or was replaced (storage wiped, topic recreated, an older
    backup) and cannot be restored. Statements that were only on the old log are no longer shown.
    Stop the projection workers first; the servers pick the new log up by themselves.
    """
    services = _services(_settings())
    try:
        problem = services.guard.problem()
        identity = services.log.identity()
        if not problem:
            click.echo(f"the log {identity} is the one Polku projects; nothing to accept")
            return
        click.echo(f"PROBLEM: {problem}")
        if not yes:
            click.confirm(f"Accept {identity} as Polku's log and rebuild every view from it?", abort=True)
        runner = services.runner
        total = sum(runner.log.end(p) for p in range(runner.log.partitions)) * len(runner.projections)
        with click.progressbar(length=total, label="rebuilding every projection") as bar:
            identity, applied = runner.accept_log(progress=bar.update)
        click.echo(f"accepted {identity}; replayed {applied} event(s)")
    except LogUnavailable as exc:
        raise click.ClickException(f"the log is unavailable: {exc}") from None
    finally:
        services.close()


@projections.command("rebuild")
@click.argument("names", nargs=-1)
def projections_rebuild(names: tuple[str, ...]) -> None:
    """Drop the named projections (default: all) and replay the log into them.

    Safe while servers and workers run: the replay is one transaction, so the views keep their
    old rows until the rebuilt ones replace them at once. On SQLite, writes wait for it."""
    services = _services(_settings())
    runner = services.runner
    problem = services.guard.problem()
    if problem:
        services.close()
        raise click.ClickException(problem)
    known = [p.name for p in runner.projections]
    chosen = list(names) or known
    for name in chosen:
        if name not in known:
            raise click.BadParameter(f"unknown projection {name!r}; known: {', '.join(known)}", param_hint="NAMES")
    total = sum(runner.log.end(p) for p in range(runner.log.partitions)) * len(chosen)
    with click.progressbar(length=total, label=f"rebuilding {', '.join(chosen)}") as bar:
        applied = runner.rebuild(chosen, progress=bar.update)
    click.echo(f"replayed {applied} event(s)")
    services.close()


@main.command()
@click.option("--path", default="/ready", show_default=True, help="What to ask: /ready, or /health for the process alone.")
@click.option("--url", default=None, help="Base URL (default: http://127.0.0.1:POLKU_PORT).")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for the answer.")
def probe(path: str, url: str | None, timeout: float) -> None:
    """Ask a running Polku on this host whether it is ready (exit 0) or not (exit 1): the
    container HEALTHCHECK and the compose healthchecks, with no tool beyond Polku itself."""
    import json
    import urllib.error
    import urllib.request

    base = url or f"http://127.0.0.1:{_settings().port}"
    try:
        with urllib.request.urlopen(base.rstrip("/") + path, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        click.echo(f"no answer from {base}{path}: {exc}", err=True)
        sys.exit(1)
    try:
        failing = json.loads(body).get("failing") or []
    except (ValueError, AttributeError):
        failing = []
    click.echo(f"{status} {', '.join(failing) if failing else ('ok' if status == 200 else '')}".strip())
    sys.exit(0 if status == 200 else 1)


#: Settings printed as ``***`` whole by ``polku config`` (names holding one of these words).
_SECRET_WORDS = ("secret", "password", "master_key", "token", "private")


@main.command("config")
def config() -> None:
    """Print the effective configuration (defaults and POLKU_ variables), secrets masked."""
    from lrs.server import control_socket

    settings = _settings()
    click.echo(f"# Polku {_version()}; mode: {'scale-out (Kafka log)' if settings.uses_kafka else 'embedded (SQL log)'}; "
               f"projections {'in the server' if settings.projections_in_process else 'in polku project workers'}")
    for name in settings.__dataclass_fields__:
        value = getattr(settings, name)
        if value is None:
            shown = ""
        elif any(word in name for word in _SECRET_WORDS):
            shown = "***" if value else ""
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        else:
            shown = _redact(str(value))
        if name == "gunicorn_control_socket" and not value:
            shown = f"{control_socket(settings) or ''}  # default: one per port"
        click.echo(f"POLKU_{name.upper()}={shown}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("polku")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "unknown"


def _redact(url: str) -> str:
    """A database URL without its password (in the user part or as a query parameter), for printing."""
    import re

    url = re.sub(r"(?i)\b(password|passwd|pwd|sslpassword)=[^&\s]*", r"\1=***", url)
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


# ---- cohorts and the demo (issue 5) -----------------------------------------------------

def _read_definitions(path: str):
    """A JSON or YAML file as data; YAML dates become ISO strings, as in the API's JSON bodies."""
    import datetime as _dt
    import json

    import yaml

    def plain(value):
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, (_dt.date, _dt.datetime)):
            return value.isoformat()
        return value

    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return plain(json.loads(text) if path.endswith(".json") else yaml.safe_load(text))
    except (ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{path} is not valid {'JSON' if path.endswith('.json') else 'YAML or JSON'}: {exc}") from None


@main.group()
def cohorts() -> None:
    """Programmes and cohorts."""


@cohorts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace definitions that exist and differ (without it, nothing is imported then).")
def cohorts_import(file: str, replace: bool) -> None:
    """Define the programmes and cohorts in FILE (JSON or YAML), all or nothing.

    FILE holds {"programmes": {KEY: {...}}, "cohorts": {KEY: {...}}} with the same bodies as
    PUT /api/v1/programmes/KEY and PUT /api/v1/cohorts/KEY. Says what it creates, replaces and
    leaves unchanged. A definition that exists and differs is replaced only with --replace;
    without it the import says what would be replaced, imports nothing and exits with 1.
    """
    from lrs.errors import XAPIError
    from lrs.statements.commands import append
    from lrs.cohorts.programmes import PROJECTION, plan_import

    document = _read_definitions(file)
    settings = _settings()
    services = _services(settings)
    applied = True
    try:
        planned = plan_import(services, document)
        replacing = [p for p in planned if p.action == "replace"]
        for p in planned:
            verb = "would replace" if p.action == "replace" and not replace else p.action
            click.echo(f"{verb:<14}{p.section:<10}{p.key}" + (f"  ({p.changes})" if p.changes else ""))
        if replacing and not replace:
            raise click.ClickException(
                f"{len(replacing)} definition(s) in {file} differ from those Polku holds; nothing was imported."
                " Run again with --replace to replace them."
            )
        events = [p.event for p in planned if p.action != "unchanged"]
        if events:
            positions = append(services, events)
            if settings.projections_in_process:
                services.runner.catch_up([PROJECTION])  # safe beside a running server: positions are compare-and-set
            else:
                applied = services.consistency.wait_for(PROJECTION, positions, settings.consistency_wait_s)
    except XAPIError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()
    count = {action: sum(p.action == action for p in planned) for action in ("create", "replace", "unchanged")}
    n_programmes = sum(p.section == "programme" for p in planned)
    click.echo(
        f"imported {n_programmes} programme(s) and {len(planned) - n_programmes} cohort(s): "
        f"{count['create']} created, {count['replace']} replaced, {count['unchanged']} unchanged"
    )
    if not applied:
        click.echo("(on the log; the projection worker applies them when it runs: polku project)")


#: Where ``polku demo --separate`` loads: a SQLite database with its own embedded log.
DEMO_DATABASE_URL = "sqlite:///data/demo/polku.sqlite3"


@main.command()
@click.option("--url", default=None, help="A running Polku (e.g. http://127.0.0.1:8080); default: start one in-process.")
@click.option("--key", default=None, help="Credential key for --url (scopes all, or statements/write and admin).")
@click.option("--secret", default=None, help="Credential secret for --url.")
@click.option("--force", is_flag=True, help="Load even if the demo programme exists.")
@click.option("--separate", is_flag=True, help=f"Load into a database of the demo's own ({DEMO_DATABASE_URL}, embedded log).")
@click.option("--into-current", is_flag=True, help="Load into the configured database even though it holds statements that are not the demo's.")
@click.option("--now", "now_", default=None, help="Pretend it is this UTC moment (ISO 8601), for a reproducible load.")
@click.option("--members", type=click.IntRange(min=2), default=12, show_default=True, help="Members per cohort.")
def demo(url: str | None, key: str | None, secret: str | None, force: bool, separate: bool, into_current: bool,
         now_: str | None, members: int) -> None:
    """Load a demo programme: three cohorts of supervisors over forty weeks, through the xAPI endpoint.

    The demo never mixes with real data unless told to: it loads into the configured database
    (POLKU_DATABASE_URL) only while that holds no statements but the demo's -- a new, empty
    installation, or one that has the demo already -- and refuses otherwise. --separate loads into
    a database of its own instead; --into-current mixes it in anyway. With --url it loads into
    the Polku running there, as that server's credential allows.
    """
    import datetime as _dt

    from lrs.cohorts import demo as demo_data

    if url and (separate or into_current):
        raise click.UsageError("--separate and --into-current choose a database for the in-process load; --url names a server")
    if separate and into_current:
        raise click.UsageError("--separate and --into-current exclude each other")
    now = None
    if now_:
        try:
            now = _dt.datetime.fromisoformat(now_.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter("must be an ISO 8601 moment, e.g. 2026-06-17T15:00:00Z", param_hint="--now") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=_dt.timezone.utc)
    plan = demo_data.build_plan(now=now, members=members)
    sent = {"statements": 0}

    def progress(step) -> None:
        if step.kind == "statements":
            sent["statements"] += len(step.body)
        else:
            click.echo(f"  {step.note}")

    def run(client) -> bool:
        click.echo(f"loading the demo into {client.base} ...")
        try:
            return demo_data.load(client, plan, progress, force)
        except demo_data.DemoError as exc:
            raise click.ClickException(str(exc)) from None

    settings = _settings()
    if separate:
        settings = settings.with_(database_url=DEMO_DATABASE_URL, kafka_bootstrap_servers="", run_projections=None)
    if url:
        if not (key and secret):
            raise click.UsageError("--url needs --key and --secret")
        loaded = run(demo_data.Client(url, key, secret))
    else:
        loaded = _demo_in_process(settings, run, check_mixing=not (separate or into_current))
    serve_hint = f"POLKU_DATABASE_URL={DEMO_DATABASE_URL} polku serve" if separate else None
    if not loaded:
        click.echo(f"the demo programme {demo_data.PROGRAMME!r} is there already (use --force to load it again)")
    else:
        click.echo(f"sent {sent['statements']} statements; cohorts: {', '.join(demo_data.REGIONS)}")
        click.echo("see e.g. GET /api/v1/cohorts/north/progress, /engagement, /success (scope analytics)")
        where = f"{url.rstrip('/')}/cohorts" if url else "the Dashboard address `polku serve` (make run) prints"
        click.echo(f"or open {where} in a browser and sign in with a key and secret of scope analytics, admin or all")
    if serve_hint:
        click.echo(f"the demo has a database of its own; serve it with: {serve_hint}")


def _demo_in_process(settings: Settings, run, check_mixing: bool) -> bool:
    """Serve the app on a free loopback port for the load, with a credential made for it and removed after.

    With ``check_mixing``, refuse a database that holds statements that are not the demo's."""
    import secrets as _secrets
    import threading as _threading

    from werkzeug.serving import make_server

    from lrs.cohorts import demo as demo_data
    from lrs.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
    services = _services(settings)
    try:
        if check_mixing and services.statements.holds_statements_beyond(demo_data.DOMAIN + "/"):
            raise click.ClickException(
                f"the database {_redact(settings.database_url)} holds statements that are not the demo's; the demo"
                " does not mix with real data. Load it into a database of its own with `polku demo --separate`"
                f" (then serve that: POLKU_DATABASE_URL={DEMO_DATABASE_URL} polku serve), or mix it in anyway"
                " with `polku demo --into-current`."
            )
        credential, secret = services.credentials.create(f"polku demo loader {_secrets.token_hex(4)}", {"all"})
    except BaseException:
        services.close()
        raise
    server = make_server("127.0.0.1", 0, create_app(settings, services), threaded=True)
    thread = _threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        return run(demo_data.Client(f"http://127.0.0.1:{server.server_port}", credential.key, secret))
    finally:
        server.shutdown()
        services.credentials.delete(credential.key)
        services.close()


@main.command("export")
@click.option("--agent", "agent", required=True, help='The person: an Agent as JSON, e.g. \'{"mbox": "mailto:aino@example.org"}\'.')
@click.option("--zip", "zip_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write a ZIP (export.json and attachments/<sha2>) to this file instead of JSON to stdout.")
def export_command(agent: str, zip_path: str | None) -> None:
    """Everything Polku holds about one person, as GET /api/v1/agents/export returns it."""
    import os

    from lrs.personal_data import export
    from lrs.errors import BadRequest, XAPIError

    services = _services(_settings())
    try:
        found = export.build(services, agent)
        if zip_path is None:
            click.echo(export.to_json(found.document, indent=2).decode("utf-8"))
            return
        partial = zip_path + ".partial"
        with open(partial, "wb") as out:
            written = export.write_zip(found, services, out)
        os.replace(partial, zip_path)
        click.echo(f"wrote {zip_path}: {len(found.document['statements'])} statements, "
                   f"{len(found.document['voided_statements'])} voided, {written} attachment(s)", err=True)
    except BadRequest as exc:
        raise click.UsageError(f"--{exc.message}") from None
    except XAPIError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()


@main.command("erase")
@click.option("--agent", "agent", required=True, help='The person: an Agent as JSON, e.g. \'{"mbox": "mailto:aino@example.org"}\'.')
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(agent: str, yes: bool) -> None:
    """Erase one person for good: their statements, documents and memberships leave every view,
    they become the anonymous agent in other people's statements, and their data keys are
    deleted, so their parts of the log can no longer be read (docs/personal-data.md)."""
    from lrs.personal_data import erasure
    from lrs.errors import XAPIError
    from schemas.agents import AgentProblem
    from schemas.validation import agent_parameter

    settings = _settings()
    try:
        parsed, _ = agent_parameter(agent, settings.default_version)
    except AgentProblem as exc:
        raise click.UsageError(f"--{exc}") from None
    services = _services(settings)
    try:
        persons = erasure.persons_of(services, parsed)
        held = [services.statements.held_of(person) for person in persons]
        own, named, attachments = sum(h[0] for h in held), sum(h[1] for h in held), sum(len(h[2]) for h in held)
        if len(persons) > 1:
            click.echo(f"A cohort defines {len(persons) - 1} other identifier(s) as this person's (e.g. a workspace "
                       "account beside the address): they are erased with it.")
        click.echo(f"{own} statement(s) by this person will be erased, {named} other statement(s) will name "
                   f"the anonymous agent instead, {attachments} attachment(s) only they referenced will be "
                   "deleted, with their State and Agent Profile documents and cohort memberships.")
        if not yes:
            click.confirm("Erase this person for good? This cannot be undone", abort=True)
        summary = erasure.erase(services, parsed, requested_by="polku erase")
    except XAPIError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()
    click.echo(json.dumps(summary.as_json(), indent=2))
    if summary.status != "done":
        click.echo("pending: the projection workers finish it (their keys are deleted once every view has applied it)", err=True)


@main.command("erasures")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def erasures_command(limit: int) -> None:
    """The erasure record, newest first (the person only as a keyed hash)."""
    from lrs.personal_data import erasure

    services = _services(_settings())
    try:
        rows = erasure.history(services, limit)
    finally:
        services.close()
    if not rows:
        click.echo("no erasures")
    for row in rows:
        click.echo(json.dumps(row))


@main.group("keys")
def keys_group() -> None:
    """The master key that wraps every person's data key."""


@keys_group.command("new-master-key")
def new_master_key_command() -> None:
    """Print a new random master key (32 bytes, base64) for POLKU_MASTER_KEY."""
    from events.keyring import new_master_key

    click.echo(new_master_key())


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    main()
