"""What every command shares: the settings from the environment, the services opened (waiting for the
database and the log when asked), the schema check, a URL without its password."""

from __future__ import annotations

import logging
import time

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from events import LogUnavailable
from events.log import summary
from lrs.config.settings import Settings, SettingsError


startup_log = logging.getLogger("polku.startup")

#: What a service started before its database or broker meets: worth another try.
_UNREACHABLE = (LogUnavailable, OperationalError, InterfaceError, ConnectionError)


def load_settings(**overrides) -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    return settings.with_(**{k: v for k, v in overrides.items() if v is not None})


def open_services(settings: Settings, wait: bool = False):
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


def redact(url: str) -> str:
    """A database URL without its password (in the user part or as a query parameter), for printing."""
    import re

    url = re.sub(r"(?i)\b(password|passwd|pwd|sslpassword)=[^&\s]*", r"\1=***", url)
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("polku")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "unknown"


def schema_check(engine) -> None:
    from lrs.storage import schema

    try:
        schema.check(engine)
    except schema.SchemaError as exc:
        raise click.ClickException(str(exc)) from None
