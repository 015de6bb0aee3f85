"""``polku db``: apply the schema migrations, show the revision, check the hot reads' plans."""

from __future__ import annotations

import sys

import click

from lrs.cli.common import load_settings, schema_check


@click.group()
def db() -> None:
    """The database schema: apply migrations, show the revision, check the hot reads' plans."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (safe while other processes start or run)."""
    from lrs.storage import schema
    from lrs.services import open_engine

    engine = open_engine(load_settings())
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

    engine = open_engine(load_settings())
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

    engine = open_engine(load_settings())
    try:
        schema_check(engine)
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
