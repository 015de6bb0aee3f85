"""A person's data from the command line: ``polku export``, ``polku erase``, ``polku erasures``, and
``polku keys new-master-key``."""

from __future__ import annotations

import json

import click

from lrs.cli.common import load_settings, open_services


@click.command("export")
@click.option("--agent", "agent", required=True, help='The person: an Agent as JSON, e.g. \'{"mbox": "mailto:aino@example.org"}\'.')
@click.option("--zip", "zip_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write a ZIP (export.json and attachments/<sha2>) to this file instead of JSON to stdout.")
def export_command(agent: str, zip_path: str | None) -> None:
    """Everything Polku holds about one person, as GET /api/v1/agents/export returns it."""
    import os

    from lrs.personal_data import export
    from lrs.errors import BadRequest, XAPIError

    services = open_services(load_settings())
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


@click.command("erase")
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

    settings = load_settings()
    try:
        parsed, _ = agent_parameter(agent, settings.default_version)
    except AgentProblem as exc:
        raise click.UsageError(f"--{exc}") from None
    services = open_services(settings)
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


@click.command("erasures")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def erasures_command(limit: int) -> None:
    """The erasure record, newest first (the person only as a keyed hash)."""
    from lrs.personal_data import erasure

    services = open_services(load_settings())
    try:
        rows = erasure.history(services, limit)
    finally:
        services.close()
    if not rows:
        click.echo("no erasures")
    for row in rows:
        click.echo(json.dumps(row))


@click.group("keys")
def keys_group() -> None:
    """The master key that wraps every person's data key."""


@keys_group.command("new-master-key")
def new_master_key_command() -> None:
    """Print a new random master key (32 bytes, base64) for POLKU_MASTER_KEY."""
    from events.keyring import new_master_key

    click.echo(new_master_key())
