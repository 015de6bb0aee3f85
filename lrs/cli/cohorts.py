"""``polku cohorts import`` (programmes and cohorts from a JSON or YAML file) and ``polku demo`` (a
demo programme loaded through the xAPI endpoint)."""

from __future__ import annotations

import json
import logging

import click

from lrs.config.settings import Settings

from lrs.cli.common import load_settings, open_services, redact


def _read_definitions(path: str):
    """A JSON or YAML file as data; YAML dates become ISO strings, as in the API's JSON bodies."""
    import datetime as _dt

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


@click.group()
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
    settings = load_settings()
    services = open_services(settings)
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


@click.command()
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

    settings = load_settings()
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
    services = open_services(settings)
    try:
        if check_mixing and services.statements.holds_statements_beyond(demo_data.DOMAIN + "/"):
            raise click.ClickException(
                f"the database {redact(settings.database_url)} holds statements that are not the demo's; the demo"
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
