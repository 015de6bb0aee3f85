"""``polku projections`` (status, rebuild) and ``polku log accept`` (a log that is not the one Polku
projects, accepted by an operator)."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from events import LogUnavailable

from lrs.cli.common import load_settings, open_services


@click.group()
def projections() -> None:
    """Inspect and rebuild projections."""


@projections.command("status")
def projections_status() -> None:
    """Show each projection's applied position, the log end and the lag, per partition; events
    set aside; and what is wrong with the log, if anything (then the exit status is 1)."""
    from lrs.ops import health
    from lrs.personal_data import retention

    services = open_services(load_settings())
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


@click.group("log")
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
    services = open_services(load_settings())
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
    services = open_services(load_settings())
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
