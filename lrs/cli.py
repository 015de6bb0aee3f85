"""The ``polku`` command: serve, run projection workers, manage credentials and projections."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from lrs.settings import Settings, SettingsError


def _settings(**overrides) -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    return settings.with_(**{k: v for k, v in overrides.items() if v is not None})


def _services(settings: Settings):
    from lrs.services import build_services

    try:
        return build_services(settings)
    except Exception as exc:  # the CLI's one place to turn start-up failures into a message
        raise click.ClickException(f"cannot open Polku's database or log: {type(exc).__name__}: {exc}") from None


@click.group()
def main() -> None:
    """Polku: an event-sourced xAPI Learning Record Store."""


@main.command()
@click.option("--host", default=None, help="Listen address (POLKU_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (POLKU_PORT, default 8080).")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (POLKU_WORKERS).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the xAPI endpoint (embedded mode unless Kafka is configured)."""
    from lrs.server import PolkuServer

    settings = _settings(host=host, port=port, workers=workers)
    services = _services(settings)
    try:
        endpoint = f"http://{settings.host}:{settings.port}/xapi/"
        mode = "scale-out (Kafka log)" if settings.uses_kafka else "embedded (SQL log)"
        click.echo(f"Polku {mode}; database {_redact(settings.database_url)}")
        click.echo(f"xAPI endpoint: {endpoint}")
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
    PolkuServer(settings).run()


@main.command()
@click.option("--idle-sleep", type=float, default=0.01, show_default=True, help="Seconds to wait when caught up.")
def project(idle_sleep: float) -> None:
    """Run the projection worker: apply the log to every projection until stopped."""
    from lrs.app import configure_logging

    settings = _settings()
    configure_logging(settings)
    services = _services(settings)
    stop = threading.Event()

    def _stop(*_):
        stop.set()
        services.runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"projection worker: {len(services.runner.projections)} projection(s), {services.log.partitions} partition(s)")
    sys.stdout.flush()
    services.runner.start(idle_sleep)
    while not stop.wait(0.5):
        pass
    services.close()


@main.group()
def credentials() -> None:
    """Manage HTTP Basic credentials."""


@credentials.command("create")
@click.option("--name", required=True, help="Who or what the credential is for.")
@click.option("--scopes", required=True, help="Comma-separated scopes; 'all' grants everything.")
def credentials_create(name: str, scopes: str) -> None:
    """Create a credential and print its key and secret (the secret is not shown again)."""
    services = _services(_settings())
    try:
        credential, secret = services.credentials.create(name, {s.strip() for s in scopes.split(",") if s.strip()})
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scopes") from None
    finally:
        services.close()
    click.echo(f"key:    {credential.key}")
    click.echo(f"secret: {secret}")
    click.echo(f"scopes: {', '.join(sorted(credential.scopes))}")


@credentials.command("list")
def credentials_list() -> None:
    """List credentials (never their secrets)."""
    services = _services(_settings())
    for c in services.credentials.list():
        click.echo(f"{c.key}  {c.name}  {','.join(sorted(c.scopes))}")
    services.close()


@main.group()
def projections() -> None:
    """Inspect and rebuild projections."""


@projections.command("status")
def projections_status() -> None:
    """Show each projection's applied position, the log end and the lag, per partition."""
    services = _services(_settings())
    click.echo(f"{'projection':<16}{'partition':>10}{'applied':>12}{'end':>12}{'lag':>10}")
    for s in services.runner.status():
        click.echo(f"{s.projection:<16}{s.partition:>10}{s.applied:>12}{s.end:>12}{s.lag:>10}")
    services.close()


@projections.command("rebuild")
@click.argument("names", nargs=-1)
def projections_rebuild(names: tuple[str, ...]) -> None:
    """Drop the named projections (default: all) and replay the log into them."""
    services = _services(_settings())
    runner = services.runner
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


def _redact(url: str) -> str:
    """A database URL without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    main()
