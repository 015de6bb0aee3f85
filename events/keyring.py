"""The keyring: one data key per person, kept in the database, wrapped by the master key.

Crypto-shredding (docs/design.md, invariant 11): the personal parts of an event are sealed with the data
key of the person they identify (events/sealing.py); the keys never go to the log. Erasing a
person retires their keys (from then on nothing new is sealed with them, and a projection opens
with them only the erasure event itself) and, once every projection has applied the erasure,
deletes them: every copy of their events, on every replica and in every backup of the log, is
then unreadable.

- A key row: ``kid`` (random, named by each sealed part), ``person`` (a keyed hash of the person's
  identity, :meth:`Keyring.ref`, never the identifier itself), the key wrapped with AES-GCM under
  the master key (the person's ref as associated data, so a row cannot be moved to another
  person), when it was made and when it was retired.
- At most one key per person is current (not retired): a partial unique index decides when two
  writers make one at once.
- Lookups are one query per batch (:meth:`current_keys` for a group of writes, :meth:`keys` for
  a batch of records); unwrapped keys are cached by kid, so a busy person costs an index lookup,
  never an unwrap. Whether a key is retired is always read from the database, never cached: a
  retirement holds from the next batch in every process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from events.envelope import utc_iso
from events.log import LogUnavailable

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

data_keys = sa.Table(
    "polku_data_keys",
    metadata,
    sa.Column("kid", sa.String(32), primary_key=True),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("wrapped", sa.String(120), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("retired", sa.String(40), nullable=True),
    sa.Index("ix_polku_data_keys_person", "person"),
    sa.Index(
        "ix_polku_data_keys_current", "person", unique=True,
        sqlite_where=sa.text("retired IS NULL"), postgresql_where=sa.text("retired IS NULL"),
    ),
)

#: Every person an erasure reached (by keyed hash), from the moment their keys were retired: events
#: written before sealing existed name people in clear, and opening treats these people's parts of
#: them as unreadable too (events/sealing.py), so a rebuild honours the erasure on them as well.
erased_people = sa.Table(
    "polku_erased_people",
    metadata,
    sa.Column("person", sa.String(64), primary_key=True),
    sa.Column("since", sa.String(40), nullable=False),
)

#: The most people one key query names.
LOOKUP_CHUNK = 500

#: Unwrapped keys kept per process (32 bytes each, plus the ref).
CACHE_SIZE = 100_000


#: How long after an erasure retired a person's keys no new key is made for them (unless the keys
#: are shredded sooner): a write that would seal with a new key while the erasure is carried out
#: is refused (503, retry), so nothing sealed before the erasure event escapes it.
ERASING_S = 60.0


class BeingErased(LogUnavailable):
    """A person of this write is being erased right now: retry in a minute."""


class MasterKeyError(ValueError):
    """The master key is missing or not 32 bytes of base64."""


def parse_master_key(text: str) -> bytes:
    """A master key as configured: 32 bytes in base64 (standard or URL-safe alphabet)."""
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned.replace("+", "-").replace("/", "_") + "=" * (-len(cleaned) % 4))
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise MasterKeyError("the master key must be 32 random bytes in base64 (make one with `polku keys new-master-key`)")
    return raw


def new_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class DataKey:
    kid: str
    ref: str
    key: bytes
    retired: bool = False


class Keyring:
    def __init__(self, engine: sa.Engine, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise MasterKeyError("the master key must be 32 bytes")
        self._engine = engine
        self._wrap = AESGCM(_derive(master_key, b"polku data key wrapping"))
        self._hash_key = _derive(master_key, b"polku person reference")
        self._cache: dict[str, tuple[str, bytes]] = {}  # kid -> (ref, key)
        self._lock = threading.Lock()

    # ---- identities ---------------------------------------------------------------------
    def ref(self, person: str) -> str:
        """The keyed hash of a person key (schemas.agents.person_key): what the key table, the
        log's event keys and the erasure record hold instead of the identifier. Without the master
        key it cannot be turned back into the identifier, nor made from one."""
        return hmac.new(self._hash_key, person.encode("utf-8"), hashlib.sha256).hexdigest()

    def check(self) -> None:
        """:class:`MasterKeyError` when the master key is not the one this database's keys were
        wrapped with (a wrong POLKU_MASTER_KEY would otherwise make every sealed part unreadable,
        or two hosts make two keys for one person)."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(sa.select(data_keys.c.kid, data_keys.c.person, data_keys.c.wrapped).limit(1)).first()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the key store is unavailable") from exc
        if row is None:  # a new installation: a key of its own, so that another master key is noticed later
            self.current_keys(["polku:master-key-check"], erasing=True)
            return
        try:
            self._unwrapped(row.kid, row.person, row.wrapped)
        except InvalidTag:
            raise MasterKeyError("the master key is not the one this database's data keys were wrapped with") from None

    # ---- sealing side -------------------------------------------------------------------
    def current_keys(self, persons: Iterable[str], *, erasing: bool = False) -> dict[str, DataKey]:
        """The current key of each person (made now for those who have none), in one query
        (and one insert when some are new). :class:`BeingErased` when one of them has keys an
        erasure retired less than :data:`ERASING_S` ago and not yet deleted (``erasing``: the
        erasure itself asks)."""
        refs = {self.ref(p): p for p in set(persons)}
        if not refs:
            return {}
        for _attempt in range(5):
            try:
                found = self._current(refs)
                missing = [ref for ref in refs if ref not in found]
                if missing and not erasing:
                    self._refuse_while_erasing(missing)
                if missing:
                    self._make(missing)
                    found.update(self._current({r: refs[r] for r in missing}))
                return {refs[ref]: key for ref, key in found.items()}
            except IntegrityError:
                continue  # another writer made one of these keys at the same moment: read it
            except BeingErased:
                raise
            except (OperationalError, DBAPIError) as exc:
                raise LogUnavailable("the key store is unavailable") from exc
        raise LogUnavailable("the key store is too contended; retry")

    def _current(self, refs: dict[str, str]) -> dict[str, DataKey]:
        rows = []
        ordered = sorted(refs)
        with self._engine.connect() as conn:
            for start in range(0, len(ordered), LOOKUP_CHUNK):  # bounded IN lists on every database
                query = sa.select(data_keys.c.kid, data_keys.c.person, data_keys.c.wrapped).where(
                    data_keys.c.person.in_(ordered[start:start + LOOKUP_CHUNK]), data_keys.c.retired.is_(None)
                )
                rows += conn.execute(query).all()
        return {row.person: DataKey(row.kid, row.person, self._unwrapped(row.kid, row.person, row.wrapped)) for row in rows}

    def _refuse_while_erasing(self, refs: list[str]) -> None:
        since = utc_iso(datetime.now(timezone.utc) - timedelta(seconds=ERASING_S))
        ordered = sorted(refs)
        with self._engine.connect() as conn:
            for start in range(0, len(ordered), LOOKUP_CHUNK):
                query = sa.select(data_keys.c.person).where(
                    data_keys.c.person.in_(ordered[start:start + LOOKUP_CHUNK]), data_keys.c.retired > since
                ).limit(1)
                if conn.execute(query).first() is not None:
                    raise BeingErased("a person this write names is being erased; retry in a minute")

    def _make(self, refs: list[str]) -> None:
        created = utc_iso()
        rows = []
        for ref in refs:
            kid = secrets.token_hex(16)
            nonce = os.urandom(12)
            wrapped = nonce + self._wrap.encrypt(nonce, AESGCM.generate_key(bit_length=256), ref.encode("ascii"))
            rows.append({"kid": kid, "person": ref, "wrapped": base64.b64encode(wrapped).decode("ascii"), "created": created})
        with self._engine.begin() as conn:
            conn.execute(data_keys.insert(), rows)

    # ---- opening side -------------------------------------------------------------------
    def keys(self, kids: Iterable[str]) -> dict[str, DataKey]:
        """The keys still held among ``kids`` (one query), retired ones marked; a kid missing from
        the answer was deleted: what it sealed is unreadable."""
        wanted = sorted(set(kids))
        if not wanted:
            return {}
        rows = []
        try:
            with self._engine.connect() as conn:
                for start in range(0, len(wanted), LOOKUP_CHUNK):
                    query = sa.select(data_keys.c.kid, data_keys.c.person, data_keys.c.wrapped, data_keys.c.retired).where(
                        data_keys.c.kid.in_(wanted[start:start + LOOKUP_CHUNK])
                    )
                    rows += conn.execute(query).all()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the key store is unavailable") from exc
        return {
            row.kid: DataKey(row.kid, row.person, self._unwrapped(row.kid, row.person, row.wrapped), retired=row.retired is not None)
            for row in rows
        }

    def erased_among(self, refs: Iterable[str]) -> set[str]:
        """Which of ``refs`` an erasure reached (one query)."""
        wanted = sorted(set(refs))
        if not wanted:
            return set()
        try:
            with self._engine.connect() as conn:
                return set(conn.scalars(sa.select(erased_people.c.person).where(erased_people.c.person.in_(wanted))))
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the key store is unavailable") from exc

    def _unwrapped(self, kid: str, ref: str, wrapped: str) -> bytes:
        with self._lock:
            hit = self._cache.get(kid)
        if hit is not None:
            return hit[1]
        raw = base64.b64decode(wrapped)
        key = self._wrap.decrypt(raw[:12], raw[12:], ref.encode("ascii"))
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[kid] = (ref, key)
        return key

    # ---- erasure ------------------------------------------------------------------------
    def retire(self, conn: sa.Connection, ref: str) -> list[str]:
        """Retire every key of the person ``ref`` (in ``conn``'s transaction); return their kids."""
        kids = [row.kid for row in conn.execute(sa.select(data_keys.c.kid).where(data_keys.c.person == ref).order_by(data_keys.c.kid))]
        if conn.execute(sa.select(erased_people.c.person).where(erased_people.c.person == ref)).first() is None:
            conn.execute(erased_people.insert().values(person=ref, since=utc_iso()))
        if kids:
            conn.execute(data_keys.update().where(data_keys.c.kid.in_(kids), data_keys.c.retired.is_(None)).values(retired=utc_iso()))
        return kids

    def shred(self, conn: sa.Connection, kids: list[str]) -> int:
        """Delete keys for good (in ``conn``'s transaction): what they sealed is unreadable."""
        if not kids:
            return 0
        deleted = conn.execute(data_keys.delete().where(data_keys.c.kid.in_(kids))).rowcount
        with self._lock:
            for kid in kids:
                self._cache.pop(kid, None)
        return deleted

    def forget(self, kids: Iterable[str]) -> None:
        """Drop keys from this process's cache (another process shredded them)."""
        with self._lock:
            for kid in kids:
                self._cache.pop(kid, None)


def _derive(master_key: bytes, purpose: bytes) -> bytes:
    """A key for one purpose from the master key (HMAC-SHA256 as a PRF, as HKDF-Expand's first block)."""
    return hmac.new(master_key, purpose + b"\x01", hashlib.sha256).digest()
