"""Credentials for HTTP Basic authentication, stored hashed, each with its scopes.

A credential is a random key and a random 256-bit secret. Only a salted SHA-256 of the secret is
kept: for secrets of that strength a slow password hash adds nothing but latency on every request.

Life cycle: a credential has a unique name (among those not revoked), may expire, is revoked
(kept, marked, never valid again) or rotated (a new secret under the same key; the old secret
stops working at once). Every check reads the database -- nothing is cached -- so a revoke or a
rotation holds in every worker process from the next request on. The last use is recorded at most
once per :data:`LAST_USED_EVERY_S` per credential (and process), never a write per request, and
in the background: a request never waits for it.

Scopes are xAPI's (``statements/write``, ``statements/read``, ``statements/read/mine``,
``all/read``, ``state``, ``define``, ``profile``, ``all``) plus Polku's ``admin``,
``analytics`` and ``metrics`` (``GET /metrics`` only). ``all`` grants everything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from events import utc_iso
from schemas.timestamps import instant, parse_query_timestamp

log = logging.getLogger(__name__)

#: The last use of a credential is written at most this often (per credential and process).
LAST_USED_EVERY_S = 60.0

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
        "erase",
        "keys",
    }
)

#: Scopes ``all`` does not grant: erasing people for good (``erase``) and reading their data keys
#: (``keys``, for consumers of the log) are given to a credential by name or not at all.
SEPARATE_SCOPES = frozenset({"erase", "keys"})

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

credentials = sa.Table(
    "polku_credentials",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("expires", sa.String(40), nullable=True),
    sa.Column("last_used", sa.String(40), nullable=True),
    sa.Column("revoked", sa.String(40), nullable=True),
    # a name names one credential in use; a revoked one gives its name free
    sa.Index(
        "ix_polku_credentials_name_live", "name", unique=True,
        sqlite_where=sa.text("revoked IS NULL"), postgresql_where=sa.text("revoked IS NULL"),
    ),
)


#: One random key of this installation's, shared by every worker and host through the database:
#: it signs what the server hands out and takes back (``more`` tokens).
server_key = sa.Table(
    "polku_server_key",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key_hex", sa.String(128), nullable=False),
)


class CredentialError(ValueError):
    """A credential request Polku cannot carry out; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NameTaken(CredentialError):
    """Another credential in use has this name."""


class UnknownCredential(CredentialError):
    """No credential has this key."""


class CredentialRevoked(CredentialError):
    """The credential is revoked: it cannot be rotated."""


@dataclass(frozen=True)
class Credential:
    key: str
    name: str
    scopes: frozenset[str]
    created: str = ""
    expires: str | None = None
    last_used: str | None = None
    revoked: str | None = None
    #: Changes when the secret is rotated (a digest of the salt, not of the secret): what a session
    #: begun with the old secret holds no longer matches.
    generation: str = ""

    def allows(self, *needed: str) -> bool:
        """True when the credential holds any of ``needed``, or ``all`` when one of ``needed`` is
        not a :data:`SEPARATE_SCOPES` scope."""
        if any(scope in self.scopes for scope in needed):
            return True
        return "all" in self.scopes and any(scope not in SEPARATE_SCOPES for scope in needed)

    def valid_at(self, now: str) -> bool:
        """Not revoked and not expired at ``now`` (a :func:`utc_iso` time)."""
        return self.revoked is None and (self.expires is None or now < self.expires)

    def public(self) -> dict:
        """What may be shown of it: everything but the secret and its hash."""
        return {
            "key": self.key, "name": self.name, "scopes": sorted(self.scopes), "created": self.created,
            "expires": self.expires, "last_used": self.last_used, "revoked": self.revoked,
        }


#: What a key can look like (made by :meth:`CredentialStore.create`: 20 hex digits); anything else
#: is no credential, found without asking the database.
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DURATION = re.compile(r"^(\d{1,6})\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str, now: datetime | None = None) -> str:
    """When a credential given ``--expires TEXT`` expires, as a :func:`utc_iso` time.

    ``TEXT`` is a duration from now (``90d``, ``12h``, ``30m``, ``2w``, ``45s``), a date
    (``2027-01-31``: the credential works until that day begins, UTC) or a timestamp
    (``2027-01-31T17:00:00+02:00``; without a time zone, UTC). A moment already past is refused."""
    now = now or datetime.now(timezone.utc)
    value = (text or "").strip()
    found = _DURATION.match(value)
    if found:
        moment = now + timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    else:  # a date, or a timestamp (without a time zone: UTC), read as query parameters are
        moment = parse_query_timestamp(value)
        if moment is None:
            raise CredentialError(
                "expires", f"{value!r} is neither a duration (90d, 12h, 30m, 2w), a date (YYYY-MM-DD) nor a timestamp"
            )
    if moment <= now:
        raise CredentialError("expires", f"{value!r} is in the past")
    return utc_iso(moment)


def new_secret() -> str:
    """256 random bits, URL-safe base64, never beginning with ``-``: a secret is pasted into
    command lines (``curl -u``, test runners' ``-p``), which take a leading ``-`` for an option."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + ":" + secret).encode("utf-8")).hexdigest()


def _credential(row) -> Credential:
    return Credential(
        row.key, row.name, frozenset(row.scopes.split()), row.created, row.expires, row.last_used, row.revoked,
        hashlib.sha256(row.salt.encode("utf-8")).hexdigest()[:16],
    )


def check_scopes(scopes: set[str] | frozenset[str]) -> None:
    unknown = set(scopes) - SCOPES
    if unknown:
        raise CredentialError("scopes", f"unknown scope(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(SCOPES))}")
    if not scopes:
        raise CredentialError("scopes", "a credential needs at least one scope")


def check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise CredentialError("name", "must be 1 to 200 characters")


class CredentialStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        #: key -> monotonic time this process last wrote the key's ``last_used``
        self._noted: dict[str, float] = {}
        self._noted_lock = threading.Lock()

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

    def create(
        self, name: str, scopes: set[str] | frozenset[str], expires: str | None = None
    ) -> tuple[Credential, str]:
        """Create a credential; return it with its secret, which is not stored and not shown again.

        ``expires``: a :func:`utc_iso` time (see :func:`parse_expiry`) or None for never.
        :class:`NameTaken` when a credential in use has ``name`` already."""
        check_name(name)
        check_scopes(scopes)
        key = secrets.token_hex(10)
        secret = new_secret()
        salt = secrets.token_hex(16)
        created = utc_iso()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    credentials.insert().values(
                        key=key,
                        name=name,
                        salt=salt,
                        secret_sha256=_digest(salt, secret),
                        scopes=" ".join(sorted(scopes)),
                        created=created,
                        expires=expires,
                    )
                )
        except IntegrityError:  # the unique index on live names: two creates at once, or a repeat
            raise NameTaken("name", f"a credential named {name!r} exists already; names are unique") from None
        return Credential(key, name, frozenset(scopes), created, expires), secret

    def verify(self, key: str, secret: str) -> Credential | None:
        """The credential if ``secret`` is its secret and it is neither revoked nor expired."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(credentials).where(credentials.c.key == key)).first()
        if row is None:
            hmac.compare_digest(_digest("x", secret), "0" * 64)  # same work whether or not the key exists
            return None
        if not hmac.compare_digest(_digest(row.salt, secret), row.secret_sha256):
            return None
        credential = _credential(row)
        now = utc_iso()
        if not credential.valid_at(now):
            return None
        self._note_use(credential, now)
        return credential

    def _note_use(self, credential: Credential, now: str) -> None:
        """Record the use, unless it was recorded less than :data:`LAST_USED_EVERY_S` ago (by
        any process, as stored, or by this one): at most one write a minute per credential."""
        moment = time.monotonic()
        with self._noted_lock:
            noted = self._noted.get(credential.key)
            if noted is not None and moment - noted < LAST_USED_EVERY_S:
                return
            self._noted[credential.key] = moment
        if credential.last_used and _seconds_between(credential.last_used, now) < LAST_USED_EVERY_S:
            return
        # in the background: the request never waits for it (a SQLite database busy with a
        # rebuild would hold it up to the busy timeout)
        threading.Thread(target=self._write_last_use, args=(credential.key, now), name="polku-last-used", daemon=True).start()

    def _write_last_use(self, key: str, now: str) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(credentials.update().where(credentials.c.key == key).values(last_used=now))
        except SQLAlchemyError as exc:  # best effort: the next use a minute later tries again
            log.info("could not record the last use of credential %s: %s", key, type(getattr(exc, "orig", exc)).__name__)
            with self._noted_lock:
                self._noted.pop(key, None)

    def get(self, key: str) -> Credential | None:
        """The credential with ``key`` as it is now (None once deleted; revoked and expired ones
        too, marked so: see :meth:`Credential.valid_at`); no secret checked."""
        if not _KEY_SHAPE.match(key):
            return None
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(credentials).where(credentials.c.key == key)).first()
        return _credential(row) if row is not None else None

    def list(self) -> list[Credential]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(credentials).order_by(credentials.c.created, credentials.c.key)).all()
        return [_credential(r) for r in rows]

    def revoke(self, key: str) -> Credential:
        """Revoke a credential for good (kept, listed as revoked, never valid again); revoking a
        revoked one changes nothing. :class:`UnknownCredential` if there is none."""
        if not _KEY_SHAPE.match(key):
            raise UnknownCredential("key", f"no credential {key[:64]!r}")
        with self._engine.begin() as conn:
            conn.execute(
                credentials.update().where(credentials.c.key == key, credentials.c.revoked.is_(None)).values(revoked=utc_iso())
            )
            row = conn.execute(sa.select(credentials).where(credentials.c.key == key)).first()
        if row is None:
            raise UnknownCredential("key", f"no credential {key!r}")
        return _credential(row)

    def rotate(self, key: str) -> tuple[Credential, str]:
        """Give a credential a new secret, returned once; the old secret stops working at once."""
        if not _KEY_SHAPE.match(key):
            raise UnknownCredential("key", f"no credential {key[:64]!r}")
        secret = new_secret()
        salt = secrets.token_hex(16)
        with self._engine.begin() as conn:
            changed = conn.execute(
                credentials.update()
                .where(credentials.c.key == key, credentials.c.revoked.is_(None))
                .values(salt=salt, secret_sha256=_digest(salt, secret))
            ).rowcount
            row = conn.execute(sa.select(credentials).where(credentials.c.key == key)).first()
        if row is None:
            raise UnknownCredential("key", f"no credential {key!r}")
        if not changed:
            raise CredentialRevoked("key", f"credential {key!r} is revoked; create a new one instead")
        return _credential(row), secret

    def delete(self, key: str) -> bool:
        """Remove a credential altogether (for the demo loader's own, short-lived credential)."""
        with self._engine.begin() as conn:
            return conn.execute(credentials.delete().where(credentials.c.key == key)).rowcount == 1


def _seconds_between(earlier: str, later: str) -> float:
    try:
        return (instant(later) - instant(earlier)).total_seconds()
    except ValueError:
        return float("inf")


def authority_agent(credential: Credential, home_page: str) -> dict:
    """The statement ``authority`` for a credential: an Agent identified by its key."""
    return {"objectType": "Agent", "name": credential.name, "account": {"homePage": home_page, "name": credential.key}}
