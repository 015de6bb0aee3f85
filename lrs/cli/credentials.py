"""``polku credentials``: create, list, revoke and rotate the HTTP Basic credentials."""

from __future__ import annotations


import click

from lrs.cli.common import load_settings, open_services


@click.group()
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
    services = open_services(load_settings())
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
    services = open_services(load_settings())
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

    services = open_services(load_settings())
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

    services = open_services(load_settings())
    try:
        credential, secret = services.credentials.rotate(key)
    except CredentialError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()
    click.echo(f"key:    {credential.key}")
    click.echo(f"secret: {secret}")
    click.echo("the old secret no longer works")
