"""The ``polku`` command: serve, run projection workers, manage the database, credentials,
projections, cohorts and a person's data. Each command group lives in a module of its own here
(serving, database, credentials, projections, cohorts, personal_data; what they share: common);
this module puts them under ``main``, the console script ``polku``.

May import: everything (the command line is an entry point, beside the composition root); nothing
of Polku imports it."""

from __future__ import annotations

import logging

import click

from lrs.cli import cohorts, credentials, database, personal_data, projections, serving
from lrs.cli.cohorts import DEMO_DATABASE_URL


__all__ = ["DEMO_DATABASE_URL", "main"]


@click.group()
@click.version_option(package_name="polku", prog_name="polku", message="%(prog)s %(version)s")
def main() -> None:
    """Polku: an event-sourced xAPI Learning Record Store."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # Polku says what it migrated itself


for command in (
    serving.serve, serving.project, serving.probe, serving.config,
    database.db,
    credentials.credentials,
    projections.projections, projections.log_group,
    cohorts.cohorts, cohorts.demo,
    personal_data.export_command, personal_data.erase_command, personal_data.erasures_command, personal_data.keys_group,
):
    main.add_command(command)
