"""Claims: the write side's guard for keys that must never mean two different things.

Before an event is appended, the writer claims its key with a fingerprint of its content. The
first claim of a key wins; a later claim with the same fingerprint is ``SAME`` (appending again
is harmless, projections apply one key once), a later one with another fingerprint is
``DIFFERENT`` and must be refused. The unique constraint decides, so two writers on two hosts
claiming the same key at the same moment cannot both win. A batch is claimed in one
transaction: all of it, or nothing.

The registry is not a read model: it holds no content, only fingerprints, and can be refilled
from the log. It keeps one row per key ever claimed: a statement id stays spent for good.

Writes in flight are kept apart, in ``polku_in_flight``: a key is there from the moment its write
is claimed until a projection has applied it (or, for a write that failed or whose process died,
until a later claim sweeps the mark once it is older than the registry's ``stale_after_s``). That
table holds only the writes of the last moments, so the consistency watermark's question (the
oldest write still in flight) reads a handful of rows through an index that answers it exactly,
whatever the statistics say and however many statements were ever written (issue 19: the mark
kept as a column of the claims read one row per statement ever POSTed on a store without
statistics).
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from events.envelope import utc_iso
from events.log import LogUnavailable
from schemas.timestamps import instant

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

claims = sa.Table(
    "polku_claims",
    metadata,
    sa.Column("namespace", sa.String(50), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(128), nullable=False),
)

in_flight = sa.Table(
    "polku_in_flight",
    metadata,
    sa.Column("namespace", sa.String(50), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    # when the latest write of this key began; the row goes when a projection has applied it
    sa.Column("since", sa.String(40), nullable=False),
    sa.Index("polku_in_flight_since", "namespace", "since"),
)

#: The namespace of statement ids.
STATEMENT_IDS = "statement-id"


class Claim(enum.Enum):
    NEW = "new"
    SAME = "same"
    DIFFERENT = "different"


class ClaimRegistry:
    def __init__(self, engine: sa.Engine, stale_after_s: float = 600.0) -> None:
        """``stale_after_s``: a mark older than this was left by a write that failed or whose
        process died; a claim sweeps it (the watermark already ignores marks that old)."""
        self._engine = engine
        self._stale_after = timedelta(seconds=stale_after_s)

    def claim(self, namespace: str, fingerprints: Mapping[str, str], in_flight_since: str | None = None) -> dict[str, Claim]:
        """Claim every key of ``fingerprints`` at once.

        If any key is already held with another fingerprint, nothing is claimed and the result
        names it DIFFERENT; otherwise the new keys are held and each key is NEW or SAME. With
        ``in_flight_since``, every key is marked as written from that moment on, in the same
        transaction, until :func:`landed` clears it; marks older than the registry's
        ``stale_after_s`` before that moment are swept in that transaction too.
        """
        return self.claim_each(namespace, [fingerprints], in_flight_since)[0]

    def claim_each(
        self, namespace: str, groups: list[Mapping[str, str]], in_flight_since: str | None = None
    ) -> list[dict[str, Claim]]:
        """:meth:`claim` for several writers' groups of keys (no key in two groups) in one
        transaction: each group is all or nothing on its own, as if claimed alone."""
        for _attempt in range(5):
            try:
                with self._engine.begin() as conn:
                    results = self._claim_each(conn, namespace, groups, in_flight_since)
                    if in_flight_since is not None:
                        self._sweep(conn, namespace, utc_iso(instant(in_flight_since) - self._stale_after))
                    return results
            except IntegrityError:
                continue  # another writer claimed one of the keys between our look and our insert
            except (OperationalError, DBAPIError) as exc:
                raise LogUnavailable("the claim registry is unavailable") from exc
        raise LogUnavailable("the claim registry is too contended; retry")

    @staticmethod
    def _claim_each(
        conn: sa.Connection, namespace: str, groups: list[Mapping[str, str]], in_flight_since: str | None
    ) -> list[dict[str, Claim]]:
        keys = sorted({key for group in groups for key in group})
        held = {
            row.key: row.fingerprint
            for row in conn.execute(
                sa.select(claims.c.key, claims.c.fingerprint).where(claims.c.namespace == namespace).where(claims.c.key.in_(keys))
            )
        }
        results, new, retried = [], [], []
        for group in groups:
            result = {
                key: Claim.NEW if key not in held else Claim.SAME if held[key] == fingerprint else Claim.DIFFERENT
                for key, fingerprint in group.items()
            }
            results.append(result)
            if any(c is Claim.DIFFERENT for c in result.values()):
                continue  # this group claims nothing
            new += [{"namespace": namespace, "key": k, "fingerprint": group[k]} for k, c in result.items() if c is Claim.NEW]
            retried += [k for k, c in result.items() if c is Claim.SAME]  # written again: in flight again
        if new:
            conn.execute(claims.insert(), new)
        if in_flight_since is not None and (new or retried):
            if retried:  # only a key claimed before can hold a mark: a new one has none to replace
                retried.sort()
                conn.execute(in_flight.delete().where(in_flight.c.namespace == namespace).where(in_flight.c.key.in_(retried)))
            conn.execute(in_flight.insert(), [{"namespace": namespace, "key": row["key"], "since": in_flight_since} for row in new]
                         + [{"namespace": namespace, "key": k, "since": in_flight_since} for k in retried])
        return results

    @staticmethod
    def _sweep(conn: sa.Connection, namespace: str, older_than: str) -> None:
        conn.execute(in_flight.delete().where(in_flight.c.namespace == namespace).where(in_flight.c.since < older_than))

    def release(self, namespace: str, keys: list[str]) -> None:
        """Give back keys claimed NEW whose append then failed, so a retry is not refused."""
        with self._engine.begin() as conn:
            conn.execute(in_flight.delete().where(in_flight.c.namespace == namespace).where(in_flight.c.key.in_(keys)))
            conn.execute(claims.delete().where(claims.c.namespace == namespace).where(claims.c.key.in_(keys)))

    def oldest_in_flight(self, namespace: str, newer_than: str) -> str | None:
        """The start of the oldest write of ``namespace`` still in flight, ignoring marks older
        than ``newer_than`` (left by writes that failed or whose process died)."""
        query = sa.select(sa.func.min(in_flight.c.since)).where(in_flight.c.namespace == namespace).where(in_flight.c.since > newer_than)
        try:
            with self._engine.connect() as conn:
                return conn.execute(query).scalar()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the claim registry is unavailable") from exc

    def in_flight_count(self, namespace: str) -> int:
        """How many writes of ``namespace`` are marked in flight (stale marks included, until swept)."""
        try:
            with self._engine.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).select_from(in_flight).where(in_flight.c.namespace == namespace)).scalar_one()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the claim registry is unavailable") from exc


def landed(conn: sa.Connection, namespace: str, key: str) -> None:
    """A projection applied the write of ``key`` (in its own transaction): no longer in flight."""
    landed_all(conn, namespace, [key])


def landed_all(conn: sa.Connection, namespace: str, keys: list[str]) -> None:
    """:func:`landed` for many keys, in one statement."""
    if keys:
        conn.execute(in_flight.delete().where(in_flight.c.namespace == namespace).where(in_flight.c.key.in_(sorted(set(keys)))))


#: The fingerprint an erased statement's id keeps: the id stays spent (a statement sent again
#: under it is refused as different content), and nothing of the content stays.
ERASED = "erased"


def erased(conn: sa.Connection, namespace: str, keys: list[str]) -> None:
    """The statements of ``keys`` were erased: their claims keep the id, not the content's hash."""
    if keys:
        keys = sorted(set(keys))
        conn.execute(claims.update().where(claims.c.namespace == namespace).where(claims.c.key.in_(keys)).values(fingerprint=ERASED))
        conn.execute(in_flight.delete().where(in_flight.c.namespace == namespace).where(in_flight.c.key.in_(keys)))
