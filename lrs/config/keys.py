"""The master key: where Polku finds the key that wraps every person's data key (events/keyring.py).

In this order:
1. ``POLKU_MASTER_KEY``: 32 bytes in base64 (a secret store or the environment of every host);
2. ``POLKU_MASTER_KEY_FILE``: a file holding it, made (mode 0600) on first start when missing;
3. neither, with SQLite: ``polku.master-key`` beside the database file, made on first start (one
   machine: ``make run`` needs nothing); an in-memory database gets a key for its lifetime;
4. neither, with PostgreSQL: refused -- every host must wrap and unwrap with the same key, so it
   must be given, not made by whichever host starts first.

The master key is never written to the database or the log. Losing it loses every sealed part of
the log: back it up apart from the database (docs/personal-data.md).
"""

from __future__ import annotations

import os
import secrets

from events.keyring import MasterKeyError, new_master_key, parse_master_key
from lrs.config.settings import Settings, SettingsError

FILE_NAME = "polku.master-key"


def master_key(settings: Settings) -> bytes:
    """The master key the settings name, made where it may be made; :class:`SettingsError` else."""
    try:
        if settings.master_key:
            return parse_master_key(settings.master_key)
        path = settings.master_key_file or _beside_sqlite(settings.sqlalchemy_url)
        if path is None:
            if settings.sqlalchemy_url.startswith("sqlite"):
                return secrets.token_bytes(32)  # an in-memory database lives no longer than this key
            raise SettingsError(
                "POLKU_MASTER_KEY (or POLKU_MASTER_KEY_FILE) must be set with PostgreSQL: every host needs "
                "the same key (make one with `polku keys new-master-key`)"
            )
        return _from_file(path)
    except MasterKeyError as exc:
        raise SettingsError(f"POLKU_MASTER_KEY: {exc}") from None


def _beside_sqlite(url: str) -> str | None:
    if not url.startswith("sqlite:///") or ":memory:" in url or "mode=memory" in url:
        return None
    folder = os.path.dirname(url[len("sqlite:///"):].split("?")[0])
    return os.path.join(folder or ".", FILE_NAME)


def _from_file(path: str) -> bytes:
    try:
        with open(path, encoding="ascii") as handle:
            return parse_master_key(handle.read())
    except FileNotFoundError:
        pass
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    text = new_master_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        with open(path, encoding="ascii") as handle:
            return parse_master_key(handle.read())
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    return parse_master_key(text)
