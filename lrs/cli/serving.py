"""Running Polku: ``polku serve`` (the HTTP server), ``polku project`` (a projection worker),
``polku probe`` (ask a running one whether it is ready) and ``polku config`` (the effective settings)."""

from __future__ import annotations

import json
import signal
import sys
import threading

import click

from lrs.cli.common import load_settings, open_services, redact, version


@click.command()
@click.option("--host", default=None, help="Listen address (POLKU_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (POLKU_PORT, default 8080).")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (POLKU_WORKERS).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the xAPI endpoint (embedded mode unless Kafka is configured)."""
    from lrs import server

    from lrs.app import configure_logging

    settings = load_settings(host=host, port=port, workers=workers)
    if settings.workers > 1 or server.multiprocess_asked():
        server.prepare_multiprocess()  # before anything imports prometheus_client (lrs/ops/metrics.py)
    configure_logging(settings)
    services = open_services(settings, wait=True)
    try:
        endpoint = f"http://{settings.host}:{settings.port}/xapi/"
        mode = "scale-out (Kafka log)" if settings.uses_kafka else "embedded (SQL log)"
        click.echo(f"Polku {mode}; database {redact(settings.database_url)}")
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


@click.command()
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

    settings = load_settings()
    configure_logging(settings)
    services = open_services(settings, wait=True)
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


@click.command()
@click.option("--path", default="/ready", show_default=True, help="What to ask: /ready, or /health for the process alone.")
@click.option("--url", default=None, help="Base URL (default: http://127.0.0.1:POLKU_PORT).")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for the answer.")
def probe(path: str, url: str | None, timeout: float) -> None:
    """Ask a running Polku on this host whether it is ready (exit 0) or not (exit 1): the
    container HEALTHCHECK and the compose healthchecks, with no tool beyond Polku itself."""
    import urllib.error
    import urllib.request

    base = url or f"http://127.0.0.1:{load_settings().port}"
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


@click.command("config")
def config() -> None:
    """Print the effective configuration (defaults and POLKU_ variables), secrets masked."""
    from lrs.server import control_socket

    settings = load_settings()
    click.echo(f"# Polku {version()}; mode: {'scale-out (Kafka log)' if settings.uses_kafka else 'embedded (SQL log)'}; "
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
            shown = redact(str(value))
        if name == "gunicorn_control_socket" and not value:
            shown = f"{control_socket(settings) or ''}  # default: one per port"
        click.echo(f"POLKU_{name.upper()}={shown}")
