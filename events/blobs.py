"""A content-addressed blob store beside the log: bytes kept under their SHA-2 hex digest.

Why it exists: an event should stay small (a Kafka message has a size limit, and every consumer
reads every event), but some facts come with bulky content -- an xAPI statement's attachments. The
writer puts the content here first and then appends an event that carries only the digest; a
reader fetches the bytes by digest. Keys are digests of the content itself, so storing the same
bytes twice is a no-op, two writers can never disagree about a key, and content whose event was
never appended (the append failed) is harmless: nothing refers to it.

A key is the lower-case hex SHA-2 digest of the content; its length says which SHA-2 function
(56 hex digits: SHA-224, 64: SHA-256, 96: SHA-384, 128: SHA-512). :meth:`BlobStore.put` checks that
every key really is the digest of its content, so the store never holds bytes under a false name.

Nothing here knows about xAPI.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from events.log import LogUnavailable

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

blobs = sa.Table(
    "polku_blobs",
    metadata,
    sa.Column("digest", sa.String(128), primary_key=True),
    sa.Column("length", sa.BigInteger, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
)

_ALGORITHMS = {56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}


def algorithm_for(digest: str) -> str | None:
    """The SHA-2 function whose hex digests have the length of ``digest`` (None if none has)."""
    return _ALGORITHMS.get(len(digest))


def digest_matches(digest: str, content: bytes) -> bool:
    """Whether ``digest`` (hex, any case) is the SHA-2 digest of ``content``."""
    name = algorithm_for(digest)
    return name is not None and hashlib.new(name, content).hexdigest() == digest.lower()


class BlobStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def put(self, contents: Mapping[str, bytes]) -> None:
        """Store every ``digest -> content`` pair at once (all or nothing); keys already held stay.

        Raises ``ValueError`` if a digest is not the SHA-2 digest of its content, and
        :class:`events.LogUnavailable` if the database cannot take the content now.
        """
        wanted = {digest.lower(): content for digest, content in contents.items()}
        for digest, content in wanted.items():
            if not digest_matches(digest, content):
                raise ValueError(f"{digest[:16]}... is not the SHA-2 digest of its content")
        if not wanted:
            return
        for _attempt in range(3):
            try:
                with self._engine.begin() as conn:
                    held = set(conn.scalars(sa.select(blobs.c.digest).where(blobs.c.digest.in_(list(wanted)))))
                    rows = [
                        {"digest": d, "length": len(c), "content": c} for d, c in wanted.items() if d not in held
                    ]
                    if rows:
                        conn.execute(blobs.insert(), rows)
                return
            except IntegrityError:
                continue  # another writer stored the same bytes between our look and our insert
            except (OperationalError, DBAPIError) as exc:
                raise LogUnavailable("the blob store could not keep the content") from exc
        raise LogUnavailable("the blob store is too contended; retry")

    def get(self, digests: Iterable[str]) -> dict[str, bytes]:
        """The content held for each of ``digests`` (lower-case keys); unknown digests are left out."""
        wanted = sorted({d.lower() for d in digests})
        if not wanted:
            return {}
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(sa.select(blobs.c.digest, blobs.c.content).where(blobs.c.digest.in_(wanted)))
                return {row.digest: bytes(row.content) for row in rows}
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the blob store could not be read") from exc

    def delete(self, digests: Iterable[str]) -> int:
        """Delete attachment contents (an erasure: bytes no remaining statement references)."""
        wanted = sorted(set(digests))
        if not wanted:
            return 0
        try:
            with self._engine.begin() as conn:
                return conn.execute(blobs.delete().where(blobs.c.digest.in_(wanted))).rowcount
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the attachment store is unavailable") from exc
