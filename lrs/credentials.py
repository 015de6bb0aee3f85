"""Credentials for HTTP Basic authentication, stored hashed, each with its scopes.

A credential is a random key and a random 256-bit secret. Only a salted SHA-256 of the secret is
kept: for secrets of that strength a slow password hash adds nothing but latency on every request.

Scopes are xAPI's (``statements/write``, ``statements/read``, ``statements/read/mine``,
``all/read``, ``state``, ``define``, ``profile``, ``all``) plus Polku's ``admin``,
``analytics`` and ``metrics`` (``GET /metrics`` only). ``all`` grants everything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

SCOPES = frozenset(
    {
        "all",
        "all/read",
        "statements/write",
        "statements/read",
        "statements/read/mine",
        "state",
        "define",
        "profile",
        "admin",
        "analytics",
        "metrics",
    }
)

metadata = sa.MetaData()  # made and changed by the migrations (lrs/migrations), never created here

credentials = sa.Table(
    "polku_credentials",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
)


#: One random key of this installation's, shared by every worker and host through the database:
#: it signs what the server hands out and takes back (``more`` tokens).
server_key = sa.Table(
    "polku_server_key",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key_hex", sa.String(128), nullable=False),
)


@dataclass(frozen=True)
class Credential:
    key: str
    name: str
    scopes: frozenset[str]

    def allows(self, *needed: str) -> bool:
        """True when the credential holds ``all`` or any of ``needed``."""
        return "all" in self.scopes or any(scope in self.scopes for scope in needed)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + ":" + secret).encode("utf-8")).hexdigest()


class CredentialStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def signing_key(self) -> bytes:
        """The installation's signing key, made by the first process that asks."""
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(server_key.c.key_hex).where(server_key.c.id == 1)).scalar()
        if found is None:
            try:
                with self._engine.begin() as conn:
                    found = secrets.token_hex(32)
                    conn.execute(server_key.insert().values(id=1, key_hex=found))
            except IntegrityError:  # another process made it first
                with self._engine.connect() as conn:
                    found = conn.execute(sa.select(server_key.c.key_hex).where(server_key.c.id == 1)).scalar()
        return bytes.fromhex(found)

    def create(self, name: str, scopes: set[str] | frozenset[str]) -> tuple[Credential, str]:
        """Create a credential; return it with its secret, which is not stored and not shown again."""
        unknown = set(scopes) - SCOPES
        if unknown:
            raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(SCOPES))}")
        if not scopes:
            raise ValueError("a credential needs at least one scope")
        key = secrets.token_hex(10)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        with self._engine.begin() as conn:
            conn.execute(
                credentials.insert().values(
                    key=key,
                    name=name,
                    salt=salt,
                    secret_sha256=_digest(salt, secret),
                    scopes=" ".join(sorted(scopes)),
                    created=datetime.now(timezone.utc).isoformat(),
                )
            )
        return Credential(key, name, frozenset(scopes)), secret

    def verify(self, key: str, secret: str) -> Credential | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(credentials).where(credentials.c.key == key)).first()
        if row is None:
            hmac.compare_digest(_digest("x", secret), "0" * 64)  # same work whether or not the key exists
            return None
        if not hmac.compare_digest(_digest(row.salt, secret), row.secret_sha256):
            return None
        return Credential(row.key, row.name, frozenset(row.scopes.split()))

    def get(self, key: str) -> Credential | None:
        """The credential with ``key`` as it is now (None once deleted); no secret checked."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(credentials).where(credentials.c.key == key)).first()
        return Credential(row.key, row.name, frozenset(row.scopes.split())) if row is not None else None

    def list(self) -> list[Credential]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(credentials).order_by(credentials.c.created)).all()
        return [Credential(r.key, r.name, frozenset(r.scopes.split())) for r in rows]

    def delete(self, key: str) -> bool:
        with self._engine.begin() as conn:
            return conn.execute(credentials.delete().where(credentials.c.key == key)).rowcount == 1
